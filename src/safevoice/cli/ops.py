"""Helpers for operator commands that work on the server's database directly."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from safevoice.private_files import private_dir
from safevoice.settings import Settings
from safevoice.storage.db import Database, is_sqlite


def operator_database(url: str | None = None) -> Database:
    settings = Settings.from_env()
    chosen = url or settings.database_url
    if is_sqlite(chosen):
        database = make_url(chosen).database
        if database and database != ":memory:":
            private_dir(Path(database).parent)
    return Database.connect(chosen, pool_size=2)
