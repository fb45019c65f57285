"""Instance-wide state: the server's own keys, difficulty, time zone and the published manifest."""
