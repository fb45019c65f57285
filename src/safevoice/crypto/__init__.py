"""Cryptography: the only package that touches PyNaCl or argon2-cffi (ruff enforces it)."""
