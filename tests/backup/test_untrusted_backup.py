"""Backup files, audit exports, restore approvals and backup key files, as a restore or an
auditor's client reads them: any change to a backup file is refused, and any input at all is
either read or refused with a SafeVoice error, never a traceback.

Hypothesis cuts, flips and splices a real backup file; writes files whose parts decrypt under
the right key but hold anything; and feeds arbitrary JSON to the other parsers. A short run by
default; SAFEVOICE_FUZZ_EXAMPLES raises the number of examples for a long one.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safevoice.backup.approval import APPROVAL_FORMAT, Approval
from safevoice.backup.archive import MAGIC, ArchiveWriter, read_header, read_messages
from safevoice.backup.export import parse_export
from safevoice.backup.keys import KEY_FORMAT, BackupKey
from safevoice.backup.service import (
    Counts,
    backed_up_tables,
    read_blob,
    read_end,
    read_meta,
    read_rows,
)
from safevoice.crypto.backup import BackupHeader
from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import Manifest
from safevoice.errors import SafeVoiceError
from safevoice.protocol.audit import EXPORT_FORMAT, Entry, SignedCheckpoint, verify_export
from tests.crypto.test_untrusted_decoders import ANY_TEXT, EXAMPLES, json_values
from tests.support.world import World

KEY = bytes(range(32))
HEADER = BackupHeader(
    backup_id=b64e(bytes(16)),
    instance_id="instance",
    created_on=date(2026, 3, 1),
    key_id=b64e(bytes(range(16))),
    revision=None,
    audit_seq=-1,
    audit_head=bytes(32),
)
TABLES = {t.name: t for t in backed_up_tables()}
UPLOAD = b64e(bytes(16))  # 22 characters, as upload ids are
ROWS = {"table": "channel", "columns": ["name"], "rows": [["general"]]}
END = {"tables": {"channel": 1}, "uploads": 1, "chunks": 1}
Parts = list[tuple[str, list[bytes]]]
WELL_FORMED: Parts = [
    ("meta", [json.dumps({"counts": END}).encode()]),
    ("rows", [json.dumps(ROWS).encode()]),
    ("blob", [UPLOAD.encode(), (0).to_bytes(4, "big"), b"chunk"]),
    ("end", [json.dumps(END).encode()]),
]


def write_backup(folder: Path, parts: Parts) -> Path:
    path = folder / "backup.svbackup"
    writer = ArchiveWriter(path, KEY, HEADER)
    for position, (kind, fields) in enumerate(parts):
        writer.add(kind, *fields, last=position == len(parts) - 1)
    writer.commit()
    return path


def read_backup(path: Path) -> int:
    """Everything a restore reads of a backup before it writes a row: the header, then every
    part decrypted and decoded. Returns the number of parts."""
    read_header(path)
    messages = read_messages(path, KEY)
    read_meta(*next(messages))
    count = 1
    for kind, parts in messages:
        count += 1
        if kind == "rows":
            read_rows(parts, TABLES)
        elif kind == "blob":
            read_blob(parts)
        elif kind == "end":
            read_end(parts)
    return count


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_backup(tmp_path_factory.mktemp("backup"), WELL_FORMED).read_bytes()


def test_the_well_formed_backup_reads_back_whole(tmp_path: Path) -> None:
    assert read_backup(write_backup(tmp_path, WELL_FORMED)) == len(WELL_FORMED)


Change = Callable[[bytes], bytes]
changes = st.one_of(
    st.integers(min_value=0, max_value=10_000).map(
        lambda n: lambda raw: raw[: n % len(raw)]  # cut short
    ),
    st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=7)).map(
        lambda pb: lambda raw: flip(raw, pb[0] % len(raw), pb[1])  # one bit flipped
    ),
    st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=40)).map(
        lambda pi: lambda raw: raw[: pi[0] % len(raw)] + pi[1] + raw[pi[0] % len(raw) :]
    ),
    st.binary(min_size=1, max_size=40).map(lambda extra: lambda raw: raw + extra),
    st.binary(max_size=300).map(lambda junk: lambda raw: MAGIC + junk),
)


def flip(raw: bytes, position: int, bit: int) -> bytes:
    changed = bytearray(raw)
    changed[position] ^= 1 << bit
    return bytes(changed)


@EXAMPLES
@given(changes)
def test_any_change_to_a_backup_file_is_refused_with_a_sentence(
    original: bytes, change: Change
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "changed.svbackup"
        path.write_bytes(change(original))
        with pytest.raises(SafeVoiceError):
            read_backup(path)


part_fields = st.lists(
    st.binary(max_size=60) | json_values.map(lambda v: json.dumps(v).encode()), max_size=4
)
authentic_parts = st.lists(
    st.tuples(st.sampled_from(["meta", "rows", "blob", "end", "other"]), part_fields),
    min_size=1,
    max_size=4,
)
nearly_valid_rows = st.fixed_dictionaries(
    {},
    optional={
        "table": st.sampled_from(sorted(TABLES)) | json_values,
        "columns": st.lists(st.sampled_from(["name", "id", "created_at"]) | ANY_TEXT, max_size=3)
        | json_values,
        "rows": st.lists(
            st.lists(json_values | st.fixed_dictionaries({"$t": ANY_TEXT}), max_size=3),
            max_size=2,
        )
        | json_values,
    },
)


@EXAMPLES
@given(
    authentic_parts
    | nearly_valid_rows.map(lambda r: [WELL_FORMED[0], ("rows", [json.dumps(r).encode()])])
)
def test_parts_that_decrypt_but_hold_anything_are_read_or_refused(parts: Parts) -> None:
    """Only the key's holder can write these; a restore still ends with a sentence."""
    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(SafeVoiceError):
        read_backup(write_backup(Path(folder), parts))


def refused_or_read(decode: Callable[[Any], Any], value: Any) -> None:
    with contextlib.suppress(SafeVoiceError):
        decode(value)


@EXAMPLES
@given(json_values)
def test_counts_and_backup_key_files_of_any_json_are_refused_without_crashing(value: Any) -> None:
    refused_or_read(Counts.from_json, value)
    refused_or_read(BackupKey.from_json, value)
    refused_or_read(Approval.from_json, value)
    refused_or_read(parse_export, value)


def approval_like(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": APPROVAL_FORMAT,
        "instance_id": "instance",
        "backup": b64e(bytes(16)),
        "backup_seq": 3,
        "backup_head": b64e(bytes(32)),
        "from_seq": 5,
        "from_head": b64e(bytes(32)),
        "approver": "member:alice",
        "approval": b64e(bytes(64)),
        **fields,
    }


@EXAMPLES
@given(st.dictionaries(st.sampled_from(sorted(approval_like({}))), json_values | ANY_TEXT))
def test_a_nearly_valid_restore_approval_is_read_or_refused(fields: dict[str, Any]) -> None:
    refused_or_read(Approval.from_json, approval_like(fields))


@EXAMPLES
@given(
    st.dictionaries(
        st.sampled_from(["format", "id", "created_on", "first_backup_on", "key", "destroyed_on"]),
        json_values | ANY_TEXT,
    )
)
def test_a_nearly_valid_backup_key_file_is_read_or_refused(fields: dict[str, Any]) -> None:
    refused_or_read(BackupKey.from_json, {"format": KEY_FORMAT, **fields})


entry_like = st.fixed_dictionaries(
    {},
    optional={
        "seq": st.integers(min_value=-2, max_value=3) | json_values,
        "body": st.sampled_from([b64e(b'{"seq":0}'), b64e(b"{}"), b64e(b"\xff")]) | json_values,
        "hash": st.just(b64e(bytes(32))) | json_values,
        "body_hash": st.just(b64e(bytes(32))) | json_values,
    },
)


@EXAMPLES
@given(st.lists(entry_like | json_values, max_size=4), json_values | ANY_TEXT)
def test_an_audit_export_of_nearly_valid_entries_is_read_or_refused(
    entries: list[Any], instance_id: Any
) -> None:
    """The backup's reader of an export (``--audit-export``)."""
    refused_or_read(
        parse_export,
        {"format": "safevoice-audit-export-v1", "instance_id": instance_id, "entries": entries},
    )


@pytest.fixture(scope="module")
def audit_manifest(world: World) -> Manifest:
    return world.manifest(bytes(32))[0]


checkpoint_like = st.fixed_dictionaries(
    {},
    optional={
        "instance_id": ANY_TEXT | json_values,
        "seq": st.integers(min_value=-2, max_value=3) | json_values,
        "head": st.just(b64e(bytes(32))) | json_values,
        "signature": st.just(b64e(bytes(64))) | json_values,
        "countersignatures": st.lists(
            st.fixed_dictionaries({"auditor": ANY_TEXT, "signature": st.just(b64e(bytes(64)))})
        )
        | json_values,
    },
)


@EXAMPLES
@given(
    st.lists(entry_like | json_values, max_size=4) | json_values,
    st.lists(checkpoint_like | json_values, max_size=3) | json_values,
)
def test_an_auditors_export_of_anything_is_verified_or_refused(
    audit_manifest: Manifest, entries: Any, checkpoints: Any
) -> None:
    """The auditor's client (``safevoice audit verify``) on an export file it was handed."""
    data = {
        "format": EXPORT_FORMAT,
        "instance_id": audit_manifest.instance_id,
        "entries": entries,
        "checkpoints": checkpoints,
    }
    with contextlib.suppress(SafeVoiceError):
        verify_export(data, manifest=audit_manifest)
    refused_or_read(Entry.from_json, entries)
    refused_or_read(SignedCheckpoint.from_json, checkpoints)
