"""Members and auditors: challenge-response login and short-lived sessions."""
