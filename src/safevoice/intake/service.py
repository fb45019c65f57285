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
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.attachments import service as attachments
from safevoice.attachments.models import Attachment
from safevoice.audit import service as audit
from safevoice.audit.models import AuditStaging
from safevoice.cases.models import Case, CaseObject, WrappedKey
from safevoice.clock import DAY, round_up
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
from safevoice.instance.challenges import check_work
from safevoice.instance.models import Channel, SpentChallenge
from safevoice.instance.service import Snapshot
from safevoice.intake.models import IdempotencyKey
from safevoice.protocol import deadlines
from safevoice.protocol.wire import (
    ChallengeOut,
    ChannelOut,
    ChannelText,
    Question,
    QuestionText,
    RetentionOut,
    SubmissionIn,
    SubmissionOut,
)
from safevoice.storage.batch import Rows, RowWriter
from safevoice.storage.db import Database
from safevoice.storage.dialect import single_statement_reader
from safevoice.storage.idempotency import earlier_answer

IDEMPOTENCY_TTL = timedelta(hours=24)
CHALLENGE_PURPOSES = ("submit", "reporter-login", "upload", "survey")
MIN_DIFFICULTY = 1


def _timestamp(now: datetime) -> int:
    return math.floor(now.timestamp())


def issue_challenge(
    snap: Snapshot, *, purpose: str, now: datetime, ttl_seconds: int, extra_difficulty: int = 0
) -> ChallengeOut:
    if purpose not in powmod.PURPOSES:
        raise BadRequest("Unknown challenge purpose.")
    if purpose in CHALLENGE_PURPOSES:
        extra_difficulty += snap.surge_at(now)  # raised while the intake is flooded
    # Proof-of-work purposes always cost at least one Argon2id evaluation to verify.
    difficulty = (
        min(powmod.MAX_DIFFICULTY, max(MIN_DIFFICULTY, snap.difficulty) + extra_difficulty)
        if purpose in CHALLENGE_PURPOSES
        else 0
    )
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
            translations={
                lang: ChannelText.model_validate(text)
                for lang, text in json.loads(row.translations).items()
            },
            retention=RetentionOut(
                days_after_closure=row.retain_days_after_closure,
                max_age_days=row.retain_max_days,
            ),
        )
        for row in rows
    ]


def _validated_report(body: SubmissionIn, snap: Snapshot) -> tuple[Envelope, bytes, bytes]:
    """Pure checks of the case object; returns the envelope and the reporter's keys."""
    case = body.case
    case_id = b64d(case.id, size=16, what="case id")
    reply_key = b64d(case.reporter.reply_key, size=32, what="reply key")
    sign_key = b64d(case.reporter.sign_key, size=32, what="signing key")
    envelope = Envelope.from_json(case.report.model_dump())
    if envelope.version not in snap.require_manifest().envelope_versions:
        raise BadEnvelope("The manifest does not allow this envelope version.")
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
    if manifest.archive is not None and f"archive:{manifest.archive.id}" not in members:
        raise BadRequest("The manifest names an archive recipient; it must receive the case key.")
    wraps = []
    for wrap in body.case.wrapped_keys:
        sealed = b64d(wrap.sealed, what="wrapped key")
        expected = wrapped_size(wrap.recipient, with_committee=wrap.recipient != REPORTER)
        if len(sealed) != expected:
            raise BadRequest("A wrapped key has the wrong length.")
        wraps.append((wrap.recipient, sealed))
    return wraps


def _stored_answer(
    session: Connection, key_digest: bytes, request_digest: bytes
) -> SubmissionOut | None:
    stored = earlier_answer(
        session, key_digest=key_digest, request_digest=request_digest, what="submission"
    )
    return None if stored is None else SubmissionOut.model_validate_json(stored)


def submit(
    writer: RowWriter,
    database: Database,
    snap: Snapshot,
    *,
    body: SubmissionIn,
    idempotency_key: str,
    now: datetime,
) -> SubmissionOut:
    """Accept a new case in one transaction, or return the first answer to a retry.

    Every check that can refuse a request runs before the write: the pure ones first
    (challenge, proof of work, envelope), then one lookup on the reader connection, which
    never waits for writers. The write then only inserts, atomically, through ``writer``.
    This is the hottest path under a flood, so it uses plain connections, not ORM sessions.
    """
    key_digest = digest("safevoice-idempotency-v1", idempotency_key)
    # The parsed body serialised by pydantic: the same for the same request, whatever spacing
    # or key order the client used.
    request_digest = digest("safevoice-request-v1", body.model_dump_json())

    challenge = powmod.parse(body.proof.challenge)
    try:
        powmod.authenticate(
            snap.challenge_key, body.proof.challenge, purpose="submit", now=_timestamp(now)
        )
    except ChallengeRejected:
        # A retry of a submission that was accepted may come after its challenge expired.
        if challenge.expires <= _timestamp(now):
            with single_statement_reader(database) as reader:
                answer = _stored_answer(reader, key_digest, request_digest)
            if answer is not None:
                return answer
        raise
    check_work(challenge, body.proof.solution)
    envelope, reply_key, sign_key = _validated_report(body, snap)
    wraps = _validated_wraps(body, snap)

    if body.case.channel not in snap.channels:
        raise NotFound("There is no such channel.")
    with single_statement_reader(database) as reader:
        answer = _check_unused(
            reader,
            key_digest=key_digest,
            request_digest=request_digest,
            challenge=challenge,
            case_id=body.case.id,
            sign_key=sign_key,
        )
    if answer is not None:
        return answer
    if body.case.uploads:
        with database.session(write=False) as session:
            attachments.check_bindable(
                session, case_id=body.case.id, upload_ids=body.case.uploads, now=now
            )
    rows, answer = _case_rows(
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
    try:
        writer.write(rows)
    except IntegrityError:
        # A concurrent copy of this request won the race (or ids collided in between): look
        # again in a fresh transaction, which sees what the winner committed.
        with single_statement_reader(database) as reader:
            earlier = _check_unused(
                reader,
                key_digest=key_digest,
                request_digest=request_digest,
                challenge=challenge,
                case_id=body.case.id,
                sign_key=sign_key,
            )
        if earlier is not None:
            return earlier
        raise
    return answer


# Plain SQL, compiled once: this runs for every submission and every junk request.
_UNUSED_QUERY = text(
    "SELECT"
    " (SELECT request_digest FROM idempotency_key WHERE key_digest = :key),"
    " (SELECT response FROM idempotency_key WHERE key_digest = :key),"
    " EXISTS (SELECT 1 FROM spent_challenge WHERE digest = :challenge),"
    " EXISTS (SELECT 1 FROM case_file WHERE id = :case),"
    " EXISTS (SELECT 1 FROM case_file WHERE sign_key = :sign_key)"
)


def _check_unused(
    session: Connection,
    *,
    key_digest: bytes,
    request_digest: bytes,
    challenge: powmod.Challenge,
    case_id: str,
    sign_key: bytes,
) -> SubmissionOut | None:
    """One query for everything a new submission must not reuse.

    Returns the stored answer of an earlier identical request, refuses a reused idempotency
    key, challenge, case id or follow-up code, and returns None for a fresh submission.
    """
    row = session.execute(
        _UNUSED_QUERY,
        {"key": key_digest, "challenge": challenge.digest, "case": case_id, "sign_key": sign_key},
    ).one()
    earlier_digest, earlier_response, spent, case_taken, code_taken = row
    if earlier_digest is not None:
        if earlier_digest != request_digest:
            raise Conflict("This idempotency key was already used for a different submission.")
        return SubmissionOut.model_validate_json(earlier_response)
    if spent:
        raise ChallengeRejected("This challenge was already used; ask for a new one.")
    if case_taken:
        raise Conflict("A case with this id already exists; the client must pick a new id.")
    if code_taken:
        raise Conflict(
            "This follow-up code already belongs to another case; a new report needs a new code."
        )
    return None


def _case_rows(
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
) -> tuple[Rows, SubmissionOut]:
    """All rows of a new case, and the answer the reporter gets once they are committed."""
    rows, answer = case_rows(
        snap,
        case_id=body.case.id,
        channel=body.case.channel,
        envelope=envelope,
        reply_key=reply_key,
        sign_key=sign_key,
        wraps=wraps,
        intake_mode="e2e",
        now=now,
        uploads=body.case.uploads,
    )
    spent_row = {
        "digest": challenge.digest,
        "expires_at": round_up(datetime.fromtimestamp(challenge.expires, UTC)),
    }
    idempotency_row = {
        "key_digest": key_digest,
        "request_digest": request_digest,
        "response": answer.model_dump_json().encode(),
        # The answer names the case: a whole day, so the row never says when in the day it came.
        "expires_at": round_up(now + IDEMPOTENCY_TTL, DAY),
    }
    return [
        (SpentChallenge, [spent_row]),
        *rows,
        (IdempotencyKey, [idempotency_row]),
    ], answer


def case_rows(
    snap: Snapshot,
    *,
    case_id: str,
    channel: str,
    envelope: Envelope,
    reply_key: bytes,
    sign_key: bytes,
    wraps: list[tuple[str, bytes]],
    intake_mode: str,
    now: datetime,
    uploads: list[str] | None = None,
) -> tuple[Rows, SubmissionOut]:
    """The case, its report, its wrapped keys, its attachments and the staged audit event,
    with the answer
    (and receipt) the reporter gets once they are committed."""
    manifest = snap.require_manifest()
    today: date = snap.today(now)
    report_hash = envelope.transcript_hash()
    receipt = issue_receipt(
        snap.instance_seed,
        instance_id=manifest.instance_id,
        case_id=case_id,
        report_hash=report_hash,
        day=today.isoformat(),
    )
    answer = SubmissionOut.model_validate(
        {
            "case_id": case_id,
            "received_on": today,
            "receipt": receipt.to_json(),
            "ack_due_on": deadlines.ack_due(today),
            "feedback_due_on": deadlines.feedback_due(today, None),
        }
    )
    case_row = {
        "id": case_id,
        "channel": channel,
        "status": "received",
        "intake_mode": intake_mode,
        "received_on": today,
        "ack_due_on": deadlines.ack_due(today),
        "feedback_due_on": deadlines.feedback_due(today, None),
        "acknowledged_on": None,
        "closed_on": None,
        "outcome": None,
        "epoch": 0,
        "reply_key": reply_key,
        "sign_key": sign_key,
        "thread_next": 1,
        "last_reporter_seq": 0,
        "thread_head": report_hash,
        "committee_next": 0,
        "committee_head": GENESIS,
    }
    object_row = {
        "id": random_id(),
        "case_id": case_id,
        "chain": "thread",
        "seq": 0,
        "kind": "report",
        "sender": REPORTER,
        "epoch": 0,
        "envelope": canonical_json(envelope.to_json()),
        "hash": report_hash,
    }
    wrap_rows = [
        {"case_id": case_id, "epoch": 0, "recipient": recipient, "sealed": sealed}
        for recipient, sealed in wraps
    ]
    audit_row = audit.staged_row(
        event="case.received", case_id=case_id, on=today, detail={"channel": channel}
    )
    rows: Rows = [
        (Case, [case_row]),
        (CaseObject, [object_row]),
        (WrappedKey, wrap_rows),
        (AuditStaging, [audit_row]),
        (Attachment, attachments.attachment_rows(case_id, uploads or [], seq=0)),
    ]
    return rows, answer


def _texts(
    value: object, *, channel: str, what: str, default: str, languages: tuple[str, ...]
) -> dict[str, str]:
    """A configured text in each of the instance's languages. A plain text is the default
    language's (enough when that is the only language); a table gives one text per language
    (``[channels.title]`` with ``en = "…"``, ``de = "…"``) and must give every language."""
    if value == "":
        return dict.fromkeys(languages, "")
    if isinstance(value, str):
        given = {default: value}
    elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        given = {str(lang): str(text) for lang, text in value.items()}
    else:
        raise ConfigError(
            f"Channel {channel!r}: {what} is neither a text nor a table of texts by language."
        )
    listed = ", ".join(languages)
    for lang in given:
        if lang not in languages:
            raise ConfigError(
                f"Channel {channel!r}: {what} has a text in {lang!r}, which is not one of the "
                f"instance's languages ({listed})."
            )
    for lang in languages:
        if not given.get(lang):
            raise ConfigError(
                f"Channel {channel!r}: {what} has no text in {lang!r}; give it as a table with "
                f"one text per language ({listed})."
            )
    return given


def _channel_texts(
    raw: dict[str, object], name: str, *, default: str, languages: tuple[str, ...]
) -> tuple[str, str, list[Question], dict[str, ChannelText]]:
    """A configured channel's title, description and questions in the default language, and
    its texts in the instance's other languages."""

    def texts(value: object, what: str) -> dict[str, str]:
        return _texts(value, channel=name, what=what, default=default, languages=languages)

    titles = texts(raw["title"], "the title") if "title" in raw else dict.fromkeys(languages, name)
    descriptions = texts(raw.get("description", ""), "the description")
    questions: list[Question] = []
    asked: dict[str, dict[str, QuestionText]] = {lang: {} for lang in languages}
    entries = raw.get("questions", [])
    if not isinstance(entries, list):
        raise TypeError
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError
        what = f"the question {str(entry.get('id', ''))!r}"
        labels = texts(entry.get("label", ""), f"the label of {what}")
        helps = texts(entry.get("help", ""), f"the help of {what}")
        for lang in languages:
            # Each language's texts must fit the question's limits too.
            question = Question.model_validate(
                {**entry, "label": labels[lang], "help": helps[lang]}
            )
            asked[lang][question.id] = QuestionText(label=question.label, help=question.help)
            if lang == default:
                questions.append(question)
    translations = {
        lang: ChannelText(title=titles[lang], description=descriptions[lang], questions=asked[lang])
        for lang in languages
        if lang != default
    }
    return titles[default], descriptions[default], questions, translations


def seed_channels(
    session: Session,
    channels: list[dict[str, object]],
    *,
    default: str = "en",
    languages: tuple[str, ...] = (),
) -> int:
    """Create or update channels from the configuration file; return how many were written.

    ``languages`` are the languages the channels' texts are given in (``default``, the
    instance's default language, when empty); each text must be given in each of them."""
    languages = languages or (default,)
    count = 0
    for raw in channels:
        try:
            name = str(raw["name"])
            title, description, questionnaire, translations = _channel_texts(
                raw, name, default=default, languages=languages
            )
            retention = raw["retention"]
            if not isinstance(retention, dict):
                raise TypeError
            values = {
                "title": title,
                "description": description,
                "questionnaire": json.dumps([q.model_dump() for q in questionnaire]),
                "translations": json.dumps(
                    {lang: text.model_dump() for lang, text in translations.items()},
                    sort_keys=True,
                ),
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
