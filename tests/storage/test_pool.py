"""Pooled PostgreSQL connections after the database dropped them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine.interfaces import DBAPIConnection

from safevoice.storage import db as dbmod
from safevoice.storage.db import Database
from tests.support.databases import pg_admin, pg_url


@pytest.fixture
def pg_database() -> Iterator[tuple[str, Database]]:
    name = f"sv_pool_{secrets.token_hex(4)}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = Database.connect(pg_url(name), pool_size=2)
    try:
        yield name, database
    finally:
        database.dispose()
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _terminate_sessions(name: str) -> int:
    with pg_admin() as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchone()
    assert row is not None
    count = row[0]
    assert isinstance(count, int)
    return count


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    pg_database: tuple[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, database = pg_database
    with database.reader.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    # The database restarts while the connection sits in the pool long enough to be checked.
    assert _terminate_sessions(name) == 1
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 0.0)
    with database.reader.connect() as connection:
        assert connection.execute(text("SELECT 2")).scalar() == 2


def test_a_connection_returned_a_moment_ago_is_used_without_a_ping(
    pg_database: tuple[str, Database],
) -> None:
    _name, database = pg_database
    pings: list[DBAPIConnection] = []
    real_ping = database.reader.dialect.do_ping

    def counting_ping(dbapi_connection: DBAPIConnection) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    database.reader.dialect.do_ping = counting_ping  # type: ignore[method-assign]  # counts the round trips the pool spends on pings
    for _ in range(5):
        with database.reader.connect() as connection:
            connection.execute(text("SELECT 1"))
    assert pings == []
