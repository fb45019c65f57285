"""Dialogue: the reporter's login with the follow-up code and the chained, signed thread."""
