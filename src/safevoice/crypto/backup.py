"""Backup encryption: one libsodium secretstream per backup, under a rotating backup key.

A backup file is a small cleartext header followed by the stream. The header (format version,
backup id, instance id, day of creation, key id, migration revision and the audit head at
backup time) is bound into every message's associated data, so changing any byte of it makes
the first message fail to decrypt: an operator can read it without the key, but nobody can
alter it. Messages are pushed in order; the last one carries the FINAL tag, so a truncated,
reordered or spliced backup is refused instead of restoring part of the data.

Backup keys are plain 32-byte secretstream keys kept in a key directory outside the database.
Destroying a key (``safevoice.backup.keys``) makes every backup made under it unreadable: that
is how deletion reaches backups (crypto-shredding).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions

from safevoice.crypto.encoding import b64d, b64e, canonical_json, lp, text
from safevoice.crypto.keys import random_bytes
from safevoice.errors import BadEncoding, VerificationFailed

BACKUP_FORMAT = "safevoice-backup-v1"
BACKUP_CONTEXT = "safevoice-backup-v1"
KEY_BYTES = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
STREAM_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_ID = re.compile(r"^[A-Za-z0-9_-]{16,43}$")


def new_backup_key() -> bytes:
    return random_bytes(KEY_BYTES)


def new_id() -> str:
    """A random identifier for a backup or a backup key (128 bits, base64url)."""
    return b64e(random_bytes(16))


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise BadEncoding(f"The backup header has no valid {name}.")
    return text(value, what=f"backup header's {name}")


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        raise BadEncoding(f"The backup header has no valid {name}.")
    return value


@dataclass(frozen=True)
class BackupHeader:
    """What anyone may read of a backup without its key; all of it is authenticated."""

    backup_id: str
    instance_id: str | None
    created_on: date
    key_id: str
    revision: str | None
    audit_seq: int
    """Sequence number of the newest audit entry in the backup (-1 when the log is empty)."""
    audit_head: bytes

    def to_bytes(self) -> bytes:
        return canonical_json(
            {
                "format": BACKUP_FORMAT,
                "backup_id": self.backup_id,
                "instance_id": self.instance_id,
                "created_on": self.created_on.isoformat(),
                "key_id": self.key_id,
                "revision": self.revision,
                "audit_seq": self.audit_seq,
                "audit_head": b64e(self.audit_head),
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "instance_id": self.instance_id,
            "created_on": self.created_on.isoformat(),
            "key_id": self.key_id,
            "revision": self.revision,
            "audit_seq": self.audit_seq,
            "audit_head": b64e(self.audit_head),
        }

    @classmethod
    def from_bytes(cls, raw: bytes) -> BackupHeader:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadEncoding("The backup header is not valid JSON.") from exc
        if not isinstance(data, dict) or data.get("format") != BACKUP_FORMAT:
            raise BadEncoding("This is not a SafeVoice backup of a format this version reads.")
        backup_id, key_id = _text(data, "backup_id"), _text(data, "key_id")
        if not _ID.match(backup_id) or not _ID.match(key_id):
            raise BadEncoding("The backup header has a malformed id.")
        instance_id = data.get("instance_id")
        revision = data.get("revision")
        if instance_id is not None:
            instance_id = _text(data, "instance_id")
        if revision is not None:
            revision = _text(data, "revision")
        try:
            created_on = date.fromisoformat(_text(data, "created_on"))
        except ValueError as exc:
            raise BadEncoding("The backup header has no valid created_on.") from exc
        header = cls(
            backup_id=backup_id,
            instance_id=instance_id,
            created_on=created_on,
            key_id=key_id,
            revision=revision,
            audit_seq=_int(data, "audit_seq"),
            audit_head=b64d(_text(data, "audit_head"), size=32, what="audit head"),
        )
        if header.to_bytes() != raw:
            # One textual form only: a re-serialised header is not the one that was bound.
            raise BadEncoding("The backup header is not in its canonical form.")
        return header


def _ad(header: bytes) -> bytes:
    return lp(BACKUP_CONTEXT, header)


class BackupSealer:
    """Push side of a backup's stream: messages in, ciphertexts out; the caller marks the last."""

    def __init__(self, key: bytes, header: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("A backup key is 32 bytes.")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.stream_header: bytes = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, key
        )
        self._ad = _ad(header)
        self.finished = False

    def push(self, message: bytes, *, last: bool = False) -> bytes:
        if self.finished:
            raise ValueError("The backup stream is already finished.")
        self.finished = last
        return bytes(
            sodium.crypto_secretstream_xchacha20poly1305_push(
                self._state, message, self._ad, _FINAL if last else _MESSAGE
            )
        )


class BackupOpener:
    """Pull side: ciphertexts in order; tells the caller when the FINAL message arrived."""

    def __init__(self, key: bytes, header: bytes, stream_header: bytes) -> None:
        if len(key) != KEY_BYTES or len(stream_header) != STREAM_HEADER_BYTES:
            raise VerificationFailed("The backup key or stream header is malformed.")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, stream_header, key)
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as exc:
            raise VerificationFailed("The backup's stream header is malformed.") from exc
        self._ad = _ad(header)
        self.finished = False
        self.count = 0

    def pull(self, ciphertext: bytes) -> bytes:
        if self.finished:
            raise VerificationFailed("The backup has data after its end.")
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, ciphertext, self._ad
            )
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as exc:
            what = "header or its first part" if self.count == 0 else f"part {self.count}"
            raise VerificationFailed(
                f"The backup's {what} was altered, or it was made under another key."
            ) from exc
        self.count += 1
        self.finished = tag == _FINAL
        return bytes(message)
