"""Pulse surveys: signed survey documents, their state, and anonymous encrypted answers."""
