"""Client side: the typed HTTP client, local state and the logic that reads cases locally."""
