"""Retention: per-channel policies, legal holds, the purge job and its tombstones."""
