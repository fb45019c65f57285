"""Process settings: where the database is and how this process behaves.

One frozen object, built explicitly by the command that starts a process (``from_env``) and
passed down; nothing reads the environment at import time. Instance state that every worker
must share (keys, difficulty, channels, time zone) is not here but in the database.

The database URL can carry a password, so it is kept out of the object's ``repr`` and may be
read from a file (``SAFEVOICE_DATABASE_URL_FILE``, for container secrets) instead of the
environment. Production mode (``SAFEVOICE_PRODUCTION``) makes the server check, before it
serves anything, that none of these settings is a placeholder or unsafe
(``safevoice.instance.production``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from safevoice.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///var/safevoice.sqlite"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _flag(value: str | None, *, name: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false.")


def _database_url(env: Mapping[str, str]) -> str:
    direct = env.get("SAFEVOICE_DATABASE_URL")
    path = env.get("SAFEVOICE_DATABASE_URL_FILE")
    if not path:
        return direct or DEFAULT_DATABASE_URL
    if direct:
        raise ConfigError("Set SAFEVOICE_DATABASE_URL or SAFEVOICE_DATABASE_URL_FILE, not both.")
    try:
        url = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        raise ConfigError(
            f"SAFEVOICE_DATABASE_URL_FILE names {path}, which cannot be read."
        ) from None
    if not url:
        raise ConfigError(f"The database URL file {path} is empty.")
    return url


def _log_level(value: str | None) -> str:
    level = (value or "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"SAFEVOICE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}.")
    return level


def _int(value: str | None, default: int, *, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number.") from None


@dataclass(frozen=True)
class Settings:
    # May hold the database password: never part of a repr that could reach a log.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    production: bool = False
    bundle_dir: Path | None = None
    blob_store: str = "fs:var/blobs"
    max_file_bytes: int = 2 * 1024**3
    max_case_bytes: int = 8 * 1024**3
    # Uploads not yet attached to a report or message, on the whole instance: how many may be
    # open at once, and how many bytes they may hold together. Keep the bytes below the blob
    # store's free space, so that a flood of uploads is refused before the disk fills.
    max_open_uploads: int = 200
    max_pending_upload_bytes: int = 32 * 1024**3
    challenge_ttl_seconds: int = 3600
    session_ttl_seconds: int = 1800
    max_request_bytes: int = 2 * 1024 * 1024
    nojs_enabled: bool = False
    nojs_concurrency: int = 2
    snapshot_ttl_seconds: float = 1.0
    # Accepted submissions per minute on one worker above which the submission proof of work
    # is raised for every worker (0: never raise it automatically).
    flood_per_minute: int = 120
    # How long each raise of that proof of work lasts once the flood stops (a quarter of an hour).
    flood_surge_seconds: int = 15 * 60
    log_level: str = "INFO"
    # Seconds a worker may take to answer the supervisor's health-check ping before it is
    # killed and replaced. uvicorn's own default (5 s) kills workers that are merely slow on a
    # saturated host (starting up, or busy under a flood), which turns pressure into an outage;
    # a worker that has exited is still replaced at once, whatever this says.
    worker_healthcheck_timeout: int = 120
    # How long the server waits for PostgreSQL before it answers 503 with Retry-After, so that
    # a stopped or frozen database (a hung disk, a network partition) costs each request a few
    # seconds instead of a hang: opening a connection, waiting for a free one in the pool, and
    # one statement (enforced by the database; the server also gives up on the socket half a
    # second later, for a peer too frozen to enforce anything). They bound database waits only,
    # never a request's duration: a slow upload over Tor is not cut.
    db_connect_timeout: int = 2
    db_pool_timeout: int = 2
    db_statement_timeout: int = 3
    # PostgreSQL connections each worker keeps open; it may open as many again for a burst, so
    # the server uses at most 2 * this per worker (40 with the default two workers), below
    # PostgreSQL's default max_connections of 100. SQLite keeps its own pool per worker.
    db_pool_size: int = 10
    backup_dir: Path = Path("var/backups")
    # Keep the backup keys on another volume than the backups: whoever holds both reads them.
    backup_keys_dir: Path = Path("var/backup-keys")
    backup_key_rotation_days: int = 7
    backup_max_age_days: int = 35

    def __post_init__(self) -> None:
        for name in ("db_connect_timeout", "db_pool_timeout", "db_statement_timeout"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SAFEVOICE_{name.upper()} must be at least 1 second.")
        if self.flood_surge_seconds < 1:
            raise ConfigError("SAFEVOICE_FLOOD_SURGE_SECONDS must be at least 1 second.")
        if self.db_pool_size < 1:
            raise ConfigError("SAFEVOICE_DB_POOL_SIZE must be at least 1.")
        if self.worker_healthcheck_timeout < 1:
            raise ConfigError("SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT must be at least 1 second.")
        if self.backup_key_rotation_days < 1:
            raise ConfigError("SAFEVOICE_BACKUP_KEY_ROTATION_DAYS must be at least 1.")
        if self.backup_max_age_days <= self.backup_key_rotation_days:
            raise ConfigError(
                "SAFEVOICE_BACKUP_MAX_AGE_DAYS must be longer than "
                "SAFEVOICE_BACKUP_KEY_ROTATION_DAYS, or keys would be destroyed while in use."
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        bundle = env.get("SAFEVOICE_BUNDLE_DIR")
        return cls(
            database_url=_database_url(env),
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
            max_open_uploads=_int(
                env.get("SAFEVOICE_MAX_OPEN_UPLOADS"), 200, name="SAFEVOICE_MAX_OPEN_UPLOADS"
            ),
            max_pending_upload_bytes=_int(
                env.get("SAFEVOICE_MAX_PENDING_UPLOAD_BYTES"),
                32 * 1024**3,
                name="SAFEVOICE_MAX_PENDING_UPLOAD_BYTES",
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
            log_level=_log_level(env.get("SAFEVOICE_LOG_LEVEL")),
            flood_per_minute=_int(
                env.get("SAFEVOICE_FLOOD_PER_MINUTE"), 120, name="SAFEVOICE_FLOOD_PER_MINUTE"
            ),
            flood_surge_seconds=_int(
                env.get("SAFEVOICE_FLOOD_SURGE_SECONDS"),
                15 * 60,
                name="SAFEVOICE_FLOOD_SURGE_SECONDS",
            ),
            worker_healthcheck_timeout=_int(
                env.get("SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT"),
                120,
                name="SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT",
            ),
            db_connect_timeout=_int(
                env.get("SAFEVOICE_DB_CONNECT_TIMEOUT"), 2, name="SAFEVOICE_DB_CONNECT_TIMEOUT"
            ),
            db_pool_timeout=_int(
                env.get("SAFEVOICE_DB_POOL_TIMEOUT"), 2, name="SAFEVOICE_DB_POOL_TIMEOUT"
            ),
            db_statement_timeout=_int(
                env.get("SAFEVOICE_DB_STATEMENT_TIMEOUT"),
                3,
                name="SAFEVOICE_DB_STATEMENT_TIMEOUT",
            ),
            db_pool_size=_int(env.get("SAFEVOICE_DB_POOL_SIZE"), 10, name="SAFEVOICE_DB_POOL_SIZE"),
            snapshot_ttl_seconds=float(
                _int(env.get("SAFEVOICE_SNAPSHOT_TTL_MS"), 1000, name="SAFEVOICE_SNAPSHOT_TTL_MS")
            )
            / 1000,
            backup_dir=Path(env.get("SAFEVOICE_BACKUP_DIR") or "var/backups"),
            backup_keys_dir=Path(env.get("SAFEVOICE_BACKUP_KEYS_DIR") or "var/backup-keys"),
            backup_key_rotation_days=_int(
                env.get("SAFEVOICE_BACKUP_KEY_ROTATION_DAYS"),
                7,
                name="SAFEVOICE_BACKUP_KEY_ROTATION_DAYS",
            ),
            backup_max_age_days=_int(
                env.get("SAFEVOICE_BACKUP_MAX_AGE_DAYS"), 35, name="SAFEVOICE_BACKUP_MAX_AGE_DAYS"
            ),
        )
