"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite connections get, on every connect: ``auto_vacuum=INCREMENTAL`` if the file does not have
it yet (effective because it is set before the first table is created; setting it takes the
write lock, so a new connection, a reader's too, would otherwise wait for the current writer),
WAL, full fsync on commit (nothing acknowledged is
lost), ``secure_delete`` (freed pages are overwritten) and foreign keys. Writers begin with
``BEGIN IMMEDIATE`` so that two workers never deadlock upgrading a read lock; readers use a
separate engine with deferred transactions so they never wait for a writer.

Writers queue before ``BEGIN IMMEDIATE`` instead of competing in SQLite's busy handler, whose
growing sleeps would otherwise turn a burst of submissions into second-long waits: a thread lock
orders the threads of one process and an advisory file lock (``<database>.writer-lock``) orders
the processes. Both are released when the connection returns to the pool, right after its
commit or rollback.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError, SQLAlchemyError
from sqlalchemy.orm import Session

from safevoice.private_files import private_file, tighten_file
from safevoice.storage.limits import DatabaseLimits, bound

SQLITE_POOL_SIZE = 40
SQLITE_BUSY_MS = 30_000  # the size of the server's thread pool
SQLITE_INCREMENTAL_VACUUM = 2  # what ``PRAGMA auto_vacuum`` reads for INCREMENTAL
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_MS}",
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
    # SQLite connections are cheap to keep but costly to open (the pragmas above), so the pool
    # holds as many as the server has threads instead of opening and closing overflow ones.
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=max(pool_size, SQLITE_POOL_SIZE),
        max_overflow=pool_size,
        pool_timeout=15,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is switched off so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Reading the setting takes no lock; setting it waits for the writer.
        if cursor.execute("PRAGMA auto_vacuum").fetchone()[0] != SQLITE_INCREMENTAL_VACUUM:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    if not immediate:

        @event.listens_for(engine, "begin")
        def _on_begin_deferred(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine

    gate = _WriterGate(make_url(url).database)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        info = connection.connection.info  # shared with the pool's connection record
        if not info.get("gate"):
            gate.acquire()
            info["gate"] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop("gate", False):
            gate.release()

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        if record is not None and record.info.pop("gate", False):
            gate.release()

    return engine


class _WriterGate:
    """One SQLite writer at a time: a thread lock, then a file lock shared by all processes."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        in_file = database not in (None, "", ":memory:")
        self._path = f"{database}.writer-lock" if in_file else None
        self._fd: int | None = None
        self._pid = 0

    def _lock_fd(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # A forked child must not share its parent's lock file description.
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            fd = self._lock_fd()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _private_sqlite_file(url: str) -> None:
    # SQLite creates the -wal and -shm files with the main file's mode, so creating the main
    # file 0600 first keeps all three readable only by the server's account.
    database = make_url(url).database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    try:
        private_file(Path(database))
        for suffix in ("-wal", "-shm", ".writer-lock"):
            tighten_file(Path(f"{database}{suffix}"))
    except OSError:
        # A read-only file or folder: the server still starts, and its readiness check and
        # log say why it cannot accept reports (``Database.unwritable``).
        return


def make_engine(
    url: str,
    *,
    writer: bool = True,
    pool_size: int = 10,
    limits: DatabaseLimits | None = None,
) -> Engine:
    """An engine on ``url``; ``limits`` bounds every PostgreSQL wait (the server's engine)."""
    url = normalise_url(url)
    if is_sqlite(url):
        _private_sqlite_file(url)
        return _sqlite_engine(url, immediate=writer, pool_size=pool_size)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=15 if limits is None else limits.pool,
    )
    _ping_when_idle(engine)
    if limits is not None:
        bound(engine, limits)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use if it sat idle for a while.

    A connection idle in the pool may have died with a database restart; a ping (one round
    trip) finds out and replaces every pooled connection before a request trips on one.
    A connection returned a moment ago was alive then: under load, when connections go
    back and forth every few milliseconds, pinging each checkout would add a round trip to
    every lookup and write for nothing."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # freshly opened, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # Like SQLAlchemy's own pre-ping: the pool retries with a new connection.
            raise InvalidatePoolError() from exc


@dataclass
class Database:
    """A writer and a reader engine on the same database, with session factories."""

    url: str
    writer: Engine
    reader: Engine

    @classmethod
    def connect(
        cls, url: str, *, pool_size: int = 10, limits: DatabaseLimits | None = None
    ) -> Database:
        writer = make_engine(url, writer=True, pool_size=pool_size, limits=limits)
        reader = make_engine(url, writer=False, pool_size=pool_size) if is_sqlite(url) else writer
        return cls(url=normalise_url(url), writer=writer, reader=reader)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    def session(self, *, write: bool = True) -> Session:
        return Session(self.writer if write else self.reader, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction for a job, a command or a request: commit on success, roll back on
        error. ``write=False`` runs it on the reader engine, which never waits for writers."""
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def sqlite_maintenance(self, *statements: str, busy_ms: int | None = None) -> list[Any]:
        """Run SQLite statements that must not be inside a transaction (checkpoint, vacuum);
        return the rows of the last one.

        ``busy_ms`` bounds how long each statement waits for other connections (a checkpoint
        waits for readers), instead of the usual 30 seconds.
        """
        if not self.sqlite:
            return []
        raw = self.writer.raw_connection()
        driver: Any = raw.driver_connection
        rows: list[Any] = []
        try:
            if busy_ms is not None:
                driver.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            for statement in statements:
                rows = driver.execute(statement).fetchall()
        finally:
            if busy_ms is not None:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            raw.close()
        return rows

    def checkpoint(self) -> None:
        """Move the SQLite WAL into the main file and truncate it."""
        self.sqlite_maintenance("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def sqlite_path(self) -> Path | None:
        database = make_url(self.url).database if self.sqlite else None
        if database in (None, "", ":memory:") or database.startswith("file:"):
            return None
        return Path(database)

    def wal_bytes(self) -> int:
        """How many bytes SQLite's write-ahead log still holds (0 once truncated, or without
        one). A checkpoint that a reader's open transaction blocked leaves them there."""
        path = self.sqlite_path
        if path is None:
            return 0
        try:
            return Path(f"{path}-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def unwritable(self) -> str | None:
        """Why the SQLite database file cannot be written (read-only file, folder or file
        system), in a sentence for the operator; None when it can, and on PostgreSQL."""
        path = self.sqlite_path
        if path is None:
            return None
        for target in (path, path.parent):
            if target.exists() and not os.access(target, os.W_OK):
                return (
                    f"the SQLite database {path} cannot be written ({target} is read-only); "
                    "make the file and its folder writable by the server's account"
                )
        return None

    def problem(self) -> str | None:
        """Why this database cannot store a report now, for the operator; None when it can."""
        unwritable = self.unwritable()
        if unwritable is not None:
            return unwritable
        try:
            with self.writer.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            return f"the database cannot be reached ({type(exc).__name__})"
        return None

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
