"""Backup keys rotate on a schedule and are destroyed once the oldest backup they protect has
aged out; a backup whose key is gone cannot be opened at all."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from safevoice.backup import service
from safevoice.backup.keys import KeyDirectory
from safevoice.crypto.manifest import Manifest
from safevoice.errors import ConfigError, Forbidden, NotFound
from safevoice.settings import Settings
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.backup.conftest import Folders
from tests.conftest import Cli
from tests.support.backups import submit_case_with_file

DAY = date(2026, 3, 2)
ROTATION = 7
MAX_AGE = 35


def test_the_key_rotates_once_it_is_older_than_the_rotation_period(tmp_path: Path) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    first = keys.current(today=DAY, rotation_days=ROTATION)

    assert keys.current(today=DAY + timedelta(days=ROTATION - 1), rotation_days=ROTATION) == first
    second = keys.current(today=DAY + timedelta(days=ROTATION), rotation_days=ROTATION)

    assert second.id != first.id
    assert second.key != first.key
    assert [k.id for k in keys.stored()] == [first.id, second.id]
    assert oct((tmp_path / "keys").stat().st_mode & 0o777) == "0o700"
    for file in (tmp_path / "keys").iterdir():
        assert oct(file.stat().st_mode & 0o777) == "0o600"


def test_a_key_is_destroyed_the_day_after_its_oldest_backup_reaches_the_maximum_age(
    tmp_path: Path,
) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    old = keys.mark_used(keys.current(today=DAY, rotation_days=ROTATION), today=DAY)
    later = DAY + timedelta(days=ROTATION)
    new = keys.mark_used(keys.current(today=later, rotation_days=ROTATION), today=later)
    file = tmp_path / "keys" / f"{old.id}.backup-key"
    secret = json.loads(file.read_text())["key"]

    assert keys.destroy_expired(today=DAY + timedelta(days=MAX_AGE), max_age_days=MAX_AGE) == []
    destroyed = keys.destroy_expired(today=DAY + timedelta(days=MAX_AGE + 1), max_age_days=MAX_AGE)

    assert [k.id for k in destroyed] == [old.id]
    assert not file.exists()
    assert secret.encode() not in b"".join(p.read_bytes() for p in (tmp_path / "keys").iterdir())
    assert [k.id for k in keys.stored()] == [new.id]
    with pytest.raises(NotFound, match="cannot be opened at all"):
        keys.get(old.id)


def test_an_unused_key_that_is_no_longer_current_is_destroyed_at_once(tmp_path: Path) -> None:
    keys = KeyDirectory(tmp_path / "keys")
    unused = keys.current(today=DAY, rotation_days=ROTATION)
    assert keys.destroy_expired(today=DAY, max_age_days=MAX_AGE) == []  # still the current one

    current = keys.current(today=DAY + timedelta(days=ROTATION), rotation_days=ROTATION)
    destroyed = keys.destroy_expired(today=DAY + timedelta(days=ROTATION), max_age_days=MAX_AGE)

    assert [k.id for k in destroyed] == [unused.id]
    assert [k.id for k in keys.stored()] == [current.id]


def test_settings_refuse_a_rotation_period_as_long_as_the_maximum_age() -> None:
    settings = Settings.from_env(
        {"SAFEVOICE_BACKUP_KEY_ROTATION_DAYS": "3", "SAFEVOICE_BACKUP_MAX_AGE_DAYS": "10"}
    )
    assert (settings.backup_key_rotation_days, settings.backup_max_age_days) == (3, 10)
    assert Settings().backup_max_age_days > Settings().backup_key_rotation_days
    with pytest.raises(ConfigError, match="longer than"):
        Settings.from_env(
            {"SAFEVOICE_BACKUP_KEY_ROTATION_DAYS": "10", "SAFEVOICE_BACKUP_MAX_AGE_DAYS": "10"}
        )
    with pytest.raises(ConfigError, match="whole number"):
        Settings.from_env({"SAFEVOICE_BACKUP_MAX_AGE_DAYS": "a month"})


def test_a_backup_past_the_maximum_age_cannot_be_opened_once_its_key_is_destroyed(
    cli: Cli,
    database: Database,
    database_url: str,
    manifest: Manifest,
    folders: Folders,
    tmp_path: Path,
) -> None:
    spec = f"fs:{tmp_path / 'blobs'}"
    submit_case_with_file(database, database_url, spec, manifest, tmp_path, 100)
    keys = KeyDirectory(folders.keys)
    today = date.today()
    made_on = today - timedelta(days=MAX_AGE + 1)
    old = service.create_backup(
        database,
        open_blob_store(spec, database),
        keys=keys,
        out_dir=folders.backups,
        today=made_on,
        rotation_days=ROTATION,
        max_age_days=MAX_AGE,
    )
    env = {
        "SAFEVOICE_BACKUP_KEYS_DIR": str(folders.keys),
        "SAFEVOICE_BACKUP_DIR": str(folders.backups),
        "SAFEVOICE_BLOB_STORE": spec,
        "SAFEVOICE_BACKUP_KEY_ROTATION_DAYS": str(ROTATION),
        "SAFEVOICE_BACKUP_MAX_AGE_DAYS": str(MAX_AGE),
    }
    # While its key exists, the aged-out backup is still refused by its age.
    with pytest.raises(Forbidden, match="past the maximum backup age"):
        service.restore_backup(
            database,
            open_blob_store(spec, database),
            old.path,
            keys=keys,
            today=today,
            max_age_days=MAX_AGE,
            replace=True,
        )

    result = cli.safevoice("admin", "backup", "--database", database_url, env=env)
    assert f"destroyed backup key {old.header.key_id}" in result.stdout

    refused = cli.safevoice(
        "admin", "restore", str(old.path), "--database", database_url, "--yes", env=env, expect=1
    )
    assert "was destroyed" in refused.stderr
    assert "cannot be opened at all" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Not even with the keys of the newer backups, nor at an earlier day.
    with pytest.raises(NotFound, match="cannot be opened at all"):
        service.restore_backup(
            database,
            open_blob_store(spec, database),
            old.path,
            keys=keys,
            today=made_on,
            max_age_days=MAX_AGE,
            replace=True,
        )
    listed = cli.safevoice("admin", "backup-keys", "list", "--json", env=env).stdout
    assert old.header.key_id not in listed
    assert len(json.loads(listed)) == 1
