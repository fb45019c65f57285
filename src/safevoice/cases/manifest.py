"""Publishing a committee-signed manifest, and what it changes at once.

The instance stores the manifest (``instance.service.store_manifest``); a manifest that removes
or replaces keys also ends the sessions opened with them (members' sessions) and makes the cases
still wrapped to them wait for a re-key (cases' table). All three happen in the caller's one
transaction, so a server never runs under a new manifest while a departed member's session or
an unflagged case remains.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases import service as cases
from safevoice.crypto.manifest import Manifest, SignedManifest
from safevoice.instance import service as instance
from safevoice.members import service as members


def publish_manifest(
    session: Session,
    signed: SignedManifest,
    *,
    today: date,
    now: datetime,
    accept_new_root: bool = False,
) -> Manifest:
    """Store ``signed`` as the current manifest (a repeat of the current one changes nothing)."""
    published = instance.store_manifest(
        session, signed, today=today, now=now, accept_new_root=accept_new_root
    )
    if not published.new:
        return published.manifest
    members.end_sessions_of(session, published.changed)
    rekey_needed = cases.flag_for_rekey(session, published.changed, on=today)
    audit.record(
        session,
        event="manifest.published",
        case_id=None,
        actor=instance.OPERATOR,
        on=today,
        detail={
            "version": published.manifest.version,
            "root": published.manifest.root,
            "rekey_needed": rekey_needed,
        },
    )
    return published.manifest
