"""Rules of the dialogue: reporter login with the follow-up code, and appending to a chain.

Reporter login (invariant 4): the client proves possession of the signing key derived from the
code by signing a fresh, proof-of-work-protected challenge. The server finds the case by that
public key; an unknown key and a wrong signature get the same answer after the same work, and
each failed attempt raises the difficulty of the next challenges, so guessing codes is hopeless
and tells nothing about which cases exist. A case id alone never logs anyone in.

Appending (invariant 7) goes through ``safevoice.cases.transcript``, which holds the chain rules
for the dialogue and the committee's workflow alike.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.attachments import service as attachments
from safevoice.audit import service as audit
from safevoice.cases import service as cases
from safevoice.cases.models import Case, CaseObject, WrappedKey
from safevoice.cases.transcript import append, author_for, load_case, refuse_if_rekey_needed
from safevoice.clock import round_up
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.login import token_digest, verify_login
from safevoice.dialogue.models import LoginFailureWindow
from safevoice.dialogue.schemas import ReporterLoginIn
from safevoice.errors import (
    BadRequest,
    Conflict,
    Unauthorized,
    VerificationFailed,
)
from safevoice.instance.challenges import check_work, spend_challenge
from safevoice.instance.service import Snapshot
from safevoice.members.models import LoginSession
from safevoice.members.service import Principal, reporter_token
from safevoice.protocol.wire import (
    ObjectOut,
    ReporterCaseInfo,
    ReporterCaseView,
    ReporterTokenOut,
    WrappedKeyOut,
)
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
    if updated.rowcount == 0:  # type: ignore[attr-defined]  # Session.execute is typed as Result; an UPDATE/DELETE returns a CursorResult, which has rowcount
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
    check_work(challenge, body.solution)
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


def reporter_view(session: Session, *, case_id: str, today: date) -> ReporterCaseView:
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
            today=today,
            ack_overdue=cases.ack_overdue(case, today=today),
            feedback_overdue=cases.feedback_overdue(case, today=today),
        ),
        objects=[cases.object_out(o) for o in objects],
        wrapped_keys=[
            WrappedKeyOut(epoch=w.epoch, recipient=w.recipient, sealed=b64e(w.sealed))
            for w in wraps
        ],
    )


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
    today = snap.today(now)
    envelope, posted = append(session, case, author, envelope_json, kinds=kinds, on=today)
    if uploads:
        if envelope.chain != "thread":
            raise BadRequest("Files go with messages in the thread.")
        attachments.bind(session, case_id=case.id, upload_ids=uploads, seq=posted.seq, now=now)
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
