"""Where SQLite and PostgreSQL differ, behind named functions; the domains never ask which.

Invariant: every dialect check outside ``storage/`` goes through this module, so adding a
database means reading one file. Table names given here come from code, never from input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    String,
    any_,
    func,
    literal,
    literal_column,
    text,
)
from sqlalchemy import select as select_
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from safevoice.errors import IncompleteDeletion
from safevoice.private_files import private_dir
from safevoice.storage.db import Database, is_sqlite


def guarded_by_password(url: URL) -> bool:
    """Whether the database at ``url`` is reached through a role that a password may guard
    (PostgreSQL). A SQLite database is a file, guarded by its mode (0600) instead: there is
    no password to judge."""
    return url.get_backend_name() != "sqlite"


def prepare_folder(url: str) -> None:
    """Create the folder of a SQLite database file (0700) before an operator command opens
    it: the command may be the first to open the database, and SQLite creates the file but
    never its folder. A PostgreSQL database has no folder here."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            private_dir(Path(database).parent)


def among(column: Any, ids: Sequence[str], session: Session) -> ColumnElement[bool]:
    """``column IN ids`` with one parameter however many ids: ``= ANY(array)`` on PostgreSQL,
    the rows of a JSON array on SQLite (cheaper than a thousand bound parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(String)))  # type: ignore[no-any-return]  # SQLAlchemy types the comparison of an untyped column as Any
    values: Select[Any] = select_(literal_column("value")).select_from(
        func.json_each(json.dumps(list(ids)))
    )
    return column.in_(values)  # type: ignore[no-any-return]  # as above: the column is untyped


# The page cache of a purge batch's SQLite connection, in KiB. A batch frees rows all over the
# case tables (their keys are random), so it dirties pages all over them; with SQLite's default
# cache of 2 MiB the dirty pages spill into the WAL before the commit, and a page dirtied again
# after its spill is written again, which made deleting a batch's case objects 2.5 to 3.5 times
# slower (README, Performance).
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_write_cache(session: Session) -> Iterator[None]:
    """Give the session's SQLite connection a page cache large enough for a purge batch, for
    the block only (the connection goes back to the pool as it was). PostgreSQL's buffers are
    the server's: nothing to do there."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    driver: Any = session.connection().connection.driver_connection
    before = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size={int(before)}")


def read_consistently(database: Database, session: Session) -> None:
    """Make the session's reads one snapshot of the database (a backup must not tear).

    SQLite's read transaction is a snapshot already; PostgreSQL needs REPEATABLE READ, set
    before the first statement.
    """
    if not database.sqlite:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


@contextmanager
def single_statement_reader(database: Database) -> Iterator[Connection]:
    """A reader connection for lookups of one statement each (the hot paths of a submission
    and of an upload chunk).

    On PostgreSQL it runs in autocommit: a single statement sees one snapshot either way, and
    this spares the round trips of a BEGIN and a ROLLBACK around it. SQLite's deferred BEGIN
    costs nothing, so its connection is left as it is.
    """
    with database.reader.connect() as connection:
        if not database.sqlite:
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


CHECKPOINT_ATTEMPTS = 3
# Per attempt: another run's VACUUM or a busy writer may hold the WAL about that long.
CHECKPOINT_WAIT_SECONDS = 10.0
CHECKPOINT_PAUSE_SECONDS = 0.5


def reclaim_deleted(
    database: Database,
    tables: Iterable[str],
    *,
    ordered: Iterable[str] = (),
    attempts: int = CHECKPOINT_ATTEMPTS,
) -> None:
    """Make the database drop freed pages and dead rows, and forget the order in which the
    rows of ``ordered`` arrived (outside any transaction).

    SQLite overwrites deleted content already (``secure_delete`` on every connection). The WAL
    is checkpointed (without waiting), then ``VACUUM`` rebuilds the file: freed pages are gone
    and every table and index is laid out in the order of its key (random ids) instead of the
    order of arrival; the WAL is then checkpointed and truncated. A reader's open transaction
    keeps the checkpoint from reaching the end of the WAL, so deleted rows would stay in the
    ``-wal`` file: the checkpoint is retried, then ``IncompleteDeletion`` names what is left.

    PostgreSQL keeps dead row versions until VACUUM, which is run on ``tables`` first (CLUSTER
    alone carried a deleted row into the rebuilt index, as a test found). The ``ordered``
    tables are then rewritten (one UPDATE of all their rows, then CLUSTER on the primary key)
    so that neither transaction ids nor physical places nor a dump's order follow arrival,
    and their B-tree indexes, which keep removed entries' bytes in free space, are rebuilt.
    PostgreSQL's own WAL keeps the deleted rows until the server recycles the segments.
    """
    if database.sqlite:
        _sqlite_reclaim(database, attempts)
        return
    with database.writer.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            # Table names come from the callers' constants, never from input.
            connection.exec_driver_sql(f'VACUUM "{table}"')
    _forget_arrival_order(database, list(ordered))


def _sqlite_reclaim(database: Database, attempts: int) -> None:
    # A passive checkpoint never waits for readers: it only shortens what VACUUM adds to.
    database.sqlite_maintenance("PRAGMA wal_checkpoint(PASSIVE)", "VACUUM")
    for attempt in range(attempts):
        # Each checkpoint waits up to CHECKPOINT_WAIT_SECONDS for readers to finish. Its first
        # column says whether it was blocked before reaching the end of the WAL; what a writer
        # adds afterwards is new, not what was deleted.
        result = database.sqlite_maintenance(
            "PRAGMA wal_checkpoint(TRUNCATE)", busy_ms=int(CHECKPOINT_WAIT_SECONDS * 1000)
        )
        if not (result and result[0][0]):
            return
        # A checkpoint that another connection is running (a second purge job's) makes this
        # one return blocked at once, without waiting: give it time to finish.
        time.sleep(CHECKPOINT_PAUSE_SECONDS * (attempt + 1))
    raise IncompleteDeletion(
        f"SQLite could not empty its write-ahead log {database.sqlite_path}-wal: "
        f"{database.wal_bytes()} bytes are left in it, which can include what this run "
        "deleted, because another connection keeps a read transaction open; end it (or "
        "restart the server) and run `safevoice retention run` again."
    )


def _forget_arrival_order(database: Database, tables: list[str]) -> None:
    """PostgreSQL: one transaction id for every row of ``tables``, then each table rewritten
    in the order of its primary key (random ids)."""
    keys = {table: _primary_key(database, table) for table in tables}
    with database.unit_of_work() as session:
        for table, (column, _index) in keys.items():
            # Setting a column to itself writes a new version of every row, all stamped with
            # this transaction's id; the key is unchanged, so no foreign key action runs.
            session.execute(text(f'UPDATE "{table}" SET "{column}" = "{column}"'))  # noqa: S608 - names from the callers' constants and the catalogue
    with database.writer.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table, (_column, index) in keys.items():
            connection.exec_driver_sql(f'CLUSTER "{table}" USING "{index}"')


def _primary_key(database: Database, table: str) -> tuple[str, str]:
    """The first column of ``table``'s primary key and the name of its index."""
    with database.writer.connect() as connection:
        row = connection.execute(
            text(
                "SELECT a.attname, i.relname FROM pg_index x"
                " JOIN pg_class i ON i.oid = x.indexrelid"
                " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
                " WHERE x.indrelid = CAST(:table AS regclass) AND x.indisprimary"
            ),
            {"table": table},
        ).one()
    return str(row[0]), str(row[1])
