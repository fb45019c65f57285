"""Rules of the dialogue: reporter login with the follow-up code, and appending to a chain.

Reporter login (invariant 4): the client proves possession of the signing key derived from the
code by signing a fresh, proof-of-work-protected challenge. The server finds the case by that
public key; an unknown key and a wrong signature get the same answer after the same work, and
each failed attempt raises the difficulty of the next challenges, so guessing codes is hopeless
and tells nothing about which cases exist. A case id alone never logs anyone in.

Appending (invariant 7): an object is accepted only as the next one of its chain (its sequence
number is the chain's length and its ``prev`` the chain's head hash, otherwise 409), in the
case's current epoch, from the sender the session belongs to, with a valid signature by that
sender. The server cannot read what it stores; readers re-check everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.attachments import service as attachments
from safevoice.audit import service as audit
from safevoice.cases import service as cases
from safevoice.cases.models import Case, CaseObject, WrappedKey
from safevoice.cases.schemas import WrappedKeyOut
from safevoice.clock import round_up
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, archive_label, member_label
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.envelope import Envelope, chain_of
from safevoice.crypto.login import random_id, token_digest, verify_login
from safevoice.dialogue.models import LoginFailureWindow
from safevoice.dialogue.schemas import (
    ObjectOut,
    ReporterCaseInfo,
    ReporterCaseView,
    ReporterLoginIn,
    ReporterTokenOut,
)
from safevoice.errors import (
    BadEnvelope,
    BadRequest,
    ChallengeRejected,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    VerificationFailed,
)
from safevoice.instance.challenges import spend_challenge
from safevoice.instance.service import Snapshot
from safevoice.members.models import LoginSession
from safevoice.members.service import Principal, reporter_token
from safevoice.storage.db import Database

REPORTER_LOGIN_FAILED = (
    "Login failed: the follow-up code is not right, or the case no longer exists. "
    "Check the code character by character."
)
REPORTER_SESSION = timedelta(minutes=20)
FAILURES_BEFORE_PENALTY = 10
MAX_PENALTY = 8

# Kinds each role may append through this path. Status changes, epoch records and the other
# committee kinds carry workflow rules of their own and are appended by the case workflow.
REPORTER_KINDS = frozenset({"message"})
MEMBER_KINDS = frozenset({"message", "note", "triage"})


def _window(now: datetime) -> str:
    return "reporter:" + now.strftime("%Y-%m-%dT%H")


def login_penalty(session: Session, *, now: datetime) -> int:
    """Extra proof-of-work bits for reporter logins: about one per doubling of recent failures."""
    windows = [_window(now), _window(now - timedelta(hours=1))]
    failures = (
        session.scalar(
            select(LoginFailureWindow.count).where(LoginFailureWindow.window == windows[0])
        )
        or 0
    )
    failures += (
        session.scalar(
            select(LoginFailureWindow.count).where(LoginFailureWindow.window == windows[1])
        )
        or 0
    )
    if failures < FAILURES_BEFORE_PENALTY:
        return 0
    return min(MAX_PENALTY, 1 + int(math.log2(failures / FAILURES_BEFORE_PENALTY)))


def count_login_failure(session: Session, now: datetime) -> None:
    """Count a failed reporter login towards the difficulty of the next challenges."""
    window = _window(now)
    updated = session.execute(
        update(LoginFailureWindow)
        .where(LoginFailureWindow.window == window)
        .values(count=LoginFailureWindow.count + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(LoginFailureWindow(window=window, count=1))
        except IntegrityError:
            session.execute(
                update(LoginFailureWindow)
                .where(LoginFailureWindow.window == window)
                .values(count=LoginFailureWindow.count + 1)
            )
    stale = _window(now - timedelta(days=1))
    session.execute(delete(LoginFailureWindow).where(LoginFailureWindow.window < stale))


def reporter_login(
    database: Database, snap: Snapshot, *, body: ReporterLoginIn, now: datetime
) -> ReporterTokenOut:
    """Open a short reporter session, or refuse with one answer for every kind of failure.

    The challenge is spent and a failure counted in a transaction of their own, so a refused
    attempt still costs the guesser its proof of work and raises the difficulty.
    """
    manifest = snap.require_manifest()
    challenge = powmod.authenticate(
        snap.challenge_key, body.challenge, purpose="reporter-login", now=int(now.timestamp())
    )
    if not powmod.solves(challenge, body.solution):
        raise ChallengeRejected("The proof of work does not solve the challenge.")
    sign_key = b64d(body.sign_key, size=32, what="signing key")
    try:
        verify_login(
            sign_key,
            b64d(body.signature, size=64, what="signature"),
            manifest.instance_id,
            challenge,
        )
        signed = True
    except VerificationFailed:
        signed = False
    token = ""
    with database.unit_of_work() as session:
        spend_challenge(session, challenge)
        # Looked up whatever the signature said, so both failures take the same work.
        case_id = case_of_reporter(session, sign_key)
        if signed and case_id is not None:
            token = reporter_token(case_id)
            # No case id in the row: it would tie the case to the quarter hour of this login.
            session.add(
                LoginSession(
                    token_digest=token_digest(token),
                    role="reporter",
                    subject="",
                    expires_at=round_up(now + REPORTER_SESSION),
                )
            )
        else:
            count_login_failure(session, now)
    if not signed or case_id is None:
        raise Unauthorized(REPORTER_LOGIN_FAILED)
    return ReporterTokenOut(token=token, expires_at=now + REPORTER_SESSION)


def case_of_reporter(session: Session, sign_key: bytes) -> str | None:
    """The case whose reporter holds this signing key (every case has its own code)."""
    return session.scalar(select(Case.id).where(Case.sign_key == sign_key))


def reporter_view(session: Session, *, case_id: str) -> ReporterCaseView:
    """The reporter's case: status and deadlines, the thread, and the reporter's wrapped key.

    Never the committee chain: its objects are not even sent.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise Unauthorized("Your session has expired or is not valid; log in again.")
    objects = session.scalars(
        select(CaseObject)
        .where(CaseObject.case_id == case.id, CaseObject.chain == "thread")
        .order_by(CaseObject.seq)
    )
    wraps = session.scalars(
        select(WrappedKey).where(WrappedKey.case_id == case.id, WrappedKey.recipient == REPORTER)
    )
    return ReporterCaseView(
        case=ReporterCaseInfo(
            id=case.id,
            status=case.status,
            received_on=case.received_on,
            ack_due_on=case.ack_due_on,
            feedback_due_on=case.feedback_due_on,
            acknowledged_on=case.acknowledged_on,
            closed_on=case.closed_on,
            epoch=case.epoch,
        ),
        objects=[cases.object_out(o) for o in objects],
        wrapped_keys=[
            WrappedKeyOut(epoch=w.epoch, recipient=w.recipient, sealed=b64e(w.sealed))
            for w in wraps
        ],
    )


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
    epoch: int | None = None,
) -> tuple[Envelope, ObjectOut]:
    """Append one object if it is exactly the next one of its chain, from this author.

    ``epoch`` is the epoch the object must be in (the case's current one unless a re-key
    starts the next). The caller records the audit event.
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
    moved = session.execute(
        update(Case).where(Case.id == case.id, column == expected_seq).values(**values)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
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


def append_object(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    envelope_json: dict[str, object],
    now: datetime,
    feedback: bool = False,
    uploads: list[str] | None = None,
) -> ObjectOut:
    """Append a message (thread) or a note or triage record (committee chain)."""
    case = load_case(session, case_id)
    author = author_for(session, snap, principal, case)
    refuse_if_rekey_needed(case, reporter=author.is_reporter)
    kinds = REPORTER_KINDS if author.is_reporter else MEMBER_KINDS
    envelope, posted = append(session, case, author, envelope_json, kinds=kinds)
    if uploads:
        if envelope.chain != "thread":
            raise BadRequest("Files go with messages in the thread.")
        attachments.bind(session, case_id=case.id, upload_ids=uploads, now=now)
    today = snap.today(now)
    if feedback and not author.is_reporter and envelope.chain == "thread":
        if case.acknowledged_on is None:
            raise Conflict("Acknowledge the case before giving feedback.")
        if case.feedback_on is None:
            case.feedback_on = today
    audit.record(
        session,
        event="message.posted" if envelope.chain == "thread" else f"{envelope.kind}.added",
        case_id=case.id,
        actor=audit.REPORTER if author.is_reporter else author.label,
        on=today,
    )
    return posted
