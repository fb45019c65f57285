"""Canary strings and every form in which they could leak: raw, base64 and hex."""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterable
from pathlib import Path


def new_canary(label: str = "CANARY") -> str:
    tail = "".join(secrets.choice(string.ascii_letters) for _ in range(24))
    return f"{label}{tail}"


def forms(canary: str | bytes) -> list[bytes]:
    """The canary raw, as hex, and in base64 (standard and URL-safe) at all three alignments."""
    raw = canary.encode("utf-8") if isinstance(canary, str) else canary
    found = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for shift in range(3):
        data = b"\x00" * shift + raw
        first = -(-8 * shift // 6)
        last = (8 * len(data)) // 6
        for encoder in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encoder(data)
            found.add(encoded[first:last])
    return sorted(found)


def occurrences(data: bytes, canary: str | bytes) -> list[bytes]:
    return [form for form in forms(canary) if form in data]


def scan_paths(paths: Iterable[Path], canary: str | bytes) -> list[str]:
    """Files under ``paths`` that contain the canary in any form (returns 'path: form')."""
    hits: list[str] = []
    for root in paths:
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            hits.extend(f"{path}: {form!r}" for form in occurrences(data, canary))
    return hits
