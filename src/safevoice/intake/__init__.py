"""Intake: channels, proof-of-work challenges and case submission."""
