"""Local state of the member and auditor command-line tools (and, opt-in, the reporter's).

Kept in ``$SAFEVOICE_HOME/state.json`` (default ``~/.safevoice``), readable only by its owner:
per server the pinned root fingerprint (and the roots it replaced through a cross-signed
rotation), the newest manifest seen (version and digest), the session token, the thread heads
seen per case, and what the last ``cases sync`` fetched (each case's change marker and the day
the next sync starts from). The reporter tool keeps nothing unless given
``--state DIR``, because a reporter's device should hold no trace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safevoice.crypto.manifest import Seen
from safevoice.errors import ClientError

STATE_FILE = "state.json"
MAX_PAGE_SIZE = 1000


def default_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get("SAFEVOICE_HOME")
    return Path(configured) if configured else Path.home() / ".safevoice"


def page_size(env: Mapping[str, str] | None = None) -> int | None:
    """How many cases a listing page asks for (``SAFEVOICE_PAGE_SIZE``; default: the
    server's). Smaller pages make smaller answers, on a slow link for instance."""
    env = os.environ if env is None else env
    configured = env.get("SAFEVOICE_PAGE_SIZE")
    if not configured:
        return None
    if not configured.isdigit() or not 1 <= int(configured) <= MAX_PAGE_SIZE:
        raise ClientError(f"SAFEVOICE_PAGE_SIZE must be a number from 1 to {MAX_PAGE_SIZE}.")
    return int(configured)


@dataclass
class ServerState:
    pin: str | None = None
    manifest_version: int | None = None
    manifest_digest: str | None = None
    token: str | None = None
    token_expires_at: str | None = None
    role: str | None = None
    subject: str | None = None
    key_file: str | None = None
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)
    synced_since: str | None = None
    """The day the next ``cases sync`` asks for changes from (none yet: it reads everything)."""
    marks: dict[str, list[int]] = field(default_factory=dict)
    """Each case's change marker (version, objects) when it was last fetched by a sync."""
    failing: list[str] = field(default_factory=list)
    """Cases that did not verify at the last sync: the next one fetches them again."""
    checkpoint: dict[str, Any] | None = None
    former_pins: list[str] = field(default_factory=list)
    """Roots this client trusted before and left through a manifest they cross-signed."""

    @property
    def seen(self) -> Seen | None:
        if self.manifest_version is None or self.manifest_digest is None:
            return None
        return Seen(version=self.manifest_version, digest=self.manifest_digest)

    def remember_manifest(self, *, pin: str, version: int, digest: str) -> None:
        if self.pin is not None and pin != self.pin and self.pin not in self.former_pins:
            self.former_pins.append(self.pin)
        self.pin = pin
        self.manifest_version = version
        self.manifest_digest = digest


@dataclass
class State:
    path: Path
    current: str | None = None
    servers: dict[str, ServerState] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> State:
        path = home / STATE_FILE
        if not path.exists():
            return cls(path=path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            servers = {url: ServerState(**value) for url, value in data["servers"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientError(
                f"The local state file {path} is damaged; move it away and log in again."
            ) from exc
        return cls(path=path, current=data.get("current"), servers=servers)

    def server(self, url: str) -> ServerState:
        return self.servers.setdefault(normalise(url), ServerState())

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {
            "current": self.current,
            "servers": {url: asdict(s) for url, s in self.servers.items()},
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        tmp.replace(self.path)


def normalise(url: str) -> str:
    return url.rstrip("/")
