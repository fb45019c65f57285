"""Process settings: where the database is and how this process behaves.

One frozen object, built explicitly by the command that starts a process (``from_env``) and
passed down; nothing reads the environment at import time. Instance state that every worker
must share (keys, difficulty, channels, time zone) is not here but in the database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from safevoice.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///var/safevoice.sqlite"


def _flag(value: str | None, *, name: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false.")


def _int(value: str | None, default: int, *, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number.") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    production: bool = False
    bundle_dir: Path | None = None
    blob_store: str = "fs:var/blobs"
    max_file_bytes: int = 2 * 1024**3
    max_case_bytes: int = 8 * 1024**3
    challenge_ttl_seconds: int = 3600
    session_ttl_seconds: int = 1800
    max_request_bytes: int = 2 * 1024 * 1024
    nojs_enabled: bool = False
    nojs_concurrency: int = 2
    snapshot_ttl_seconds: float = 1.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        bundle = env.get("SAFEVOICE_BUNDLE_DIR")
        return cls(
            database_url=env.get("SAFEVOICE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            production=_flag(env.get("SAFEVOICE_PRODUCTION"), name="SAFEVOICE_PRODUCTION"),
            bundle_dir=Path(bundle) if bundle else None,
            blob_store=env.get("SAFEVOICE_BLOB_STORE")
            or f"fs:{env.get('SAFEVOICE_BLOB_DIR') or 'var/blobs'}",
            max_file_bytes=_int(
                env.get("SAFEVOICE_MAX_FILE_BYTES"), 2 * 1024**3, name="SAFEVOICE_MAX_FILE_BYTES"
            ),
            max_case_bytes=_int(
                env.get("SAFEVOICE_MAX_CASE_BYTES"), 8 * 1024**3, name="SAFEVOICE_MAX_CASE_BYTES"
            ),
            challenge_ttl_seconds=_int(
                env.get("SAFEVOICE_CHALLENGE_TTL"), 3600, name="SAFEVOICE_CHALLENGE_TTL"
            ),
            session_ttl_seconds=_int(
                env.get("SAFEVOICE_SESSION_TTL"), 1800, name="SAFEVOICE_SESSION_TTL"
            ),
            max_request_bytes=_int(
                env.get("SAFEVOICE_MAX_REQUEST_BYTES"),
                2 * 1024 * 1024,
                name="SAFEVOICE_MAX_REQUEST_BYTES",
            ),
            nojs_enabled=_flag(env.get("SAFEVOICE_NOJS"), name="SAFEVOICE_NOJS"),
            nojs_concurrency=_int(
                env.get("SAFEVOICE_NOJS_CONCURRENCY"), 2, name="SAFEVOICE_NOJS_CONCURRENCY"
            ),
            log_level=(env.get("SAFEVOICE_LOG_LEVEL") or "INFO").upper(),
            snapshot_ttl_seconds=float(
                _int(env.get("SAFEVOICE_SNAPSHOT_TTL_MS"), 1000, name="SAFEVOICE_SNAPSHOT_TTL_MS")
            )
            / 1000,
        )
