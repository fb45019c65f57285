"""Template databases built once by the migrations, cloned for every test that needs one.

SQLite templates are copied as files; PostgreSQL templates are cloned with
``CREATE DATABASE … TEMPLATE``. Both carry an initialised instance, the test channels and a
published manifest. PostgreSQL clones are made ahead and dropped by background threads: a
``CREATE DATABASE … TEMPLATE`` costs 0.1 to 0.25 s and a ``DROP DATABASE`` waits for a checkpoint
(about a second on a busy host), neither of which the next test need wait for.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from safevoice.cases.manifest import publish_manifest
from safevoice.clock import utcnow
from safevoice.instance import service as instance
from safevoice.intake import service as intake
from safevoice.storage import migrate
from safevoice.storage.db import Database
from tests.support.world import World

PG_HOST = "127.0.0.1"
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:5432/postgres"
TIMEZONE = "Europe/Berlin"
DIFFICULTY = 1
# PostgreSQL clones kept ready for the next tests (each is a copy of an 8 MiB template).
CLONES_AHEAD = 2

CHANNELS: list[dict[str, object]] = [
    {
        "name": "general",
        "title": "Ethical concerns",
        "retention": {"days_after_closure": 60, "max_age_days": 1095, "unused_days": 90},
        "questions": [
            {"id": "where", "label": "Where did it happen?", "type": "text", "required": True},
            {
                "id": "ongoing",
                "label": "Is it still going on?",
                "type": "choice",
                "options": ["Yes", "No"],
            },
            {"id": "when", "label": "When?", "type": "date"},
        ],
    },
    {
        "name": "safety",
        "title": "Safety near-misses",
        "retention": {"days_after_closure": 30, "max_age_days": 365, "unused_days": 60},
    },
]


def pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"


def populate(url: str, world: World) -> bytes:
    """Migrate, initialise and publish a manifest; return the instance public key."""
    database = Database.connect(url, pool_size=1)
    try:
        migrate.upgrade(database.writer)
        now = utcnow()
        with database.unit_of_work() as session:
            instance.initialise(session, timezone=TIMEZONE, difficulty=DIFFICULTY)
            intake.seed_channels(session, CHANNELS)
            instance_key = instance.instance_public_key(session)
        _, signed = world.manifest(instance_key)
        with database.unit_of_work() as session:
            publish_manifest(session, signed, today=now.date(), now=now)
        database.checkpoint()
    finally:
        database.dispose()
    return instance_key


@dataclass
class DatabaseFactory:
    kind: str
    workdir: Path
    world: World
    template: str = ""
    instance_key: bytes = b""
    _clones: list[str] = field(default_factory=list)
    _to_drop: queue.SimpleQueue[str | None] = field(default_factory=queue.SimpleQueue)
    _dropper: threading.Thread | None = None
    _ready: queue.Queue[str | Exception] = field(
        default_factory=lambda: queue.Queue(maxsize=CLONES_AHEAD)
    )
    _maker: threading.Thread | None = None
    _closing: threading.Event = field(default_factory=threading.Event)

    def build(self) -> DatabaseFactory:
        if self.kind == "sqlite":
            path = self.workdir / "template.sqlite"
            self.template = str(path)
            self.instance_key = populate(f"sqlite:///{path}", self.world)
        else:
            name = f"sv_tpl_{secrets.token_hex(4)}"
            with pg_admin() as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            self.template = name
            self.instance_key = populate(pg_url(name), self.world)
        return self

    def clone(self) -> str:
        if self.kind == "sqlite":
            path = self.workdir / f"db_{secrets.token_hex(6)}.sqlite"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        if self._maker is None:
            self._maker = threading.Thread(
                target=self._clone_ahead, name="make-clones", daemon=True
            )
            self._maker.start()
        made = self._ready.get()
        if isinstance(made, Exception):
            raise made
        return pg_url(made)

    def _clone_ahead(self) -> None:
        try:
            with pg_admin() as admin:
                while not self._closing.is_set():
                    name = f"sv_{secrets.token_hex(6)}"
                    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                    self._clones.append(name)
                    self._hand_over(name)
        except Exception as error:  # noqa: BLE001 - handed to the test that asks for a clone
            self._hand_over(error)

    def _hand_over(self, made: str | Exception) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(queue.Full):
                self._ready.put(made, timeout=0.2)
                return

    def drop(self, url: str) -> None:
        if self.kind == "sqlite":
            path = Path(url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        if self._dropper is None:
            self._dropper = threading.Thread(
                target=self._drop_in_background, name="drop-clones", daemon=True
            )
            self._dropper.start()
        self._to_drop.put(url.rsplit("/", 1)[1])

    def _drop_in_background(self) -> None:
        with pg_admin() as admin:
            while (name := self._to_drop.get()) is not None:
                # A clone that cannot be dropped now is dropped again by close().
                with contextlib.suppress(psycopg.Error):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._closing.set()
        if self._maker is not None:
            self._maker.join()
        if self._dropper is not None:
            self._to_drop.put(None)
            self._dropper.join()
        if self.kind == "postgresql":
            with pg_admin() as admin:
                for name in [*self._clones, self.template]:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def data_paths(url: str) -> list[Path]:
    """The files that hold a database's data: SQLite file and WAL, or PostgreSQL's files."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return [p for p in (Path(path), Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    name = url.rsplit("/", 1)[1]
    with pg_admin() as admin:
        admin.execute("CHECKPOINT")
        row = admin.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()
        data_dir = admin.execute("SHOW data_directory").fetchone()
    assert row is not None
    assert data_dir is not None
    root = Path(str(data_dir[0]))
    return [root / "base" / str(row[0]), root / "pg_wal"]
