"""Atomic row writes for the intake, with group commit.

A submission's rows (case, report, wrapped keys, spent challenge, idempotency record, audit
event) are written in one transaction; the caller returns only after that transaction has
committed, so no client ever sees an answer for rows that were not stored (invariant 8).

Every commit costs a flush to disk (an fsync on SQLite, a WAL flush on PostgreSQL) and, on
PostgreSQL, round trips for each statement. Under a burst, a writer thread per process takes
all pending submissions, inserts them in one transaction (one multi-row statement per table)
and commits once: each caller still returns only after the commit that holds its rows, so the
guarantee is the one a transaction per submission gives. Each submission is still
all-or-nothing: if the batch fails on a constraint, every item is retried in a transaction of
its own so that one duplicate cannot fail the others, and every caller gets its own outcome.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from safevoice.errors import Unavailable
from safevoice.storage.db import Database

Rows = Sequence[tuple[Any, list[dict[str, Any]]]]
"""(mapped class, row dicts) pairs, in insertion order (parents before children)."""

WAIT_SECONDS = 30.0
MAX_BATCH = 64


@dataclass
class _Pending:
    rows: Rows
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class RowWriter:
    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._database = database
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def write(self, rows: Rows) -> None:
        """Insert ``rows`` atomically; return once committed, raise on failure."""
        pending = _Pending(rows)
        self._ensure_thread()
        self._queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):
            raise Unavailable("The database is busy; please retry with the same request.")
        if pending.error is not None:
            raise pending.error

    def _write_alone(self, rows: Rows) -> None:
        # Core inserts on a plain connection: the ORM's bookkeeping is not needed here and
        # would cost milliseconds while holding the writer lock.
        with self._database.writer.begin() as connection:
            for model, values in rows:
                if values:
                    connection.execute(model.__table__.insert(), values)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="safevoice-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write_batch(batch)

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            if len(batch) == 1:
                self._write_alone(batch[0].rows)
            else:
                merged: dict[Any, list[dict[str, Any]]] = {}
                for pending in batch:
                    for model, values in pending.rows:
                        merged.setdefault(model, []).extend(values)
                self._write_alone(list(merged.items()))
        except IntegrityError:
            if len(batch) == 1:
                batch[0].error = _fresh_integrity_error()
            else:
                for pending in batch:
                    self._write_batch([pending])
                return
        except Exception as exc:  # noqa: BLE001 - every waiting caller must learn the outcome
            for pending in batch:
                pending.error = exc
        for pending in batch:
            pending.done.set()


def _fresh_integrity_error() -> IntegrityError:
    """An IntegrityError without the statement and parameters (they may hold submitted data)."""
    return IntegrityError("INSERT", None, Exception("constraint violated"))
