"""Pulse surveys on the client: members sign, open, close and tally; staff answer.

Everything that needs the answers' content happens here, on the member's machine, after
decryption: the server only ever holds ciphertext. What a member may publish is the
``public`` part of :class:`Results`: counts per score with small cells suppressed exactly as the
case metrics are (``protocol.suppression``), medians, and the trend against an earlier survey.
Free texts are kept apart, for committee members only, and never enter the published figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from safevoice.client.api import Api
from safevoice.client.member import MemberSession
from safevoice.crypto import pow as powmod
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.survey import (
    SCALE,
    Answer,
    SealedAnswer,
    SignedSurvey,
    Survey,
    new_survey_id,
    open_answer,
    seal_answer,
    sign_survey,
    verify_survey,
)
from safevoice.errors import ClientError, NotFound, VerificationFailed
from safevoice.protocol.suppression import SMALL, count_figure, median_figure, protect_breakdown
from safevoice.protocol.wire import SurveyOut


def create(
    session: MemberSession,
    keys: KeyPair,
    *,
    title: str,
    questions: Sequence[str],
    free_text: str | None,
    opens_on: date,
    closes_on: date,
    channels: Sequence[str],
) -> SurveyOut:
    """Sign a new survey with the member's key and publish it (not yet open for answers)."""
    session.check_owner(keys)
    manifest = session.manifest()
    survey = Survey(
        instance_id=manifest.instance_id,
        survey_id=new_survey_id(),
        title=title,
        opens_on=opens_on,
        closes_on=closes_on,
        channels=tuple(channels),
        questions=tuple(questions),
        free_text=free_text,
        author=keys.public.id,
    )
    return session.api.publish_survey(sign_survey(survey, keys).to_json())


def verified(out: SurveyOut, manifest: Manifest) -> Survey:
    """The survey a server listed, checked against its author's key in the manifest."""
    survey = verify_survey(SignedSurvey.from_json(out.document.model_dump()), manifest)
    if survey.survey_id != out.survey_id:
        raise VerificationFailed("The server listed a survey under another id than its own.")
    return survey


def find(session: MemberSession, survey_id: str, manifest: Manifest) -> tuple[SurveyOut, Survey]:
    for out in session.api.all_surveys():
        if out.survey_id == survey_id:
            return out, verified(out, manifest)
    raise NotFound(f"There is no survey {survey_id}.")


# -- results -------------------------------------------------------------------------------------


@dataclass
class Results:
    """A survey's tally: ``public`` may be published; ``free_texts`` are for members only."""

    public: dict[str, Any]
    free_texts: list[str] = field(default_factory=list)
    unreadable: int = 0


def decrypt_all(session: MemberSession, survey: Survey, keys: KeyPair) -> tuple[list[Answer], int]:
    """Every answer of the survey opened with the member's key, and how many would not open."""
    answers: list[Answer] = []
    unreadable = 0
    for sealed in session.api.survey_answers(survey.survey_id).answers:
        try:
            answers.append(open_answer(survey, SealedAnswer.from_json(sealed.model_dump()), keys))
        except VerificationFailed:
            unreadable += 1
    return answers, unreadable


def _medians(survey: Survey, answers: Sequence[Answer]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for index, question in enumerate(survey.questions):
        scores = [a.scores[index] for a in answers if a.scores[index] is not None]
        out[question] = median_figure([s for s in scores if s is not None])
    return out


def tally(
    survey: Survey,
    answers: Sequence[Answer],
    *,
    previous: tuple[Survey, Sequence[Answer]] | None = None,
) -> Results:
    """Counts per score with small cells suppressed, medians, and the trend against
    ``previous`` for each question asked in both surveys (matched by its exact text)."""
    earlier = _medians(*previous) if previous is not None else {}
    questions = []
    for index, question in enumerate(survey.questions):
        scores = [a.scores[index] for a in answers]
        given = [s for s in scores if s is not None]
        cells = protect_breakdown([given.count(value) for value in SCALE])
        median = median_figure(given)
        row: dict[str, Any] = {
            "question": question,
            "answered": count_figure(len(given)),
            "counts": {str(value): cell for value, cell in zip(SCALE, cells, strict=True)},
            "median": median,
        }
        if question in earlier:
            before = earlier[question]
            row["previous_median"] = before
            row["trend"] = (
                round(median - before, 1)
                if isinstance(median, float) and isinstance(before, float)
                else SMALL
            )
        questions.append(row)
    public: dict[str, Any] = {
        "survey_id": survey.survey_id,
        "title": survey.title,
        "opens_on": survey.opens_on.isoformat(),
        "closes_on": survey.closes_on.isoformat(),
        "answers": count_figure(len(answers)),
        "questions": questions,
    }
    if previous is not None:
        public["previous_survey_id"] = previous[0].survey_id
    free_texts = sorted(a.free_text for a in answers if a.free_text.strip())
    return Results(public=public, free_texts=free_texts)


def results(
    session: MemberSession, keys: KeyPair, survey_id: str, *, previous_id: str | None = None
) -> Results:
    """Fetch, verify, decrypt and tally a survey (and an earlier one for the trend)."""
    session.check_owner(keys)
    manifest = session.manifest()
    _, survey = find(session, survey_id, manifest)
    answers, unreadable = decrypt_all(session, survey, keys)
    previous = None
    if previous_id is not None:
        _, before = find(session, previous_id, manifest)
        previous = (before, decrypt_all(session, before, keys)[0])
    outcome = tally(survey, answers, previous=previous)
    outcome.unreadable = unreadable
    return outcome


def trends(session: MemberSession, keys: KeyPair, manifest: Manifest) -> list[dict[str, Any]]:
    """The publishable figures of every closed survey, oldest first, each with its trend
    against the survey closed before it (the digest and the desk's metrics page show these)."""
    closed = [
        (out, verified(out, manifest)) for out in session.api.all_surveys() if out.state == "closed"
    ]
    closed.sort(key=lambda pair: (pair[1].closes_on, pair[1].survey_id))
    figures: list[dict[str, Any]] = []
    previous = None
    for _, survey in closed:
        answers, _ = decrypt_all(session, survey, keys)
        figures.append(tally(survey, answers, previous=previous).public)
        previous = (survey, answers)
    return figures


# -- answering -----------------------------------------------------------------------------------


def open_now(api: Api, manifest: Manifest) -> tuple[list[Survey], str]:
    """The surveys open now, each verified against the manifest, and a fresh challenge."""
    listing = api.open_surveys()
    surveys = []
    for out in listing.surveys:
        try:
            surveys.append(verified(out, manifest))
        except VerificationFailed:
            continue  # a forged survey is not shown at all
    return surveys, listing.challenge.challenge


def send_answer(
    api: Api, manifest: Manifest, survey: Survey, answer: Answer, *, challenge: str
) -> None:
    """Encrypt the answer here, solve the proof of work and send it; nothing else is sent."""
    sealed = seal_answer(survey, manifest, answer)
    parsed = powmod.parse(challenge)
    proof = {"challenge": parsed.token, "solution": powmod.solve(parsed)}
    try:
        api.answer_survey(survey.survey_id, {"proof": proof, "answer": sealed.to_json()})
    except NotFound:
        raise ClientError("This survey is no longer listed; it may have closed.") from None
