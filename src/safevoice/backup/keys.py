"""The backup key directory: rotation on a schedule and destruction once backups age out.

Backup keys live in a folder outside the database (``SAFEVOICE_BACKUP_KEYS_DIR``), one JSON
file per key, readable only by the service user. A backup run uses the newest key, or makes a
new one when that key is older than the rotation period. A key is destroyed (its file
overwritten, synced and removed) once the oldest backup it protects is older than the maximum
backup age; a key that protects no backup and is no longer current is destroyed at once. After
that every backup made under the key is unreadable, whoever kept a copy: deletion reaches the
backups (crypto-shredding). A key file is written under a temporary name and renamed; what a
killed run left under such a name is destroyed the same way by the next run. Overwriting a file
cannot reach copies a journaling or copy-on-write file system or a snapshot kept elsewhere;
SECURITY.md says so.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from safevoice.crypto.backup import KEY_BYTES, new_backup_key, new_id
from safevoice.crypto.encoding import b64d, b64e
from safevoice.errors import BadEncoding, ConfigError, NotFound
from safevoice.storage.temporaries import INCOMING, create_locked, remove_stale

KEY_FORMAT = "safevoice-backup-key-v1"
SUFFIX = ".backup-key"
_ID = re.compile(r"^[A-Za-z0-9_-]{16,43}$")


@dataclass(frozen=True)
class BackupKey:
    id: str
    created_on: date
    first_backup_on: date | None
    key: bytes = field(repr=False)

    def destroy_due(self, max_age_days: int) -> date | None:
        """The first day on which the key must be gone (None: it protects no backup yet)."""
        if self.first_backup_on is None:
            return None
        return date.fromordinal(self.first_backup_on.toordinal() + max_age_days + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEY_FORMAT,
            "id": self.id,
            "created_on": self.created_on.isoformat(),
            "first_backup_on": self.first_backup_on.isoformat() if self.first_backup_on else None,
            "key": b64e(self.key),
        }

    @classmethod
    def from_json(cls, data: Any) -> BackupKey:
        try:
            if data["format"] != KEY_FORMAT or not _ID.match(data["id"]):
                raise BadEncoding("This is not a SafeVoice backup key.")
            first = data["first_backup_on"]
            return cls(
                id=data["id"],
                created_on=date.fromisoformat(data["created_on"]),
                first_backup_on=date.fromisoformat(first) if first is not None else None,
                key=b64d(data["key"], size=KEY_BYTES, what="backup key"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadEncoding("A backup key file is malformed.") from exc


class KeyDirectory:
    """One folder of backup keys; every change is an atomic file replacement."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _file(self, key_id: str) -> Path:
        if not _ID.match(key_id):
            raise NotFound("There is no such backup key.")
        return self.path / f"{key_id}{SUFFIX}"

    def stored(self) -> list[BackupKey]:
        """Every key still present, oldest first."""
        if not self.path.is_dir():
            return []
        found = []
        for file in self.path.glob(f"*{SUFFIX}"):
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ConfigError(f"The backup key file {file} is damaged.") from None
            found.append(BackupKey.from_json(data))
        return sorted(found, key=lambda k: (k.created_on, k.id))

    def get(self, key_id: str) -> BackupKey:
        file = self._file(key_id)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(
                f"The key {key_id} of this backup is not in {self.path}: it was destroyed "
                "because the backup aged out (or this is the wrong key folder), so the "
                "backup cannot be opened at all."
            ) from None
        except (UnicodeDecodeError, ValueError):
            raise ConfigError(f"The backup key file {file} is damaged.") from None
        key = BackupKey.from_json(data)
        if key.id != key_id:
            raise ConfigError(f"The backup key file {file} holds another key.")
        return key

    def _write(self, key: BackupKey) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temp = create_locked(self.path)
        try:
            with handle:
                handle.write(json.dumps(key.to_json(), indent=2, sort_keys=True).encode())
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(temp, self._file(key.id))  # while locked: see remove_stale_temporaries
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _sync_folder(self.path)

    def remove_stale_temporaries(self) -> int:
        """Destroy the temporary key files a killed run left (overwritten, synced, removed, as
        ``destroy`` does: each may hold a key); return how many. A file another run is writing
        is locked and left alone."""
        if not self.path.is_dir():
            return 0
        removed = remove_stale(self.path.glob(f"{INCOMING}*"), shred=True)
        if removed:
            _sync_folder(self.path)
        return len(removed)

    def current(self, *, today: date, rotation_days: int) -> BackupKey:
        """The key for a backup made today: the newest one, or a new one when it is too old."""
        keys = self.stored()
        if keys and (today - keys[-1].created_on).days < rotation_days:
            return keys[-1]
        key = BackupKey(id=new_id(), created_on=today, first_backup_on=None, key=new_backup_key())
        self._write(key)
        return key

    def mark_used(self, key: BackupKey, *, today: date) -> BackupKey:
        """Remember the day of the first backup under ``key`` (its destruction counts from it)."""
        if key.first_backup_on is not None:
            return key
        used = replace(key, first_backup_on=today)
        self._write(used)
        return used

    def destroy_expired(self, *, today: date, max_age_days: int) -> list[BackupKey]:
        """Destroy every key whose oldest backup is past the maximum age, and every unused key
        that is no longer the newest one; return what was destroyed."""
        keys = self.stored()
        destroyed = []
        for position, key in enumerate(keys):
            due = key.destroy_due(max_age_days)
            newest = position == len(keys) - 1
            if (due is None and not newest) or (due is not None and today >= due):
                self.destroy(key.id)
                destroyed.append(key)
        return destroyed

    def destroy(self, key_id: str) -> None:
        """Overwrite the key file with zeros, sync it, then remove it."""
        file = self._file(key_id)
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            return
        with file.open("r+b") as handle:
            handle.write(bytes(size))
            handle.flush()
            os.fsync(handle.fileno())
        file.unlink()
        _sync_folder(self.path)


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
