"""Intake rules: channels, challenges and the one-transaction submission.

Invariant 8: a submission is one transaction (spent challenge, case, report, wrapped keys,
idempotency record and audit event together), and the answer with the receipt is produced only
from what was written. A retry with the same idempotency key and body gets the first answer
again, recognised before its challenge counts as spent; the same key with another body is a
conflict. Junk (forged, expired or unsolved challenges, malformed envelopes) is refused before
any database write; a spent challenge costs one read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases import deadlines
from safevoice.cases.models import Case, CaseObject, WrappedKey
from safevoice.clock import round_up
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, member_label
from safevoice.crypto.encoding import b64d, canonical_json
from safevoice.crypto.envelope import GENESIS, Envelope, wrapped_size
from safevoice.crypto.login import digest, random_id
from safevoice.crypto.receipt import issue_receipt
from safevoice.errors import (
    BadEnvelope,
    BadRequest,
    ChallengeRejected,
    ConfigError,
    Conflict,
    NotFound,
    VerificationFailed,
)
from safevoice.instance.service import Snapshot
from safevoice.intake.models import Channel, IdempotencyKey, SpentChallenge
from safevoice.intake.schemas import (
    ChallengeOut,
    ChannelOut,
    Question,
    SubmissionIn,
    SubmissionOut,
)

IDEMPOTENCY_TTL = timedelta(hours=24)
CHALLENGE_PURPOSES = ("submit", "reporter-login", "upload")


def _timestamp(now: datetime) -> int:
    return math.floor(now.timestamp())


def issue_challenge(
    snap: Snapshot, *, purpose: str, now: datetime, ttl_seconds: int
) -> ChallengeOut:
    if purpose not in powmod.PURPOSES:
        raise BadRequest("Unknown challenge purpose.")
    difficulty = snap.difficulty if purpose in CHALLENGE_PURPOSES else 0
    challenge = powmod.issue(
        snap.challenge_key,
        purpose=purpose,
        difficulty=difficulty,
        expires=_timestamp(now) + ttl_seconds,
    )
    return ChallengeOut(
        challenge=challenge.token,
        purpose=purpose,
        difficulty=difficulty,
        expires=challenge.expires,
    )


def parse_questionnaire(raw: str) -> list[Question]:
    return [Question.model_validate(q) for q in json.loads(raw)]


def list_channels(session: Session) -> list[ChannelOut]:
    rows = session.scalars(select(Channel).order_by(Channel.name))
    return [
        ChannelOut(
            name=row.name,
            title=row.title,
            description=row.description,
            questionnaire=parse_questionnaire(row.questionnaire),
        )
        for row in rows
    ]


def spend_challenge(session: Session, challenge: powmod.Challenge) -> None:
    """Remember a challenge as spent until it expires; refuse one that already is."""
    if session.get(SpentChallenge, challenge.digest) is not None:
        raise ChallengeRejected("This challenge was already used; ask for a new one.")
    session.add(
        SpentChallenge(
            digest=challenge.digest,
            expires_at=round_up(datetime.fromtimestamp(challenge.expires, UTC)),
        )
    )


def _validated_report(body: SubmissionIn) -> tuple[Envelope, bytes, bytes]:
    """Pure checks of the case object; returns the envelope and the reporter's keys."""
    case = body.case
    case_id = b64d(case.id, size=16, what="case id")
    reply_key = b64d(case.reporter.reply_key, size=32, what="reply key")
    sign_key = b64d(case.reporter.sign_key, size=32, what="signing key")
    envelope = Envelope.from_json(case.report.model_dump())
    if (
        envelope.case_id != case_id
        or envelope.kind != "report"
        or envelope.sender != REPORTER
        or envelope.seq != 0
        or envelope.prev != GENESIS
        or envelope.epoch != 0
    ):
        raise BadEnvelope("The report envelope must be the first object of this case's thread.")
    try:
        envelope.verify_signature(sign_key)
    except VerificationFailed:
        raise BadEnvelope("The report is not signed by the reporter's key.") from None
    return envelope, reply_key, sign_key


def _validated_wraps(body: SubmissionIn, snap: Snapshot) -> list[tuple[str, bytes]]:
    manifest = snap.require_manifest()
    allowed = {member_label(m.id) for m in manifest.members}
    if manifest.archive is not None:
        allowed.add(f"archive:{manifest.archive.id}")
    labels = [w.recipient for w in body.case.wrapped_keys]
    if len(labels) != len(set(labels)):
        raise BadRequest("A recipient appears twice among the wrapped keys.")
    if labels.count(REPORTER) != 1:
        raise BadRequest("The wrapped keys must include exactly one key for the reporter.")
    members = [label for label in labels if label != REPORTER]
    if any(label not in allowed for label in members):
        raise BadRequest("A wrapped key names a recipient who is not in the current manifest.")
    if not any(label.startswith("member:") for label in members):
        raise BadRequest("At least one committee member must receive the case key.")
    wraps = []
    for wrap in body.case.wrapped_keys:
        sealed = b64d(wrap.sealed, what="wrapped key")
        expected = wrapped_size(wrap.recipient, with_committee=wrap.recipient != REPORTER)
        if len(sealed) != expected:
            raise BadRequest("A wrapped key has the wrong length.")
        wraps.append((wrap.recipient, sealed))
    return wraps


def _stored_answer(
    session: Session, key_digest: bytes, request_digest: bytes
) -> SubmissionOut | None:
    row = session.get(IdempotencyKey, key_digest)
    if row is None:
        return None
    if row.request_digest != request_digest:
        raise Conflict("This idempotency key was already used for a different submission.")
    return SubmissionOut.model_validate_json(row.response)


def submit(
    session: Session,
    snap: Snapshot,
    *,
    body: SubmissionIn,
    idempotency_key: str,
    now: datetime,
) -> SubmissionOut:
    """Accept a new case in one transaction, or return the first answer to a retry."""
    key_digest = digest("safevoice-idempotency-v1", idempotency_key)
    request_digest = digest("safevoice-request-v1", canonical_json(body.model_dump()))

    challenge = powmod.parse(body.proof.challenge)
    try:
        powmod.authenticate(
            snap.challenge_key, body.proof.challenge, purpose="submit", now=_timestamp(now)
        )
    except ChallengeRejected:
        # A retry of a submission that was accepted may come after its challenge expired.
        if challenge.expires <= _timestamp(now):
            answer = _stored_answer(session, key_digest, request_digest)
            if answer is not None:
                return answer
        raise
    if not powmod.solves(challenge, body.proof.solution):
        raise ChallengeRejected("The proof of work does not solve the challenge.")
    envelope, reply_key, sign_key = _validated_report(body)
    wraps = _validated_wraps(body, snap)

    answer = _stored_answer(session, key_digest, request_digest)
    if answer is not None:
        return answer
    try:
        answer = _insert_case(
            session,
            snap,
            body=body,
            envelope=envelope,
            reply_key=reply_key,
            sign_key=sign_key,
            wraps=wraps,
            challenge=challenge,
            key_digest=key_digest,
            request_digest=request_digest,
            now=now,
        )
        session.flush()
    except IntegrityError:
        # A concurrent copy of this request won the race, or the ids collide.
        session.rollback()
        answer = _stored_answer(session, key_digest, request_digest)
        if answer is not None:
            return answer
        if session.get(SpentChallenge, challenge.digest) is not None:
            raise ChallengeRejected("This challenge was already used; ask for a new one.") from None
        raise Conflict(
            "A case with this id already exists; the client must pick a new id."
        ) from None
    return answer


def _insert_case(
    session: Session,
    snap: Snapshot,
    *,
    body: SubmissionIn,
    envelope: Envelope,
    reply_key: bytes,
    sign_key: bytes,
    wraps: list[tuple[str, bytes]],
    challenge: powmod.Challenge,
    key_digest: bytes,
    request_digest: bytes,
    now: datetime,
) -> SubmissionOut:
    manifest = snap.require_manifest()
    channel = session.get(Channel, body.case.channel)
    if channel is None:
        raise NotFound("There is no such channel.")
    spend_challenge(session, challenge)
    today: date = snap.today(now)
    case_id = body.case.id
    report_hash = envelope.transcript_hash()
    session.add(
        Case(
            id=case_id,
            channel=channel.name,
            status="received",
            intake_mode="e2e",
            received_on=today,
            ack_due_on=deadlines.ack_due(today),
            feedback_due_on=deadlines.feedback_due(today, None),
            acknowledged_on=None,
            closed_on=None,
            outcome=None,
            epoch=0,
            reply_key=reply_key,
            sign_key=sign_key,
            thread_next=1,
            thread_head=report_hash,
            committee_next=0,
            committee_head=GENESIS,
        )
    )
    session.flush()
    session.add(
        CaseObject(
            id=random_id(),
            case_id=case_id,
            chain="thread",
            seq=0,
            kind="report",
            sender=REPORTER,
            epoch=0,
            envelope=canonical_json(envelope.to_json()),
            hash=report_hash,
        )
    )
    for recipient, sealed in wraps:
        session.add(WrappedKey(case_id=case_id, epoch=0, recipient=recipient, sealed=sealed))
    receipt = issue_receipt(
        snap.instance_seed,
        instance_id=manifest.instance_id,
        case_id=case_id,
        report_hash=report_hash,
        day=today.isoformat(),
    )
    answer = SubmissionOut.model_validate(
        {"case_id": case_id, "received_on": today, "receipt": receipt.to_json()}
    )
    session.add(
        IdempotencyKey(
            key_digest=key_digest,
            request_digest=request_digest,
            response=answer.model_dump_json().encode(),
            expires_at=round_up(now + IDEMPOTENCY_TTL),
        )
    )
    audit.record(
        session,
        event="case.received",
        case_id=case_id,
        actor=audit.REPORTER,
        on=today,
        detail={"channel": channel.name},
    )
    return answer


def seed_channels(session: Session, channels: list[dict[str, object]]) -> int:
    """Create or update channels from the configuration file; return how many were written."""
    count = 0
    for raw in channels:
        try:
            name = str(raw["name"])
            questionnaire = [Question.model_validate(q) for q in raw.get("questions", [])]  # type: ignore[attr-defined]
            retention = raw["retention"]
            if not isinstance(retention, dict):
                raise TypeError
            values = {
                "title": str(raw.get("title", name)),
                "description": str(raw.get("description", "")),
                "questionnaire": json.dumps([q.model_dump() for q in questionnaire]),
                "retain_days_after_closure": int(retention["days_after_closure"]),
                "retain_max_days": int(retention["max_age_days"]),
                "retain_unused_days": int(retention["unused_days"]),
            }
        except KeyError as exc:
            raise ConfigError(
                f"A channel in the configuration lacks {exc.args[0]!r}; every channel needs a "
                "name and a retention policy."
            ) from None
        except (TypeError, ValueError, ValidationError):
            raise ConfigError("A channel in the configuration is malformed.") from None
        row = session.get(Channel, name)
        if row is None:
            session.add(Channel(name=name, **values))
        else:
            for attr, value in values.items():
                setattr(row, attr, value)
        count += 1
    return count
