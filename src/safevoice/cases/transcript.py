"""The case's two hash chains: who may write to a case, and appending the next object.

Appending (invariant 7): an object is accepted only as the next one of its chain (its sequence
number is the chain's length and its ``prev`` the chain's head hash, otherwise 409), in the
case's current epoch, from the sender the session belongs to, with a valid signature by that
sender. The server cannot read what it stores; readers re-check everything.

The dialogue (messages, notes) and the committee's workflow (status, re-key, actions) both write
through this one module, so the chain rules exist once and neither domain imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from safevoice.cases import service as cases
from safevoice.cases.models import Case, CaseObject
from safevoice.crypto.casefile import REPORTER, archive_label, member_label
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.envelope import Envelope, chain_of
from safevoice.crypto.login import random_id
from safevoice.errors import BadEnvelope, Conflict, Forbidden, NotFound, VerificationFailed
from safevoice.instance.service import Snapshot
from safevoice.members.service import Principal
from safevoice.protocol.wire import ObjectOut


@dataclass(frozen=True)
class Author:
    """Who is writing to a case: the label objects must name, and the key that signs them."""

    label: str
    sign_key: bytes

    @property
    def is_reporter(self) -> bool:
        return self.label == REPORTER


def author_for(
    session: Session,
    snap: Snapshot,
    principal: Principal,
    case: Case,
    *,
    allow_archive: bool = False,
) -> Author:
    """The writer behind a session, if they may write to this case at all.

    The archive recipient writes only where the caller allows it (the re-key).
    """
    if principal.role == "reporter":
        if principal.subject != case.id:
            raise NotFound(cases.NOT_FOUND)
        return Author(label=REPORTER, sign_key=case.sign_key)
    if principal.role == "archive" and allow_archive:
        cases.readable_case(session, label=principal.label, case_id=case.id)
        archive = snap.require_manifest().archive
        if archive is None or archive.id != principal.subject:
            raise Forbidden("The archive key is no longer in the committee's manifest.")
        return Author(label=archive_label(archive.id), sign_key=archive.sign_key)
    if principal.role != "member":
        raise Forbidden("Only the reporter and committee members may write to a case.")
    cases.readable_case(session, label=member_label(principal.subject), case_id=case.id)
    member = snap.require_manifest().member(principal.subject)
    if member is None:
        raise Forbidden("You are no longer in the committee's manifest.")
    return Author(label=member_label(member.id), sign_key=member.sign_key)


def load_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(cases.NOT_FOUND)
    return case


def refuse_if_rekey_needed(case: Case, *, reporter: bool = False) -> None:
    """Nothing new is written under keys that a recused or departed member, or a lost key,
    could still open: the case waits until a remaining recipient re-keys it."""
    if not case.rekey_needed:
        return
    if reporter:
        raise Conflict(
            "The committee is renewing the keys of this case, so your message was not sent; "
            "please try again later."
        )
    raise Conflict(
        "A member recused from this case or the committee's keys changed: it must be re-keyed "
        "(safevoice cases rekey) before anything new is written."
    )


def append(
    session: Session,
    case: Case,
    author: Author,
    envelope_json: dict[str, object],
    *,
    kinds: frozenset[str],
    on: date,
    epoch: int | None = None,
) -> tuple[Envelope, ObjectOut]:
    """Append one object if it is exactly the next one of its chain, from this author.

    ``epoch`` is the epoch the object must be in (the case's current one unless a re-key
    starts the next); ``on`` is the instance's day, which the case's change marker takes. The
    caller records the audit event.
    """
    envelope = Envelope.from_json(envelope_json)
    if envelope.kind not in kinds:
        raise Forbidden("You may not add this kind of object to the case here.")
    if envelope.case_id != b64d(case.id, size=16, what="case id"):
        raise BadEnvelope("The object was made for another case.")
    if envelope.sender != author.label:
        raise BadEnvelope("The object names another sender than the one logged in.")
    if envelope.epoch != (case.epoch if epoch is None else epoch):
        raise Conflict("The case has moved to a new key epoch; reload it and encrypt again.")
    try:
        envelope.verify_signature(author.sign_key)
    except VerificationFailed:
        raise BadEnvelope("The object is not signed by its sender.") from None
    chain = chain_of(envelope.kind)
    if chain == "thread":
        expected_seq, head = case.thread_next, case.thread_head
    else:
        expected_seq, head = case.committee_next, case.committee_head
    if envelope.seq != expected_seq or envelope.prev != head:
        raise Conflict(
            "Someone else wrote to the case in the meantime (or this object is not the next "
            "one); reload the case and try again."
        )
    digest = envelope.transcript_hash()
    values: dict[str, object]
    if chain == "thread":
        values = {"thread_next": expected_seq + 1, "thread_head": digest}
        if author.is_reporter:
            values["last_reporter_seq"] = expected_seq
        column = Case.thread_next
    else:
        values = {"committee_next": expected_seq + 1, "committee_head": digest}
        column = Case.committee_next
    values.update(cases.changed(on))
    moved = session.execute(
        update(Case).where(Case.id == case.id, column == expected_seq).values(**values)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]  # Session.execute is typed as Result; an UPDATE/DELETE returns a CursorResult, which has rowcount
        raise Conflict("Someone else wrote to the case in the meantime; reload it and try again.")
    session.add(
        CaseObject(
            id=random_id(),
            case_id=case.id,
            chain=chain,
            seq=envelope.seq,
            kind=envelope.kind,
            sender=envelope.sender,
            epoch=envelope.epoch,
            envelope=canonical_json(envelope.to_json()),
            hash=digest,
        )
    )
    return envelope, ObjectOut(chain=chain, seq=envelope.seq, hash=b64e(digest))
