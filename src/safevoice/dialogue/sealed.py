"""The server-sealed follow-up: reading and answering without JavaScript (off unless the
operator turns it on, like the server-sealed intake of ``safevoice.intake.sealed``).

The server does in memory what ``safevoice-report follow-up`` does on a reporter's machine: it
parses the code the reporter typed (a typo is refused before anything is derived), derives the
reporter's keys with the manifest's Argon2id parameters under the same bounded slots as the
sealed intake, finds the case by the signing key as a reporter login does (a failure counts
like one and gets the same answer), reads and verifies the thread with the reference reader,
and, if the reporter wrote an answer and the thread verifies, seals it as the next message of
the thread, signed with the reporter's key. No attachments travel this way.

The code, the keys and the plaintext exist only in this process's memory during the request:
nothing of them is written, logged or put in an error message (Python releases a string's
memory, it cannot wipe it; SECURITY.md says so). Because the plaintext of the thread passed
through the server, reading as much as answering, the case is marked ``server_sealed`` and an
audit event (actor ``reporter``, staged with the day only) records each such follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from safevoice.audit import service as audit
from safevoice.cases.models import Case
from safevoice.cases.service import changed
from safevoice.crypto.code import parse_code
from safevoice.crypto.encoding import b64d
from safevoice.crypto.manifest import Manifest
from safevoice.dialogue import service
from safevoice.errors import BadRequest, Conflict, TooLarge, Unauthorized
from safevoice.instance.service import Snapshot
from safevoice.intake.models import IdempotencyKey
from safevoice.intake.sealed import (
    INTAKE_MODE,
    MAX_TEXT_CHARS,
    SealingSlots,
    form_token_digest,
    form_token_row,
    form_token_used,
)
from safevoice.members.service import Principal
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.reader import ReadCase, read_as_reporter
from safevoice.protocol.wire import ReporterCaseView
from safevoice.storage.db import Database

EVENT = "follow_up.server_sealed"


class EmptyReply(BadRequest):
    """An answer that is empty or only whitespace."""


@dataclass(frozen=True)
class SealedFollowUpForm:
    """What the no-JavaScript follow-up form sent: the code, and perhaps an answer."""

    code: str
    reply: str | None
    form_token: str = ""


@dataclass(frozen=True)
class SealedThread:
    """The verified thread to show, and what became of the answer."""

    view: ReporterCaseView
    read: ReadCase
    manifest: Manifest
    sent: bool
    busy: bool
    # The same answer form was sent again (a reload): nothing was appended the second time.
    repeated: bool = False


def parse_form(fields: list[tuple[str, str]]) -> SealedFollowUpForm:
    """The form's fields: ``code`` and an optional ``reply``; anything else is refused (so a
    file, which this form never takes, cannot arrive even by its name)."""
    code: str | None = None
    reply: str | None = None
    token = ""
    for name, value in fields:
        if name == "code" and code is None:
            code = value
        elif name == "reply" and reply is None:
            reply = value
        elif name == "form_token" and not token:
            token = value
        else:
            raise BadRequest("The form has a field it should not have.")
    if code is None:
        raise BadRequest("The form has no follow-up code.")
    return SealedFollowUpForm(code=code, reply=reply or None, form_token=token)


def follow_up(
    database: Database,
    snap: Snapshot,
    slots: SealingSlots,
    *,
    form: SealedFollowUpForm,
    now: datetime,
) -> SealedThread:
    """Open the reporter's case with the code, and append the answer if there is one."""
    manifest = snap.require_manifest()
    code = parse_code(form.code)
    if form.reply is not None and not form.reply.strip():
        raise EmptyReply("The answer is empty; please write something before sending.")
    if form.reply is not None and len(form.reply) > MAX_TEXT_CHARS:
        raise TooLarge("The answer is too long for this form.")
    # An answer is sent with the one-time token of the page that showed its form, so that a
    # reload or a resend never stores it twice.
    token_digest = form_token_digest(form.form_token) if form.reply is not None else None
    if manifest.code_kdf_for(code.version) is None:
        raise Unauthorized(service.REPORTER_LOGIN_FAILED)
    slots.acquire()
    try:
        reporter = reporter_steps.keys_for_code(manifest, code)
    finally:
        slots.release()
    if reporter is None:  # checked above; this narrows the type for what follows
        raise Unauthorized(service.REPORTER_LOGIN_FAILED)
    with database.unit_of_work() as session:
        case_id = service.case_of_reporter(session, reporter.sign_public)
        if case_id is None:
            service.count_login_failure(session, now)
    if case_id is None:
        raise Unauthorized(service.REPORTER_LOGIN_FAILED)

    sent = busy = repeated = False
    with database.unit_of_work() as session:
        view = service.reporter_view(session, case_id=case_id, today=snap.today(now))
        read = read_as_reporter(view, reporter=reporter, manifest=manifest)
        if token_digest is not None and form_token_used(session, token_digest) is not None:
            repeated = True
        if (
            form.reply is not None
            and token_digest is not None
            and not repeated
            and not read.problems
        ):
            envelope = reporter_steps.next_message(
                read,
                reporter,
                case_id=b64d(case_id, size=16, what="case id"),
                epoch=view.case.epoch,
                text=form.reply,
                sealed_by_server=True,
            )
            try:
                with session.begin_nested():
                    service.append_object(
                        session,
                        snap,
                        principal=Principal(role="reporter", subject=case_id),
                        case_id=case_id,
                        envelope_json=envelope.to_json(),
                        now=now,
                    )
                    session.execute(
                        insert(IdempotencyKey), [form_token_row(token_digest, b"sent", now)]
                    )
                sent = True
            except IntegrityError:
                repeated = True  # the same form sent twice at once: the other copy was stored
            except Conflict:
                busy = True  # someone wrote meanwhile, or the case waits to be re-keyed
        # Marked once: the change marker advances only when the mark is new.
        session.execute(
            update(Case)
            .where(Case.id == case_id, Case.intake_mode != INTAKE_MODE)
            .values(intake_mode=INTAKE_MODE, **changed(snap.today(now)))
        )
        audit.record(
            session, event=EVENT, case_id=case_id, actor=audit.REPORTER, on=snap.today(now)
        )
    if sent:
        with database.session(write=False) as session:
            view = service.reporter_view(session, case_id=case_id, today=snap.today(now))
        read = read_as_reporter(view, reporter=reporter, manifest=manifest)
    return SealedThread(
        view=view, read=read, manifest=manifest, sent=sent, busy=busy, repeated=repeated
    )
