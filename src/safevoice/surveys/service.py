"""Survey rules: publishing a member-signed survey, opening and closing it, taking answers.

The server never reads an answer and keeps none of its circumstances: an answer is accepted
with a solved proof-of-work challenge of purpose ``survey`` (the challenge is remembered as
spent, apart from the answer), only while its survey is open and today lies between its opening
and closing days, and is stored as ciphertext under a random id. Publishing, opening and
closing are member actions with an audit entry that names the survey and nothing of its text.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.crypto import pow as powmod
from safevoice.crypto.committee_box import recipients_of
from safevoice.crypto.encoding import canonical_json
from safevoice.crypto.login import random_id
from safevoice.crypto.survey import (
    Answer,
    SealedAnswer,
    SignedSurvey,
    check_sealed_shape,
    seal_answer,
    verify_survey,
)
from safevoice.crypto.survey import Survey as SurveyDocument
from safevoice.errors import BadRequest, Conflict, NotFound, VerificationFailed
from safevoice.instance.challenges import check_work, spend_challenge
from safevoice.instance.service import Snapshot
from safevoice.protocol.wire import (
    SignedSurveyIn,
    SurveyAnswerIn,
    SurveyAnswersOut,
    SurveyOut,
)
from safevoice.surveys.models import Survey, SurveyAnswer

PUBLISHED = "published"
OPEN = "open"
CLOSED = "closed"
# Where each state may go: a survey is opened once and closed once, never reopened (its
# answers would otherwise span two periods that the results could not tell apart).
_NEXT = {PUBLISHED: {OPEN, CLOSED}, OPEN: {CLOSED}, CLOSED: set[str]()}


def _out(row: Survey) -> SurveyOut:
    return SurveyOut(
        survey_id=row.id,
        state=row.state,  # type: ignore[arg-type]  # the column holds only the three states _NEXT allows
        document=SignedSurveyIn.model_validate_json(row.document),
    )


def _document(row: Survey) -> SurveyDocument:
    return SignedSurvey.from_json(json.loads(row.document)).unverified()


def publish(
    session: Session, snap: Snapshot, *, body: SignedSurveyIn, actor: str, now: datetime
) -> SurveyOut:
    """Store a survey signed by a committee member of the current manifest."""
    signed = SignedSurvey.from_json(body.model_dump())
    try:
        survey = verify_survey(signed, snap.require_manifest())
    except VerificationFailed as exc:
        raise BadRequest(f"The survey document is refused: {exc.message}") from None
    today = snap.today(now)
    if survey.closes_on < today:
        raise BadRequest("The survey's closing day has already passed.")
    unknown = [c for c in survey.channels if c not in snap.channels]
    if unknown:
        raise BadRequest(
            "The survey names a channel this instance does not have: "
            f"{', '.join(unknown)}. Its channels are: {', '.join(sorted(snap.channels))}."
        )
    document = canonical_json(signed.to_json()).decode()
    existing = session.get(Survey, survey.survey_id)
    if existing is not None:
        if existing.document != document:
            raise Conflict("Another survey with this id already exists.")
        return _out(existing)
    row = Survey(
        id=survey.survey_id,
        document=document,
        state=PUBLISHED,
        opens_on=survey.opens_on,
        closes_on=survey.closes_on,
    )
    session.add(row)
    audit.record(
        session,
        event="survey.published",
        case_id=None,
        actor=actor,
        on=today,
        detail={"survey": survey.survey_id},
    )
    return _out(row)


def move(
    session: Session, snap: Snapshot, *, survey_id: str, state: str, actor: str, now: datetime
) -> SurveyOut:
    """Open or close a survey; the same move twice is answered like the first."""
    row = session.get(Survey, survey_id, with_for_update=True)
    if row is None:
        raise NotFound("There is no such survey.")
    if row.state == state:
        return _out(row)
    if state not in _NEXT[row.state]:
        raise Conflict(f"A survey that is {row.state} cannot be {state}.")
    row.state = state
    audit.record(
        session,
        event=f"survey.{state}",
        case_id=None,
        actor=actor,
        on=snap.today(now),
        detail={"survey": survey_id},
    )
    return _out(row)


def listed(session: Session) -> list[SurveyOut]:
    """Every survey, for members (ordered by its random id: no order of creation)."""
    return [_out(row) for row in session.scalars(select(Survey).order_by(Survey.id))]


def answerable(session: Session, snap: Snapshot, *, now: datetime) -> list[SurveyOut]:
    """The surveys open today."""
    today = snap.today(now)
    rows = session.scalars(
        select(Survey)
        .where(Survey.state == OPEN, Survey.opens_on <= today, Survey.closes_on >= today)
        .order_by(Survey.id)
    )
    return [_out(row) for row in rows]


def answer(
    session: Session, snap: Snapshot, *, survey_id: str, body: SurveyAnswerIn, now: datetime
) -> None:
    """Store one anonymous answer: proof of work first, then the survey, then the shape."""
    challenge = powmod.authenticate(
        snap.challenge_key,
        body.proof.challenge,
        purpose="survey",
        now=math.floor(now.timestamp()),
    )
    check_work(challenge, body.proof.solution)
    document = open_survey(session, snap, survey_id=survey_id, now=now)
    sealed = SealedAnswer.from_json(body.answer.model_dump())
    check_sealed_shape(document, sealed, list(recipients_of(snap.require_manifest())))
    spend_challenge(session, challenge)
    _store(session, survey_id, sealed)


def answer_sealed_by_server(
    session: Session, snap: Snapshot, *, survey_id: str, answer: Answer, now: datetime
) -> None:
    """The no-JavaScript form (where the operator enabled it): the server encrypts the answer
    to the committee in memory at once and stores only the ciphertext, like any other."""
    document = open_survey(session, snap, survey_id=survey_id, now=now)
    _store(session, survey_id, seal_answer(document, snap.require_manifest(), answer))


def open_survey(
    session: Session, snap: Snapshot, *, survey_id: str, now: datetime
) -> SurveyDocument:
    """The document of a survey that takes answers today, or the reason it does not."""
    row = session.get(Survey, survey_id)
    if row is None:
        raise NotFound("There is no such survey.")
    if row.state != OPEN or not row.opens_on <= snap.today(now) <= row.closes_on:
        raise Conflict("This survey is not open for answers.")
    return _document(row)


def _store(session: Session, survey_id: str, sealed: SealedAnswer) -> None:
    session.add(
        SurveyAnswer(id=random_id(), survey_id=survey_id, sealed=canonical_json(sealed.to_json()))
    )


def answers(session: Session, *, survey_id: str) -> SurveyAnswersOut:
    """Every answer of a survey, ordered by random id, for members to decrypt."""
    if session.get(Survey, survey_id) is None:
        raise NotFound("There is no such survey.")
    rows = session.scalars(
        select(SurveyAnswer.sealed)
        .where(SurveyAnswer.survey_id == survey_id)
        .order_by(SurveyAnswer.id)
    )
    return SurveyAnswersOut.model_validate(
        {"survey_id": survey_id, "answers": [json.loads(sealed) for sealed in rows]}
    )
