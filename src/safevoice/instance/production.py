"""Production mode: the start-up checks that make a server fail closed.

With ``SAFEVOICE_PRODUCTION=1`` a server refuses to start, and says why in one sentence, when
any of these holds: the database password or the S3 blob store's secret key is a placeholder,
or the database password is missing over TCP; the release bundle is missing or could be
changed by the service user; the database cannot be reached or brought to the current schema;
the database ran the demo or the manifest names demo keys; the instance is not initialised; no
manifest is published, or it has expired, or its committee root is not the one pinned in the
release bundle; there is no channel, or a channel has no retention
policy.

``safevoice serve`` runs the checks once before any worker starts, and migrates the database
there; every worker runs them again in ``create_app`` without migrating, so a worker started
any other way (``uvicorn --factory``) refuses too. The first problem found is reported; the
sentence never contains a secret.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy import select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from safevoice.crypto.keys import format_fingerprint
from safevoice.errors import ConfigError
from safevoice.instance import demo
from safevoice.instance.models import Channel
from safevoice.instance.service import snapshot
from safevoice.settings import Settings
from safevoice.storage import migrate
from safevoice.storage.db import Database
from safevoice.storage.dialect import guarded_by_password

MIN_PASSWORD_LENGTH = 16
MIN_DISTINCT_CHARACTERS = 8
# Compared after lower-casing and dropping everything but letters and digits.
PLACEHOLDER_PASSWORDS = frozenset(
    {
        "",
        "admin",
        "changeit",
        "changeme",
        "default",
        "example",
        "minio123",
        "minioadmin",
        "pass",
        "passw0rd",
        "password",
        "placeholder",
        "postgres",
        "replaceme",
        "root",
        "safevoice",
        "secret",
        "test",
    }
)
PLACEHOLDER_FRAGMENTS = ("changeme", "changethis", "replaceme", "placeholder", "yourpassword")
# A running server keeps serving an expired manifest's instance (clients then refuse to
# submit) and refuses to start again once it has expired: warn well before.
EXPIRY_WARNING = timedelta(days=14)
log = logging.getLogger("safevoice.production")


class ProductionRefused(ConfigError):
    """Production mode will not start; the message says why in one sentence."""

    code = "production_refused"


@dataclass(frozen=True)
class ServiceUser:
    """Whose write access to the release bundle counts: by default this process's."""

    uid: int
    gids: frozenset[int]

    @classmethod
    def current(cls) -> ServiceUser:
        return cls(uid=os.geteuid(), gids=frozenset({os.getegid(), *os.getgroups()}))


def check(
    settings: Settings,
    database: Database,
    *,
    now: datetime,
    migrate_schema: bool,
    env: Mapping[str, str] | None = None,
    user: ServiceUser | None = None,
    bundle_pin: str | None = None,
) -> None:
    """Raise ProductionRefused with the first reason not to serve in production.

    ``env`` is the process environment, for the secrets that libraries read from it directly
    (the S3 blob store's credentials); the entry points pass ``os.environ``. ``bundle_pin`` is
    the root fingerprint built into the installed release bundle.
    """
    check_settings(settings, env=env, user=user)
    check_database(
        settings, database, now=now, migrate_schema=migrate_schema, bundle_pin=bundle_pin
    )


def check_settings(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    user: ServiceUser | None = None,
) -> None:
    """The checks that need no database: secrets and the release bundle's ownership."""
    for problem in (
        database_url_problem(settings.database_url),
        blob_store_problem(settings.blob_store, env or {}),
        bundle_problem(settings.bundle_dir, user or ServiceUser.current()),
    ):
        if problem is not None:
            raise ProductionRefused(problem)


def check_database(
    settings: Settings,
    database: Database,
    *,
    now: datetime,
    migrate_schema: bool,
    bundle_pin: str | None = None,
) -> None:
    """The schema (migrated first if ``migrate_schema``) and the instance it holds; and that the
    release bundle pins the root of the published manifest (given ``bundle_pin``)."""
    where = _safe_url(settings.database_url)
    try:
        _check_schema(database, migrate_schema=migrate_schema)
        with database.session(write=False) as session:
            expires_at = _check_instance(session, now=now, bundle_pin=bundle_pin)
    except SQLAlchemyError as exc:
        raise ProductionRefused(
            f"The database at {where} cannot be used ({type(exc).__name__}); check the "
            "database URL and that the database is running."
        ) from None
    if expires_at - now < EXPIRY_WARNING:
        log.warning(
            "the published manifest expires on %s; after that reports cannot be sent and the "
            "server will not start again until the committee publishes a new one",
            f"{expires_at:%Y-%m-%d}",
        )


def database_url_problem(url: str) -> str | None:
    """Why the database URL's secret is unfit for production, or None."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "The database URL is not a valid database URL."
    if not guarded_by_password(parsed):
        return None
    password = parsed.password
    if password is None or password == "":
        if _local_socket(parsed) or "passfile" in parsed.query or "sslcert" in parsed.query:
            return None
        return (
            "The database URL connects over TCP without a password; give SafeVoice's database "
            "role a long random password (or connect through the local socket)."
        )
    password = str(password)
    if _is_placeholder(password):
        return (
            "The database password in the database URL is a placeholder; replace it with a "
            "long random one (for example from `openssl rand -hex 32`)."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"The database password in the database URL is shorter than {MIN_PASSWORD_LENGTH} "
            "characters; replace it with a long random one (for example from "
            "`openssl rand -hex 32`)."
        )
    return None


def blob_store_problem(spec: str, env: Mapping[str, str]) -> str | None:
    """Why the S3 blob store's secret key is unfit for production, or None.

    Its credentials may also come from AWS's own files or an instance role, which SafeVoice
    does not read; only a secret given in the environment can be judged here."""
    if not spec.startswith("s3://"):
        return None
    secret = env.get("AWS_SECRET_ACCESS_KEY")
    if secret is None:
        return None
    if _is_placeholder(secret) or len(secret) < MIN_PASSWORD_LENGTH:
        return (
            "The S3 secret key in AWS_SECRET_ACCESS_KEY is a placeholder or too short; give "
            "the blob store's account a long random secret."
        )
    return None


def _is_placeholder(secret: str) -> bool:
    normalised = re.sub(r"[^a-z0-9]", "", secret.lower())
    return (
        normalised in PLACEHOLDER_PASSWORDS
        or any(fragment in normalised for fragment in PLACEHOLDER_FRAGMENTS)
        or len(set(secret)) < MIN_DISTINCT_CHARACTERS
    )


def _local_socket(url: URL) -> bool:
    host = url.query.get("host")
    if isinstance(host, tuple):
        host = host[0] if host else None
    return not url.host and (host is None or str(host).startswith("/"))


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an invalid URL)"


def bundle_problem(bundle_dir: Path | None, user: ServiceUser) -> str | None:
    """Why the release bundle could be changed by the service user, or None.

    Judged by ownership and mode bits, not by ``os.access``: the owner can always make a file
    writable again, and the answer must not depend on who runs the check (tests run as root).
    Symbolic links inside the bundle are refused because their targets are outside it.
    """
    if bundle_dir is None:
        return (
            "SAFEVOICE_BUNDLE_DIR is not set; in production the reporter pages come only from "
            "a release bundle that the service cannot write."
        )
    root = bundle_dir.resolve()
    if not root.is_dir():
        return f"The release bundle folder {bundle_dir} does not exist."
    candidates = [root]
    for folder, subfolders, files in os.walk(root):
        candidates.extend(Path(folder, name) for name in (*subfolders, *files))
    for path in candidates:
        shown = path.relative_to(root).as_posix() if path != root else "the folder itself"
        try:
            info = path.lstat()
        except OSError:
            return (
                f"The release bundle {bundle_dir} cannot be inspected ({shown} cannot be "
                "read); give the service user read access to every file of it."
            )
        if stat.S_ISLNK(info.st_mode):
            problem = "a symbolic link"
        elif info.st_uid == user.uid:
            problem = "owned by the service user"
        elif info.st_mode & stat.S_IWOTH:
            problem = "writable by every user"
        elif info.st_mode & stat.S_IWGRP and info.st_gid in user.gids:
            problem = "writable by a group of the service user"
        else:
            continue
        return (
            f"The release bundle {bundle_dir} could be changed by the service user ({shown} is "
            f"{problem}); make root own it and remove group and other write permission."
        )
    return None


def _check_schema(database: Database, *, migrate_schema: bool) -> None:
    # Read on the reader: a database the writer cannot even lock still tells its revision.
    current = migrate.current_revision(database.reader)
    head = migrate.head_revision()
    if current == head:
        return
    if current is not None and not migrate.is_known(current):
        raise ProductionRefused(
            f"The database schema is at revision {current}, which this SafeVoice version does "
            "not know (a newer version migrated it); run that version instead."
        )
    if not migrate_schema:
        raise ProductionRefused(
            f"The database schema is at revision {current or 'none'}, not {head}; start "
            "the server with `safevoice serve`, which migrates it, or run "
            "`safevoice admin migrate` first."
        )
    try:
        migrate.upgrade_exclusively(database.writer)
    except (SQLAlchemyError, CommandError, OSError) as exc:
        raise ProductionRefused(
            f"The database cannot be migrated to revision {head} ({type(exc).__name__}); run "
            "`safevoice admin migrate` with a database role that may change the schema."
        ) from None


def bundle_pin_problem(bundle_pin: str, root: str) -> str | None:
    """Why a bundle pinned to ``bundle_pin`` cannot serve a manifest of ``root``, or None.

    After a root hand-over such a bundle shows every browser reporter that the server may have
    been tampered with, so the server refuses it rather than serve a page that cannot work.
    """
    if bundle_pin == root:
        return None
    return (
        f"The release bundle is pinned to the committee root {format_fingerprint(bundle_pin)}, "
        f"but the published manifest belongs to the root {format_fingerprint(root)}; build the "
        f"bundle again with `safevoice web build --pin {format_fingerprint(root)}` and install it."
    )


def _check_instance(session: Session, *, now: datetime, bundle_pin: str | None = None) -> datetime:
    """Refuse what is unsafe in the database; return when the published manifest expires."""
    if demo.is_demo(session):
        raise ProductionRefused(
            "This database was set up by `safevoice demo`, whose keys are public; production "
            "needs a database of its own."
        )
    try:
        snap = snapshot(session)
    except ConfigError as exc:
        raise ProductionRefused(exc.message) from None
    if snap.signed_manifest is None:
        raise ProductionRefused(
            "No manifest is published; the committee must sign one and the operator publish "
            "it with `safevoice manifest publish` before reports can be accepted."
        )
    manifest = snap.manifest
    if manifest is None:
        raise ProductionRefused(
            "The published manifest cannot be read; the committee must sign a new one and the "
            "operator publish it."
        )
    demo_holders = demo.demo_keys_in(manifest)
    if demo_holders:
        raise ProductionRefused(
            f"The published manifest names demo keys ({', '.join(demo_holders)}), which anyone "
            "can recompute; the committee must sign a manifest with keys of its own."
        )
    pinned = bundle_pin_problem(bundle_pin, manifest.root) if bundle_pin is not None else None
    if pinned is not None:
        raise ProductionRefused(pinned)
    if now >= manifest.expires_at:
        raise ProductionRefused(
            f"The published manifest expired on {manifest.expires_at:%Y-%m-%d}; the committee "
            "must sign a new one and the operator publish it."
        )
    channels = session.scalars(select(Channel).order_by(Channel.name)).all()
    if not channels:
        raise ProductionRefused(
            "This instance has no channel; add one with a retention policy to the "
            "configuration and run `safevoice admin init` again."
        )
    for channel in channels:
        policy = (
            channel.retain_days_after_closure,
            channel.retain_max_days,
            channel.retain_unused_days,
        )
        if any(days is None or days <= 0 for days in policy):
            raise ProductionRefused(
                f"The channel {channel.name!r} has no complete retention policy; give it "
                "days_after_closure, max_age_days and unused_days in the configuration and run "
                "`safevoice admin init` again."
            )
    return manifest.expires_at
