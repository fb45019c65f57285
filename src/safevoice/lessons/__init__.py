"""Lessons learned proposed for publication, and the second member's approval they need."""
