"""Encrypted backups that age out, and restores that never bring purged cases back."""
