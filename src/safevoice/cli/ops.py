"""Helpers for operator commands that work on the server's database directly."""

from __future__ import annotations

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.storage.dialect import prepare_folder


def operator_database(url: str | None = None) -> Database:
    settings = Settings.from_env()
    chosen = url or settings.database_url
    prepare_folder(chosen)
    return Database.connect(chosen, pool_size=2)
