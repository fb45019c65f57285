"""The hash-chained audit log and its staging area for reporter events."""
