"""The staff pages of pulse surveys: the list of open surveys and the answer form.

The answer form behaves like the report form: the page's script (``survey.js``) has the worker
verify the survey against its author's key in the committee-signed manifest and encrypt the
answer in the browser; nothing sets a cookie. Without JavaScript or WebAssembly the page
explains the choices, and offers a plain form that the server encrypts at once only where the
operator enabled the server-sealed form for reports (the same setting).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from safevoice.crypto.survey import MAX_FREE_TEXT_CHARS, Answer, SignedSurvey
from safevoice.crypto.survey import Survey as SurveyDocument
from safevoice.errors import Conflict, NotFound, SafeVoiceError, TooLarge
from safevoice.i18n import N_
from safevoice.instance.service import Snapshot
from safevoice.intake.service import issue_challenge
from safevoice.protocol.wire import SurveyOut
from safevoice.storage.db import Database
from safevoice.surveys import service
from safevoice.web.deps import DatabaseDep, NowDep, SessionDep, SettingsDep, SnapshotDep
from safevoice.web.pages import LanguageDep, PagesDep, _read_form

router = APIRouter(include_in_schema=False)

CLOSED = (
    N_("This survey is closed"),
    N_("It no longer takes answers. Thank you for your interest."),
)
THANKS = (
    N_("Thank you"),
    N_(
        "Your answer was received. Nothing links it to you. The committee publishes only totals, "
        "never single answers or free texts."
    ),
)


def _document(out: SurveyOut) -> SurveyDocument:
    return SignedSurvey.from_json(out.document.model_dump()).unverified()


@router.get("/surveys", response_class=HTMLResponse)
def surveys_page(
    language: LanguageDep, pages: PagesDep, session: SessionDep, snap: SnapshotDep, now: NowDep
) -> HTMLResponse:
    open_now = [_document(out) for out in service.answerable(session, snap, now=now)]
    return pages.render(language, "surveys.html", surveys=open_now)


@router.get("/survey/{survey_id}", response_class=HTMLResponse)
def survey_page(
    language: LanguageDep,
    survey_id: str,
    pages: PagesDep,
    session: SessionDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    if pages.bundle is None:
        return pages.not_installed(language)
    listed = service.answerable(session, snap, now=now)
    chosen = next((out for out in listed if out.survey_id == survey_id), None)
    if chosen is None:
        return pages.message(language, 404, *CLOSED)
    signed = snap.signed_manifest
    if signed is None:
        return pages.not_installed(language)
    data = {
        "manifest": signed.to_json(),
        "surveys": [chosen.model_dump(mode="json")],
        "challenge": issue_challenge(
            snap, purpose="survey", now=now, ttl_seconds=settings.challenge_ttl_seconds
        ).model_dump(mode="json"),
    }
    return pages.render(
        language,
        "survey.html",
        survey=_document(chosen),
        nojs=settings.nojs_enabled,
        max_free_text=MAX_FREE_TEXT_CHARS,
        js_strings=language.catalogue.script_strings(),
        data=data,
    )


def _answer(form: list[tuple[str, str]], questions: int) -> Answer:
    values = dict(form)
    scores: list[int | None] = []
    for index in range(questions):
        given = values.get(f"q{index}", "")
        scores.append(int(given) if given in ("1", "2", "3", "4", "5") else None)
    text = values.get("free_text", "")
    if len(text) > MAX_FREE_TEXT_CHARS:
        raise TooLarge("The free text is too long.")
    return Answer(scores=tuple(scores), free_text=text)


def _store_sealed(
    database: Database,
    snap: Snapshot,
    *,
    survey_id: str,
    form: list[tuple[str, str]],
    now: datetime,
) -> None:
    with database.unit_of_work() as session:
        document = service.open_survey(session, snap, survey_id=survey_id, now=now)
        answer = _answer(form, len(document.questions))
        if document.free_text is None:
            answer = Answer(scores=answer.scores)
        service.answer_sealed_by_server(session, snap, survey_id=survey_id, answer=answer, now=now)


@router.post("/survey/{survey_id}", response_class=HTMLResponse)
async def survey_sealed(
    language: LanguageDep,
    survey_id: str,
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    database: DatabaseDep,
    snap: SnapshotDep,
    now: NowDep,
) -> HTMLResponse:
    """The no-JavaScript answer: the server encrypts it at once (only where enabled)."""
    if not settings.nojs_enabled:
        return pages.message(
            language,
            403,
            N_("This form is not available"),
            N_(
                "This server accepts answers only when they are encrypted in your browser. "
                "Turn JavaScript on for this site, or use the SafeVoice command-line client."
            ),
        )
    try:
        form = await _read_form(request)
        await run_in_threadpool(
            _store_sealed, database, snap, survey_id=survey_id, form=form, now=now
        )
    except (NotFound, Conflict):
        return pages.message(language, 404, *CLOSED)
    except TooLarge:
        return pages.message(
            language,
            413,
            N_("Your answer is too long for this form"),
            N_("Please shorten the free text and send it again. Nothing was stored."),
        )
    except SafeVoiceError:
        return pages.message(
            language,
            400,
            N_("The form could not be read"),
            N_("Nothing was stored. Please go back and send it again."),
        )
    return pages.message(language, 200, *THANKS)
