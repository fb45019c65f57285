"""The purge batch's large SQLite page cache stays with the batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from safevoice.storage import dialect
from safevoice.storage.db import Database


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    # One pooled writer connection, so the block and the checks below share it.
    database = Database.connect(f"sqlite:///{tmp_path / 'cache.sqlite'}", pool_size=1)
    try:
        yield database
    finally:
        database.dispose()


def cache_size(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.execute(text("PRAGMA cache_size")).scalar_one())


def test_a_purge_batch_gets_the_large_cache_and_the_pool_gets_its_connection_back_as_it_was(
    sqlite_database: Database,
) -> None:
    usual = cache_size(sqlite_database)
    with sqlite_database.unit_of_work() as session, dialect.bulk_write_cache(session):
        inside = session.execute(text("PRAGMA cache_size")).scalar_one()
    assert inside == -dialect.BULK_CACHE_KIB
    assert usual != inside
    # A server process keeps its pooled connections for days: none may keep 256 MiB of cache.
    assert cache_size(sqlite_database) == usual


def test_a_failed_purge_batch_also_gives_the_connection_back_as_it_was(
    sqlite_database: Database,
) -> None:
    usual = cache_size(sqlite_database)
    with (
        pytest.raises(RuntimeError),
        sqlite_database.unit_of_work() as session,
        dialect.bulk_write_cache(session),
    ):
        raise RuntimeError("the batch failed")
    assert cache_size(sqlite_database) == usual
