"""The server-sealed intake: the no-JavaScript form, for onion deployments that want Tor Browser
at its "Safest" level (off unless the operator turns it on).

The server does in memory what a reporter's client does (DESIGN.md, "No-JavaScript fallback"):
it generates the follow-up code, stretches it with the manifest's Argon2id parameters, encrypts
the report to the published manifest's members with ``safevoice.crypto.casefile.create_case``,
and stores the case exactly like an end-to-end one, marked ``server_sealed`` and with an audit
entry saying so. The plaintext exists only in this process's memory during the request: it is
never written, logged or put in an error message. Python cannot wipe a string, so the memory is
released, not overwritten; SECURITY.md states this. No proof of work is asked: the onion
service's own proof of work protects this form, and ``Settings.nojs_concurrency`` bounds how
many derivations (64 MiB or more each) one process runs at once.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.clock import round_up
from safevoice.crypto import casefile
from safevoice.crypto.casefile import create_case
from safevoice.crypto.encoding import b64e
from safevoice.crypto.login import digest, random_id
from safevoice.errors import BadRequest, Conflict, NotFound, TooLarge, Unavailable
from safevoice.instance.service import Snapshot
from safevoice.intake import service
from safevoice.intake.models import IdempotencyKey
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.wire import Question, ReceiptOut
from safevoice.storage.db import Database

INTAKE_MODE = "server_sealed"
MAX_TEXT_CHARS = casefile.MAX_TEXT_CHARS
MAX_ANSWER_CHARS = 500
WAIT_SECONDS = 20.0
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class SealedReport:
    """What the no-JavaScript form sent, parsed but not yet checked against the channel."""

    channel: str
    text: str
    answers: dict[str, str]
    exclude: list[str]
    form_token: str = ""


@dataclass(frozen=True)
class SealedAnswer:
    code: str
    case_id: str
    received_on: date
    receipt: ReceiptOut
    ack_due_on: date | None = None
    feedback_due_on: date | None = None


class AlreadyReceived(Conflict):
    """The form was sent again (a reload, a resend): its report is already stored."""


FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_form_token() -> str:
    """A one-time token for one rendering of a server-sealed form (128 random bits).

    Reloading the answer page, or a browser's "send again", repeats the same token, so the
    server recognises the repeat instead of storing a second case or answer. The token names
    nothing: it is random, kept only as a digest, and its row expires like an idempotency key.
    """
    return random_id()


def form_token_digest(token: str) -> bytes:
    if not FORM_TOKEN.match(token):
        raise BadRequest("The form is out of date; please reload the page and send it again.")
    return digest("safevoice-form-token-v1", token)


def form_token_used(session: Session, token_digest: bytes) -> bytes | None:
    """What the first use of this token stored, or None if it was never used."""
    row = session.scalar(
        select(IdempotencyKey.response).where(IdempotencyKey.key_digest == token_digest)
    )
    return None if row is None else bytes(row)


def form_token_row(token_digest: bytes, response: bytes, now: datetime) -> dict[str, Any]:
    return {
        "key_digest": token_digest,
        "request_digest": token_digest,
        "response": response,
        "expires_at": round_up(now + service.IDEMPOTENCY_TTL),
    }


class SealingSlots:
    """At most ``size`` server-side derivations at once in this process."""

    def __init__(self, size: int, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._wait = wait_seconds

    def acquire(self) -> None:
        if not self._slots.acquire(timeout=self._wait):
            raise Unavailable("Too many reports are being sealed right now; please try again.")

    def release(self) -> None:
        self._slots.release()


def parse_form(channel: str, fields: list[tuple[str, str]]) -> SealedReport:
    """The form's fields: ``text``, ``answer.<question id>`` and repeated ``exclude``."""
    text = ""
    answers: dict[str, str] = {}
    exclude: list[str] = []
    token = ""
    for name, value in fields:
        if name == "text":
            text = value
        elif name.startswith("answer."):
            if value.strip():
                answers[name.removeprefix("answer.")] = value
        elif name == "exclude":
            exclude.append(value)
        elif name == "form_token" and not token:
            token = value
        else:
            raise BadRequest("The form has a field it should not have.")
    return SealedReport(
        channel=channel, text=text, answers=answers, exclude=exclude, form_token=token
    )


def _check(report: SealedReport, questionnaire: list[Question]) -> None:
    if not report.text.strip():
        raise BadRequest("The description is empty.")
    if len(report.text) > MAX_TEXT_CHARS:
        raise TooLarge(f"The description is longer than {MAX_TEXT_CHARS:,} characters.")
    questions = {q.id: q for q in questionnaire}
    if any(key not in questions for key in report.answers):
        raise BadRequest("The form answers a question this channel does not ask.")
    for q in questionnaire:
        answer = report.answers.get(q.id, "")
        if q.required and not answer.strip():
            raise BadRequest("A required question was not answered.")
        if not answer:
            continue
        if len(answer) > MAX_ANSWER_CHARS:
            raise BadRequest("An answer is too long.")
        if q.type == "choice" and answer not in q.options:
            raise BadRequest("A choice was not one of the options.")
        if q.type == "date" and not _DATE.match(answer):
            raise BadRequest("A date was not in the expected form.")


def submit(
    database: Database,
    snap: Snapshot,
    slots: SealingSlots,
    *,
    report: SealedReport,
    now: datetime,
) -> SealedAnswer:
    """Seal and store one report on the reporter's behalf; return the code to show once.

    A form sent again with the same one-time token is ``AlreadyReceived``: no second case, and
    no code either, since the first one was shown once and is kept nowhere."""
    manifest = snap.require_manifest()
    with database.session(write=False) as session:
        channels = {c.name: c for c in service.list_channels(session)}
    if report.channel not in channels:
        raise NotFound("There is no such channel.")
    _check(report, channels[report.channel].questionnaire)
    token_digest = form_token_digest(report.form_token)
    with database.session(write=False) as session:
        if form_token_used(session, token_digest) is not None:
            raise AlreadyReceived("This report was already received.")
    answers: dict[str, Any] = dict(report.answers)

    slots.acquire()
    try:
        code, reporter = reporter_steps.new_reporter(manifest)
    finally:
        slots.release()
    new_case = create_case(
        manifest,
        reporter,
        channel=report.channel,
        text=report.text,
        answers=answers,
        exclude=report.exclude,
        sealed_by_server=True,
    )
    del answers
    case_id = b64e(new_case.case_id)
    rows, answer = service.case_rows(
        snap,
        case_id=case_id,
        channel=report.channel,
        envelope=new_case.report,
        reply_key=reporter.reply_public,
        sign_key=reporter.sign_public,
        wraps=sorted(new_case.wrapped.items()),
        intake_mode=INTAKE_MODE,
        now=now,
    )
    first_use = form_token_row(
        token_digest, json.dumps({"received_on": answer.received_on.isoformat()}).encode(), now
    )
    try:
        with database.unit_of_work() as session:
            for model, values in [*rows, (IdempotencyKey, [first_use])]:
                if values:
                    session.execute(model.__table__.insert(), values)
            audit.record(
                session,
                event="case.server_sealed",
                case_id=case_id,
                actor=audit.REPORTER,
                on=answer.received_on,
                detail={"channel": report.channel},
            )
    except IntegrityError:
        # The same form, sent twice at once: the other request stored it (this one nothing).
        raise AlreadyReceived("This report was already received.") from None
    return SealedAnswer(
        code=code,
        case_id=case_id,
        received_on=answer.received_on,
        receipt=answer.receipt,
        ack_due_on=answer.ack_due_on,
        feedback_due_on=answer.feedback_due_on,
    )
