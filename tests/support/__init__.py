"""Test support: databases, keys, a real server, a recording proxy and canary search."""
