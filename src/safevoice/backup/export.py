"""Reading the newest audit export, which a restore needs to re-apply later purges.

The export (docs/protocol/audit.md 13.5) lists every entry of the chain with its stored bytes
and hash. Before a restore relies on it, the chain is re-hashed from the genesis: an export
whose entries do not chain, skip a sequence number or belong to another instance is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safevoice.audit.service import GENESIS
from safevoice.crypto.encoding import b64d
from safevoice.crypto.hashing import entry_hash
from safevoice.errors import BadEncoding, VerificationFailed
from safevoice.protocol.audit import body_version

EXPORT_FORMAT = "safevoice-audit-export-v1"


@dataclass(frozen=True)
class Head:
    """A position in the audit chain: the sequence number of an entry and its hash."""

    seq: int
    hash: bytes


@dataclass(frozen=True)
class ExportEntry:
    seq: int
    body: bytes
    hash: bytes
    data: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.data.get("event", ""))


@dataclass(frozen=True)
class AuditExport:
    instance_id: str
    entries: tuple[ExportEntry, ...]

    @property
    def head(self) -> Head | None:
        if not self.entries:
            return None
        last = self.entries[-1]
        return Head(seq=last.seq, hash=last.hash)

    def hash_at(self, seq: int) -> bytes | None:
        if 0 <= seq < len(self.entries):
            return self.entries[seq].hash
        return None


def parse_export(data: Any) -> AuditExport:
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise BadEncoding("This is not a SafeVoice audit export.")
    instance_id = data.get("instance_id")
    raw_entries = data.get("entries")
    if not isinstance(instance_id, str) or not isinstance(raw_entries, list):
        raise BadEncoding("The audit export has no instance id or no entries.")
    entries = []
    prev = GENESIS
    for position, raw in enumerate(raw_entries):
        try:
            seq, body_text, hash_text = raw["seq"], raw["body"], raw["hash"]
        except (KeyError, TypeError):
            raise BadEncoding(f"Entry {position} of the audit export is malformed.") from None
        if seq != position:
            raise VerificationFailed(
                f"The audit export skips or repeats entries at seq {position}."
            )
        body = b64d(body_text, what="audit entry")
        digest = b64d(hash_text, size=32, what="audit entry hash")
        if entry_hash(prev, body, version=body_version(body)) != digest:
            raise VerificationFailed(f"The audit export's chain is broken at seq {seq}.")
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadEncoding(f"Entry {seq} of the audit export is not JSON.") from None
        if not isinstance(parsed, dict) or parsed.get("seq") != seq:
            raise VerificationFailed(f"Entry {seq} of the audit export names another seq.")
        entries.append(ExportEntry(seq=seq, body=body, hash=digest, data=parsed))
        prev = digest
    return AuditExport(instance_id=instance_id, entries=tuple(entries))


def load_export(path: Path) -> AuditExport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadEncoding(f"{path} is not an audit export (it is not JSON).") from None
    return parse_export(data)
