"""Every migration upgrades and downgrades cleanly on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from safevoice.schema import metadata
from safevoice.storage import migrate
from safevoice.storage.db import Database
from tests.support.databases import pg_admin, pg_url


@pytest.fixture
def empty_database(db_kind: str, tmp_path: Path) -> Iterator[Database]:
    if db_kind == "sqlite":
        db = Database.connect(f"sqlite:///{tmp_path / 'fresh.sqlite'}", pool_size=2)
        yield db
        db.dispose()
        return
    name = f"sv_mig_{secrets.token_hex(4)}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = Database.connect(pg_url(name), pool_size=2)
    yield db
    db.dispose()
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def revisions() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(migrate.script_location()))
    script = ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def tables(db: Database) -> set[str]:
    return set(inspect(db.writer).get_table_names()) - {"alembic_version"}


def test_each_migration_upgrades_and_downgrades_and_upgrades_again(
    empty_database: Database,
) -> None:
    previous = "base"
    for revision in revisions():
        migrate.upgrade(empty_database.writer, revision)
        assert migrate.current_revision(empty_database.writer) == revision
        after_upgrade = tables(empty_database)
        migrate.downgrade(empty_database.writer, previous)
        migrate.upgrade(empty_database.writer, revision)
        assert tables(empty_database) == after_upgrade
        previous = revision
    assert tables(empty_database) == set(metadata.tables)
    migrate.downgrade(empty_database.writer, "base")
    assert tables(empty_database) == set()


def test_the_migrated_schema_matches_the_models(empty_database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate.upgrade(empty_database.writer)
    with empty_database.writer.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_sqlite_is_incremental_vacuum_wal_without_rowid_and_secure_delete(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'settings.sqlite'}", pool_size=3)
    try:
        migrate.upgrade(database.writer)
        # Every downgrade must leave the tables as the upgrades made them (a batch rebuild of
        # a table would silently drop WITHOUT ROWID).
        for revision in reversed(revisions()[:-1]):
            migrate.downgrade(database.writer, revision)
        migrate.upgrade(database.writer)
        with database.writer.connect() as connection:
            assert connection.execute(text("PRAGMA auto_vacuum")).scalar() == 2
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            ddl = connection.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                    "AND name != 'alembic_version'"
                )
            ).all()
        assert ddl
        assert all("WITHOUT ROWID" in sql for _, sql in ddl), [
            n for n, s in ddl if "WITHOUT" not in s
        ]
        # secure_delete must be on for every pooled connection, not just the first.
        connections = [database.reader.connect() for _ in range(3)]
        try:
            assert all(c.execute(text("PRAGMA secure_delete")).scalar() == 1 for c in connections)
        finally:
            for c in connections:
                c.close()
    finally:
        database.dispose()


def test_0012_ends_reporter_sessions_and_moves_case_expiries_to_a_whole_day(
    empty_database: Database,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import bindparam, select
    from sqlalchemy.types import DateTime

    from safevoice.attachments.models import Upload
    from safevoice.clock import aware
    from safevoice.intake.models import IdempotencyKey
    from safevoice.members.models import LoginSession

    migrate.upgrade(empty_database.writer, "0011_audit")
    moment = datetime(2026, 12, 7, 16, 45, tzinfo=UTC)
    with empty_database.writer.begin() as connection:
        insert = text(
            "INSERT INTO login_session (token_digest, role, subject, expires_at)"
            " VALUES (:digest, :role, :subject, :at)"
        ).bindparams(bindparam("at", type_=DateTime(timezone=True)))
        connection.execute(
            insert, {"digest": b"r", "role": "reporter", "subject": "c" * 22, "at": moment}
        )
        connection.execute(
            insert, {"digest": b"m", "role": "member", "subject": "alice", "at": moment}
        )
        connection.execute(
            text(
                "INSERT INTO idempotency_key (key_digest, request_digest, response, expires_at)"
                " VALUES (:k, :r, :body, :at)"
            ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
            {"k": b"k", "r": b"r", "body": b"{}", "at": moment},
        )
        connection.execute(
            text(
                "INSERT INTO upload (id, case_id, received, total, expires_at)"
                " VALUES (:id, :case, 0, NULL, :at)"
            ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
            {"id": "u" * 22, "case": "c" * 22, "at": moment},
        )

    migrate.upgrade(empty_database.writer, "0012_no_case_times")

    midnight = datetime(2026, 12, 8, tzinfo=UTC)
    with empty_database.session(write=False) as session:
        assert [s.role for s in session.scalars(select(LoginSession))] == ["member"]
        assert [aware(k.expires_at) for k in session.scalars(select(IdempotencyKey))] == [midnight]
        assert [aware(u.expires_at) for u in session.scalars(select(Upload))] == [midnight]


def test_0016_keeps_each_channel_with_its_texts_in_the_default_language_only(
    empty_database: Database,
) -> None:
    from safevoice.intake import service as intake

    migrate.upgrade(empty_database.writer, "0015_lessons")
    with empty_database.writer.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO channel (name, title, description, questionnaire,"
                " retain_days_after_closure, retain_max_days, retain_unused_days)"
                " VALUES ('general', 'Concerns', '', '[]', 60, 1095, 90)"
            )
        )
    migrate.upgrade(empty_database.writer, "0016_channel_translations")
    with empty_database.session(write=False) as session:
        (channel,) = intake.list_channels(session)
    assert channel.title == "Concerns"
    assert channel.translations == {}
    assert channel.in_language("de").title == "Concerns"


def test_a_new_sqlite_connection_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    """Readers never wait for writers, not even to open a connection: a submission's lookups
    must not queue behind the write in progress."""
    url = f"sqlite:///{tmp_path / 'busy.sqlite'}"
    first = Database.connect(url, pool_size=1)
    migrate.upgrade(first.writer)
    with first.writer.begin() as writing:
        writing.execute(text("DELETE FROM spent_challenge"))  # the write lock is now held
        fresh = Database.connect(url, pool_size=1)
        answers: list[int] = []

        def read() -> None:
            with fresh.reader.connect() as connection:
                answers.append(
                    connection.execute(text("SELECT count(*) FROM case_file")).scalar_one()
                )

        reading = threading.Thread(target=read, daemon=True)
        reading.start()
        # Before, the new connection's settings waited for the lock until SQLite's busy timeout.
        reading.join(timeout=20)
        assert answers == [0]
    with fresh.reader.connect() as connection:
        assert connection.execute(text("PRAGMA auto_vacuum")).scalar() == 2
    fresh.dispose()
    first.dispose()
