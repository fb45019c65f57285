"""Fixtures for backups: key and backup folders, blank target databases, a populated instance."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from safevoice.storage.db import Database
from tests.support.databases import DatabaseFactory, pg_admin, pg_url


@pytest.fixture(params=["fs", "db"])
def blob_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Backups read blobs through the store: a folder, and the database's own table."""
    return f"fs:{tmp_path / 'blobs'}" if request.param == "fs" else "db"


@dataclass
class Folders:
    keys: Path
    backups: Path


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    return Folders(keys=tmp_path / "backup-keys", backups=tmp_path / "backups")


@pytest.fixture
def blank_url(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind, with no table at all."""
    if db_factory.kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'blank.sqlite'}"
        yield url
        return
    name = f"sv_blank_{secrets.token_hex(6)}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def blank(blank_url: str) -> Iterator[Database]:
    db = Database.connect(blank_url, pool_size=2)
    yield db
    db.dispose()
