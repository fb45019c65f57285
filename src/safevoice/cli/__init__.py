"""Command-line tools: ``safevoice`` (committee, auditors, operator) and ``safevoice-report``."""
