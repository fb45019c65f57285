"""What the member and auditor clients check of the audit log at every login.

The client keeps the last checkpoint it accepted in its local state. At login it fetches the
latest one, checks the instance key the manifest names for its seq signed it, fetches the
entries after the saved checkpoint and re-hashes them from the saved head; the new head must
come out. A log that went back behind the saved checkpoint is accepted only through a restore
entry that names that checkpoint and carries a valid approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safevoice.client.api import Api
from safevoice.crypto.encoding import b64d
from safevoice.crypto.manifest import Manifest
from safevoice.errors import AuditViolation, BadEncoding, ClientError, NotFound, Unavailable
from safevoice.protocol.audit import (
    GENESIS,
    RESTORED,
    Entry,
    SignedCheckpoint,
    approved_restore,
    check_checkpoint,
    check_extends,
    rehash,
)


@dataclass(frozen=True)
class LoginCheck:
    checkpoint: SignedCheckpoint | None
    """The checkpoint to remember from now on (None: keep what was saved)."""
    problem: str | None = None
    restored: bool = False


def fetch_entries(api: Api, *, after: int, upto: int) -> list[Entry]:
    found: list[Entry] = []
    for page in api.audit_entries(after=after, upto=upto):
        found.extend(Entry.from_json(e.model_dump()) for e in page.entries)
    return found


def check_at_login(api: Api, manifest: Manifest, saved_json: dict[str, Any] | None) -> LoginCheck:
    """Whether the server's latest checkpoint extends the one this client saved.

    A server that cannot show a checkpoint at all is a problem too (reported, not raised), so
    that the caller decides: members are warned, auditors refused.
    """
    try:
        new = SignedCheckpoint.from_json(api.audit_checkpoint().model_dump())
    except NotFound:
        return LoginCheck(checkpoint=None)  # an empty log: nothing to check yet
    except (AuditViolation, Unavailable, ClientError) as exc:
        return LoginCheck(checkpoint=None, problem=f"no checkpoint could be read ({exc.message})")
    try:
        check_checkpoint(new, manifest)
    except AuditViolation as exc:
        return LoginCheck(checkpoint=None, problem=exc.message)
    if saved_json is None:
        return LoginCheck(checkpoint=new)
    try:
        saved = SignedCheckpoint.from_json(saved_json)
    except AuditViolation as exc:
        return LoginCheck(
            checkpoint=new, problem=f"the saved checkpoint is damaged ({exc.message})"
        )
    try:
        between = fetch_entries(api, after=saved.seq, upto=new.seq) if new.seq > saved.seq else []
        check_extends(saved, new, between, manifest)
    except AuditViolation as exc:
        if _restored(api, manifest, saved, new):
            return LoginCheck(checkpoint=new, restored=True)
        return LoginCheck(checkpoint=None, problem=exc.message)
    return LoginCheck(checkpoint=new)


def _restored(api: Api, manifest: Manifest, saved: SignedCheckpoint, new: SignedCheckpoint) -> bool:
    """An approved restore names ``saved`` and the log from it reproduces ``new``."""
    for page in api.audit_entries(event=RESTORED, upto=new.seq):
        for raw in page.entries:
            entry = Entry.from_json(raw.model_dump())
            if entry.seq < 1:
                continue
            try:
                detail = approved_restore(entry, saved, manifest)
                before = fetch_entries(api, after=entry.seq - 2, upto=entry.seq - 1)
                if not before or before[-1].seq != entry.seq - 1:
                    continue
                prev = before[-1].hash
                if entry.seq - 1 == detail["backup_seq"] and prev != b64d(
                    detail["backup_head"], size=32
                ):
                    continue
                rest = fetch_entries(api, after=entry.seq - 1, upto=new.seq)
                end, head = rehash(entry.seq - 1, prev, rest)
            except (AuditViolation, BadEncoding):
                continue
            if end == new.seq and head == new.head:
                return True
    return False


def verified_log(api: Api, manifest: Manifest) -> list[Entry]:
    """The whole chain up to the server's latest checkpoint, re-hashed from the genesis.

    Raises ``AuditViolation`` when the chain does not reproduce the checkpoint the instance key
    signed, so nothing is concluded from a log that was rewritten.
    """
    try:
        latest = SignedCheckpoint.from_json(api.audit_checkpoint().model_dump())
    except NotFound:
        return []
    check_checkpoint(latest, manifest)
    entries = fetch_entries(api, after=-1, upto=latest.seq)
    end, head = rehash(-1, GENESIS, entries)
    if (end, head) != (latest.seq, latest.head):
        raise AuditViolation(
            f"The audit log does not reproduce the instance's checkpoint at seq {latest.seq}."
        )
    return entries
