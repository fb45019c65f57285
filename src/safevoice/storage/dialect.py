"""Where SQLite and PostgreSQL differ, behind named functions; the domains never ask which.

Invariant: every dialect check outside ``storage/`` goes through this module, so adding a
database means reading one file. Table names given here come from code, never from input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Select, String, any_, func, literal, literal_column
from sqlalchemy import select as select_
from sqlalchemy.orm import Session

from safevoice.storage.db import Database


def among(column: Any, ids: Sequence[str], session: Session) -> ColumnElement[bool]:
    """``column IN ids`` with one parameter however many ids: ``= ANY(array)`` on PostgreSQL,
    the rows of a JSON array on SQLite (cheaper than a thousand bound parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(String)))  # type: ignore[no-any-return]  # SQLAlchemy types the comparison of an untyped column as Any
    values: Select[Any] = select_(literal_column("value")).select_from(
        func.json_each(json.dumps(list(ids)))
    )
    return column.in_(values)  # type: ignore[no-any-return]  # as above: the column is untyped


def read_consistently(database: Database, session: Session) -> None:
    """Make the session's reads one snapshot of the database (a backup must not tear).

    SQLite's read transaction is a snapshot already; PostgreSQL needs REPEATABLE READ, set
    before the first statement.
    """
    if not database.sqlite:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def reclaim_deleted(database: Database, tables: Iterable[str]) -> None:
    """Make the database drop freed pages and dead rows (outside any transaction).

    SQLite overwrites deleted content already (``secure_delete`` on every connection); the WAL
    is checkpointed and truncated, freed pages are cut from the file and the WAL truncated
    again. PostgreSQL keeps dead row versions until VACUUM, which is run on ``tables``; its own
    WAL keeps the deleted rows until the server recycles the segments.
    """
    if database.sqlite:
        database.sqlite_maintenance(
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "PRAGMA incremental_vacuum",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        )
        return
    with database.writer.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            # Table names come from the callers' constants, never from input.
            connection.exec_driver_sql(f'VACUUM "{table}"')
