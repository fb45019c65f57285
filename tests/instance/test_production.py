"""Production mode fails closed: each reason not to serve is found and named in one sentence,
on SQLite and PostgreSQL, and a sound instance passes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from safevoice.cases.manifest import publish_manifest
from safevoice.clock import utcnow
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest, sign_manifest
from safevoice.instance import demo
from safevoice.instance import service as instance
from safevoice.instance.models import Channel, PublishedManifest, ServerState
from safevoice.instance.production import (
    ProductionRefused,
    ServiceUser,
    blob_store_problem,
    bundle_problem,
    check,
    database_url_problem,
)
from safevoice.settings import Settings
from safevoice.storage import migrate
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.support.databases import pg_admin, pg_url
from tests.support.production import OTHER_UID, make_bundle, with_password
from tests.support.world import World

STRONG = "9f2c4e7a1b3d5f60a8c2e4b6d8f0a1c3"


@pytest.fixture
def bundle(tmp_path: Path, web_bundle: Bundle) -> Path:
    return make_bundle(tmp_path, web_bundle)


def a_script(bundle: Path) -> str:
    """The bundle-relative name of one of its scripts (their names carry a content hash)."""
    return next(f"static/{p.name}" for p in sorted((bundle / "static").glob("page.*.js")))


def settings_for(database_url: str, bundle: Path | None) -> Settings:
    return Settings(database_url=with_password(database_url), production=True, bundle_dir=bundle)


def refusal(database: Database, settings: Settings, **kwargs: object) -> str:
    now = kwargs.pop("now", utcnow())
    with pytest.raises(ProductionRefused) as raised:
        check(settings, database, now=now, migrate_schema=False, **kwargs)  # type: ignore[arg-type]  # the changed fields come from a parametrised dict; the callee checks them at run time
    message = raised.value.message
    assert message.count(". ") == 0, f"more than one sentence: {message}"
    assert message.endswith(".")
    return message


# --- the database password -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://safevoice:CHANGE-ME@127.0.0.1:5432/safevoice",
        "postgresql://safevoice:changeme@db/safevoice",
        "postgresql://safevoice:password@db/safevoice",
        "postgresql://safevoice:Passw0rd@db/safevoice",
        "postgresql://safevoice:please-change-me-now-1234@db/safevoice",
        "postgresql://safevoice:aaaaaaaaaaaaaaaaaaaaaaaa@db/safevoice",
        "postgresql+psycopg://postgres:postgres@127.0.0.1/safevoice",
    ],
)
def test_a_placeholder_database_password_is_refused_without_repeating_it(url: str) -> None:
    problem = database_url_problem(url)

    assert problem is not None
    assert "placeholder" in problem
    # One fixed sentence, whatever the password: it is never repeated.
    assert problem == database_url_problem("postgresql://x:changeme@h/d")


def test_a_short_password_and_a_password_less_tcp_connection_are_refused() -> None:
    short = database_url_problem("postgresql://safevoice:k3J9x!q2Zr@db/safevoice")
    missing = database_url_problem("postgresql://safevoice@db.internal:5432/safevoice")
    empty = database_url_problem("postgresql://safevoice:@127.0.0.1/safevoice")

    assert short is not None
    assert "shorter than 16" in short
    assert missing is not None
    assert "without a password" in missing
    assert empty is not None
    assert "without a password" in empty


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://safevoice:{STRONG}@db.internal:5432/safevoice",
        "postgresql://safevoice@/safevoice?host=/run/postgresql",
        "postgresql:///safevoice",
        "sqlite:////var/lib/safevoice/safevoice.sqlite",
    ],
)
def test_a_long_random_password_a_local_socket_or_sqlite_is_accepted(url: str) -> None:
    assert database_url_problem(url) is None


@pytest.mark.parametrize("secret", ["minioadmin", "changeme", "short-Secret1", "x" * 40])
def test_a_placeholder_s3_secret_is_refused_when_attachments_go_to_s3(secret: str) -> None:
    spec = "s3://safevoice-blobs/prod?endpoint=https://s3.internal"

    problem = blob_store_problem(spec, {"AWS_SECRET_ACCESS_KEY": secret})

    assert problem is not None
    assert "AWS_SECRET_ACCESS_KEY is a placeholder or too short" in problem
    assert secret not in problem


def test_an_s3_secret_is_judged_only_where_it_is_used_and_given() -> None:
    strong = {"AWS_SECRET_ACCESS_KEY": STRONG}
    weak = {"AWS_SECRET_ACCESS_KEY": "minioadmin"}

    assert blob_store_problem("s3://safevoice-blobs", strong) is None
    assert blob_store_problem("s3://safevoice-blobs", {}) is None  # AWS's own files or a role
    assert blob_store_problem("fs:/var/lib/safevoice/blobs", weak) is None
    assert blob_store_problem("db", weak) is None


# --- the release bundle ----------------------------------------------------------------------

ROOT = ServiceUser(uid=0, gids=frozenset({0}))


def test_a_bundle_owned_by_another_user_and_writable_by_nobody_else_is_accepted(
    bundle: Path,
) -> None:
    assert bundle_problem(bundle, ROOT) is None
    assert bundle_problem(bundle, ServiceUser.current()) is None


def owned_by_root(bundle: Path) -> str:
    os.chown(bundle / a_script(bundle), 0, 0)
    return f"{a_script(bundle)} is owned by the service user"


def folder_owned_by_root(bundle: Path) -> str:
    os.chown(bundle, 0, 0)
    return "the folder itself is owned by the service user"


def writable_by_all(bundle: Path) -> str:
    (bundle / "static").chmod(0o757)
    return "static is writable by every user"


def writable_by_our_group(bundle: Path) -> str:
    os.chown(bundle / "bundle.json", OTHER_UID, 0)
    (bundle / "bundle.json").chmod(0o664)
    return "bundle.json is writable by a group of the service user"


def a_symbolic_link(bundle: Path) -> str:
    (bundle / "static").chmod(0o755)
    (bundle / "static/extra.js").symlink_to("/etc/hostname")
    (bundle / "static").chmod(0o555)
    return "static/extra.js is a symbolic link"


@pytest.mark.parametrize(
    "change",
    [owned_by_root, folder_owned_by_root, writable_by_all, writable_by_our_group, a_symbolic_link],
)
def test_a_bundle_the_service_user_could_change_is_refused(
    bundle: Path, change: Callable[[Path], str]
) -> None:
    expected = change(bundle)

    problem = bundle_problem(bundle, ROOT)

    assert problem is not None
    assert expected in problem


def test_the_bundle_is_judged_for_the_service_user_not_for_whoever_runs_the_check(
    bundle: Path,
) -> None:
    """A bundle group-writable by a group the service user is not in is fine; owned by the
    service user (here nobody) it is not, even when root runs the check."""
    (bundle / "bundle.json").chmod(0o664)

    assert bundle_problem(bundle, ROOT) is None
    problem = bundle_problem(bundle, ServiceUser(uid=OTHER_UID, gids=frozenset({1})))
    assert problem is not None
    assert "owned by the service user" in problem


def test_a_bundle_file_the_check_cannot_inspect_is_refused_not_a_traceback(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the real service user, a folder without search permission hides its files' modes."""
    real_lstat = Path.lstat
    hidden = a_script(bundle)

    def lstat(path: Path) -> os.stat_result:
        if path.as_posix().endswith(hidden):
            raise PermissionError(13, "Permission denied", str(path))
        return real_lstat(path)

    monkeypatch.setattr(Path, "lstat", lstat)

    problem = bundle_problem(bundle, ROOT)

    assert problem is not None
    assert f"{hidden} cannot be read" in problem


def test_a_missing_or_unset_bundle_is_refused(tmp_path: Path) -> None:
    unset = bundle_problem(None, ROOT)
    missing = bundle_problem(tmp_path / "nowhere", ROOT)

    assert unset is not None
    assert "SAFEVOICE_BUNDLE_DIR is not set" in unset
    assert missing is not None
    assert "does not exist" in missing


# --- the database and the instance (SQLite and PostgreSQL) -----------------------------------


def test_a_sound_instance_passes_every_check(
    database: Database, database_url: str, bundle: Path
) -> None:
    check(settings_for(database_url, bundle), database, now=utcnow(), migrate_schema=False)


def test_settings_problems_are_reported_before_the_database_is_touched(
    database: Database, database_url: str
) -> None:
    message = refusal(database, settings_for(database_url, None))

    assert "SAFEVOICE_BUNDLE_DIR" in message


def test_a_database_that_ran_the_demo_is_refused(
    database: Database, database_url: str, bundle: Path
) -> None:
    with database.unit_of_work() as session:
        demo.mark_demo(session)

    message = refusal(database, settings_for(database_url, bundle))

    assert "set up by `safevoice demo`" in message


def test_a_manifest_that_names_demo_keys_is_refused(
    database: Database, database_url: str, bundle: Path, world: World
) -> None:
    root, *members = demo.demo_keys()
    now = utcnow().replace(microsecond=0)
    with database.unit_of_work() as session:
        key = instance.instance_public_key(session)
        real, _ = world.manifest(key)
        manifest = Manifest(
            **{
                **real.__dict__,
                "version": 2,
                "root": root.public.fingerprint,
                "members": (*real.members[:2], members[2].public),
            }
        )
        publish_manifest(
            session,
            sign_manifest(manifest, [root]),
            today=now.date(),
            now=now,
            accept_new_root=True,
        )

    message = refusal(database, settings_for(database_url, bundle))

    assert "names demo keys (root, carol)" in message


def test_demo_keys_are_recognised_by_fingerprint_and_real_keys_are_not() -> None:
    fingerprints = demo.demo_fingerprints()

    assert len(fingerprints) == 1 + len(demo.DEMO_MEMBERS)
    assert {k.public.fingerprint for k in demo.demo_keys()} == fingerprints
    assert generate("member", "alice", "Alice Martin").public.fingerprint not in fingerprints


def test_an_uninitialised_instance_is_refused(
    database: Database, database_url: str, bundle: Path
) -> None:
    with database.unit_of_work() as session:
        session.execute(delete(ServerState))

    message = refusal(database, settings_for(database_url, bundle))

    assert "not initialised" in message


def test_an_instance_without_a_published_manifest_is_refused(
    database: Database, database_url: str, bundle: Path
) -> None:
    with database.unit_of_work() as session:
        session.execute(delete(PublishedManifest))

    message = refusal(database, settings_for(database_url, bundle))

    assert "No manifest is published" in message


def test_an_expired_manifest_is_refused(
    database: Database, database_url: str, bundle: Path, manifest: Manifest
) -> None:
    settings = settings_for(database_url, bundle)
    check(settings, database, now=manifest.expires_at - timedelta(seconds=1), migrate_schema=False)

    message = refusal(database, settings, now=manifest.expires_at)

    assert f"expired on {manifest.expires_at:%Y-%m-%d}" in message


def test_a_manifest_close_to_expiry_is_accepted_with_a_warning(
    database: Database,
    database_url: str,
    bundle: Path,
    manifest: Manifest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(database_url, bundle)

    with caplog.at_level(logging.WARNING, logger="safevoice.production"):
        check(settings, database, now=utcnow(), migrate_schema=False)
        assert caplog.messages == []
        check(settings, database, now=manifest.expires_at - timedelta(days=3), migrate_schema=False)

    assert caplog.messages == [
        f"the published manifest expires on {manifest.expires_at:%Y-%m-%d}; after that reports "
        "cannot be sent and the server will not start again until the committee publishes a "
        "new one"
    ]


def test_an_instance_without_channels_is_refused(
    database: Database, database_url: str, bundle: Path
) -> None:
    with database.unit_of_work() as session:
        session.execute(delete(Channel))

    message = refusal(database, settings_for(database_url, bundle))

    assert "no channel" in message


@pytest.mark.parametrize("column", ["retain_days_after_closure", "retain_max_days"])
def test_a_channel_without_a_complete_retention_policy_is_refused(
    database: Database, database_url: str, bundle: Path, column: str
) -> None:
    with database.unit_of_work() as session:
        session.execute(update(Channel).where(Channel.name == "safety").values({column: 0}))

    message = refusal(database, settings_for(database_url, bundle))

    assert "The channel 'safety' has no complete retention policy" in message


def test_a_schema_from_a_newer_version_is_refused(
    database: Database, database_url: str, bundle: Path
) -> None:
    with database.writer.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    message = refusal(database, settings_for(database_url, bundle))

    assert "revision 9999_future, which this SafeVoice version does not know" in message


def test_a_schema_behind_is_migrated_by_serve_but_refused_by_a_worker(
    db_kind: str, tmp_path: Path, bundle: Path
) -> None:
    url = empty_database_url(db_kind, tmp_path)
    database = Database.connect(with_password(url), pool_size=2)
    settings = settings_for(url, bundle)
    try:
        worker = refusal(database, settings)
        with pytest.raises(ProductionRefused) as serve:
            check(settings, database, now=utcnow(), migrate_schema=True)
        assert migrate.is_current(database.writer)
    finally:
        database.dispose()
        drop_database(db_kind, url)

    assert "is at revision none, not" in worker
    # Migrated: the next problem is that nobody ran `admin init` on this empty database.
    assert "not initialised" in serve.value.message


def test_a_database_that_cannot_be_migrated_is_refused(
    db_kind: str, tmp_path: Path, bundle: Path
) -> None:
    """Pointed at a database that holds something else (here a table of the same name)."""
    url = empty_database_url(db_kind, tmp_path)
    database = Database.connect(with_password(url), pool_size=2)
    try:
        with database.writer.begin() as connection:
            connection.execute(text("CREATE TABLE channel (unrelated INTEGER)"))
        with pytest.raises(ProductionRefused) as raised:
            check(settings_for(url, bundle), database, now=utcnow(), migrate_schema=True)
    finally:
        database.dispose()
        drop_database(db_kind, url)

    assert "cannot be migrated to revision" in raised.value.message
    assert "safevoice admin migrate" in raised.value.message


def test_a_postgresql_role_that_may_not_change_the_schema_cannot_migrate(bundle: Path) -> None:
    url = empty_database_url("postgresql", Path())
    name = url.rsplit("/", 1)[1]
    role = f"{name}_app"
    with pg_admin() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"')
    restricted = pg_url(name).replace("postgres@", f"{role}@")
    database = Database.connect(with_password(restricted), pool_size=2)
    try:
        with pytest.raises(ProductionRefused) as raised:
            check(settings_for(restricted, bundle), database, now=utcnow(), migrate_schema=True)
    finally:
        database.dispose()
        drop_database("postgresql", url)

    assert "cannot be migrated to revision" in raised.value.message


def test_an_unreachable_database_is_refused_without_its_password(bundle: Path) -> None:
    url = f"postgresql://safevoice:{STRONG}@127.0.0.1:1/safevoice"
    database = Database.connect(url, pool_size=1)
    try:
        message = refusal(database, Settings(database_url=url, production=True, bundle_dir=bundle))
    finally:
        database.dispose()

    assert "cannot be used (OperationalError)" in message
    assert STRONG not in message
    assert "127.0.0.1:1/safevoice" in message


def empty_database_url(db_kind: str, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    name = f"sv_prod_{os.urandom(4).hex()}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_database(db_kind: str, url: str) -> None:
    if db_kind == "sqlite":
        return
    name = url.rsplit("/", 1)[1]
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{name}_app"')
