"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite connections get, on every connect: ``auto_vacuum=INCREMENTAL`` (effective because it is
set before the first table is created), WAL, full fsync on commit (nothing acknowledged is
lost), ``secure_delete`` (freed pages are overwritten) and foreign keys. Writers begin with
``BEGIN IMMEDIATE`` so that two workers never deadlock upgrading a read lock; readers use a
separate engine with deferred transactions so they never wait for a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_PRAGMAS = (
    "PRAGMA auto_vacuum=INCREMENTAL",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=15,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str, *, writer: bool = True, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url, immediate=writer, pool_size=pool_size)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=15,
        pool_pre_ping=True,
    )


@dataclass
class Database:
    """A writer and a reader engine on the same database, with session factories."""

    url: str
    writer: Engine
    reader: Engine

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        writer = make_engine(url, writer=True, pool_size=pool_size)
        reader = make_engine(url, writer=False, pool_size=pool_size) if is_sqlite(url) else writer
        return cls(url=normalise_url(url), writer=writer, reader=reader)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    def session(self, *, write: bool = True) -> Session:
        factory = sessionmaker(self.writer if write else self.reader, expire_on_commit=False)
        return factory()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for a job or a command: commit on success, roll back on error."""
        session = self.session(write=True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def sqlite_maintenance(self, *statements: str) -> None:
        """Run SQLite statements that must not be inside a transaction (checkpoint, vacuum)."""
        if not self.sqlite:
            return
        raw = self.writer.raw_connection()
        try:
            for statement in statements:
                raw.driver_connection.execute(statement).fetchall()  # type: ignore[union-attr]
        finally:
            raw.close()

    def checkpoint(self) -> None:
        """Move the SQLite WAL into the main file and truncate it."""
        self.sqlite_maintenance("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
