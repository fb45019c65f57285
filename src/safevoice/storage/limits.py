"""Bounded waits on PostgreSQL, so that an unavailable database is a quick 503, never a hang.

A stopped database refuses connections at once, but a frozen one (the process stopped, a hung
disk, a network partition) accepts bytes into its socket and never answers: without limits a
request would wait for minutes. The server's engine therefore bounds every wait:

- opening a connection: libpq's ``connect_timeout``;
- one statement, on a live database: PostgreSQL's ``statement_timeout`` (lock waits included);
- one answer, on a frozen one: the client gives up on the socket half a second after the
  statement timeout and closes the connection (a frozen peer cannot enforce its own limit);
  TCP keepalives and ``tcp_user_timeout`` do the same for a peer that vanished from the network;
- after such a failure, new connections are refused at once for a moment (``PAUSE_SECONDS``)
  instead of every request spending its own connect timeout on a database known to be down;
  the first connection after the pause tries again, so the server recovers by itself.

Only database waits are bounded, never a request's duration: a slow upload is not cut.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Engine, event

PAUSE_SECONDS = 1.0
ANSWER_GRACE_SECONDS = 0.5


@dataclass(frozen=True)
class DatabaseLimits:
    """Seconds the server waits for the database (settings ``SAFEVOICE_DB_*``)."""

    connect: int = 2
    pool: int = 2
    statement: int = 3

    @property
    def answer(self) -> float:
        return self.statement + ANSWER_GRACE_SECONDS

    def connect_args(self) -> dict[str, Any]:
        return {
            "connect_timeout": self.connect,
            "options": f"-c statement_timeout={self.statement * 1000}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": int(self.answer * 1000),
        }


class _Pause:
    """Refuse new connections for a moment after the database failed to answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def start(self) -> None:
        with self._lock:
            self._until = time.monotonic() + PAUSE_SECONDS

    def active(self) -> bool:
        with self._lock:
            return time.monotonic() < self._until


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection that gives up on an answer after ``answer_timeout`` seconds.

    The connection is then closed, because the protocol is left half-way; SQLAlchemy sees a
    closed connection, counts the error as a disconnection and replaces the pool's connections.
    """

    answer_timeout: float | None = None
    pause: _Pause | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(
                gen, interval, timeout if timeout is not None else self.answer_timeout
            )
        except pg_errors._WaitTimeout:
            self.close()
            if self.pause is not None:
                self.pause.start()
            raise psycopg.OperationalError(
                f"The database did not answer within {self.answer_timeout} s."
            ) from None


def bound(engine: Engine, limits: DatabaseLimits) -> None:
    """Make ``engine`` (PostgreSQL, psycopg 3) open only bounded connections."""
    pause = _Pause()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if pause.active():
            raise psycopg.OperationalError("The database was unreachable a moment ago.")
        try:
            connection = BoundedConnection.connect(*cargs, **{**limits.connect_args(), **cparams})
        except psycopg.OperationalError:
            pause.start()
            raise
        connection.answer_timeout = limits.answer
        connection.pause = pause
        return connection
