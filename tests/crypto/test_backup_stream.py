"""The backup stream: the header is authenticated, parts cannot be dropped, reordered or added,
and another key opens nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from safevoice.crypto.backup import (
    BackupHeader,
    BackupOpener,
    BackupSealer,
    new_backup_key,
    new_id,
)
from safevoice.errors import BadEncoding, VerificationFailed

HEADER = BackupHeader(
    backup_id=new_id(),
    instance_id="instance-1",
    created_on=date(2026, 5, 4),
    key_id=new_id(),
    revision="0009_attachments",
    audit_seq=41,
    audit_head=bytes(range(32)),
)


def sealed(key: bytes, header: BackupHeader, parts: list[bytes]) -> tuple[bytes, list[bytes]]:
    sealer = BackupSealer(key, header.to_bytes())
    out = [sealer.push(p, last=i == len(parts) - 1) for i, p in enumerate(parts)]
    return sealer.stream_header, out


def opened(key: bytes, header: BackupHeader, stream: bytes, parts: list[bytes]) -> list[bytes]:
    opener = BackupOpener(key, header.to_bytes(), stream)
    out = [opener.pull(p) for p in parts]
    if not opener.finished:
        raise VerificationFailed("cut short")
    return out


def test_a_backup_stream_round_trips_and_its_header_parses_back() -> None:
    key = new_backup_key()
    stream, parts = sealed(key, HEADER, [b"meta", b"rows", b"end"])

    assert opened(key, HEADER, stream, parts) == [b"meta", b"rows", b"end"]
    assert BackupHeader.from_bytes(HEADER.to_bytes()) == HEADER


@pytest.mark.parametrize(
    "change",
    [
        {"created_on": date(2026, 5, 3)},
        {"audit_seq": 40},
        {"audit_head": bytes(32)},
        {"instance_id": "instance-2"},
        {"key_id": new_id()},
    ],
)
def test_any_change_to_the_header_makes_the_stream_fail(change: dict[str, object]) -> None:
    key = new_backup_key()
    stream, parts = sealed(key, HEADER, [b"meta", b"end"])

    with pytest.raises(VerificationFailed, match="header or its first part was altered"):
        opened(key, replace(HEADER, **change), stream, parts)  # type: ignore[arg-type]  # the changed fields come from a parametrised dict; the callee checks them at run time


def test_dropped_reordered_or_extra_parts_and_another_key_fail() -> None:
    key = new_backup_key()
    stream, parts = sealed(key, HEADER, [b"a", b"b", b"c"])

    with pytest.raises(VerificationFailed):
        opened(new_backup_key(), HEADER, stream, parts)
    with pytest.raises(VerificationFailed):
        opened(key, HEADER, stream, [parts[0], parts[2]])
    with pytest.raises(VerificationFailed):
        opened(key, HEADER, stream, [parts[1], parts[0], parts[2]])
    with pytest.raises(VerificationFailed, match="cut short"):
        opened(key, HEADER, stream, parts[:2])
    with pytest.raises(VerificationFailed, match="after its end"):
        opened(key, HEADER, stream, [*parts, parts[2]])


def test_a_header_that_is_not_canonical_or_not_a_backup_is_refused() -> None:
    raw = HEADER.to_bytes()

    with pytest.raises(BadEncoding, match="canonical"):
        BackupHeader.from_bytes(raw.replace(b'"audit_seq":41', b'"audit_seq": 41'))
    with pytest.raises(BadEncoding):
        BackupHeader.from_bytes(raw.replace(b"safevoice-backup-v1", b"safevoice-backup-v9"))
    with pytest.raises(BadEncoding):
        BackupHeader.from_bytes(b"\xff")
