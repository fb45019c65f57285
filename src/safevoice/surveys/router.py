"""HTTP routes of pulse surveys: members publish, open and close; anyone answers an open one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from safevoice.intake.service import issue_challenge
from safevoice.protocol.wire import (
    ID_PATTERN,
    SignedSurveyIn,
    SurveyAnswerIn,
    SurveyAnswersOut,
    SurveyOut,
    SurveysOut,
)
from safevoice.surveys import service
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    MemberDep,
    NowDep,
    SessionDep,
    SettingsDep,
    SnapshotDep,
)

router = APIRouter(prefix="/api/v1", tags=["surveys"], route_class=DeclaredRoute)

SurveyId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]


@router.get("/surveys", response_model=SurveysOut)
def get_surveys(
    session: SessionDep, snap: SnapshotDep, settings: SettingsDep, now: NowDep
) -> SurveysOut:
    """The surveys open today, each as its member-signed document, and a challenge."""
    return SurveysOut(
        surveys=service.answerable(session, snap, now=now),
        challenge=issue_challenge(
            snap, purpose="survey", now=now, ttl_seconds=settings.challenge_ttl_seconds
        ),
    )


@router.get("/surveys/all", response_model=list[SurveyOut])
def get_all_surveys(member: MemberDep, session: SessionDep) -> list[SurveyOut]:
    """Every survey in whatever state (members)."""
    return service.listed(session)


@router.post(
    "/surveys",
    responses=refusals(409),
    response_model=SurveyOut,
    status_code=status.HTTP_201_CREATED,
)
def post_survey(
    body: SignedSurveyIn, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> SurveyOut:
    """Publish a survey signed by a committee member; it is not answerable until opened."""
    return service.publish(session, snap, body=body, actor=member.label, now=now)


@router.post("/surveys/{survey_id}/open", responses=refusals(409), response_model=SurveyOut)
def post_open(
    survey_id: SurveyId, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> SurveyOut:
    return service.move(
        session, snap, survey_id=survey_id, state=service.OPEN, actor=member.label, now=now
    )


@router.post("/surveys/{survey_id}/close", responses=refusals(409), response_model=SurveyOut)
def post_close(
    survey_id: SurveyId, member: MemberDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> SurveyOut:
    return service.move(
        session, snap, survey_id=survey_id, state=service.CLOSED, actor=member.label, now=now
    )


@router.post(
    "/surveys/{survey_id}/answers", responses=refusals(409), status_code=status.HTTP_204_NO_CONTENT
)
def post_answer(
    survey_id: SurveyId, body: SurveyAnswerIn, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> None:
    """An anonymous answer, encrypted to the committee, with a solved ``survey`` challenge."""
    service.answer(session, snap, survey_id=survey_id, body=body, now=now)


@router.get("/surveys/{survey_id}/answers", response_model=SurveyAnswersOut)
def get_answers(survey_id: SurveyId, member: MemberDep, session: SessionDep) -> SurveyAnswersOut:
    """Every answer of a survey, ciphertext only, in no meaningful order (members)."""
    return service.answers(session, survey_id=survey_id)
