"""The desk's learning page: pulse surveys and their results, and the lessons-learned
summaries waiting for a second member's approval.

Everything is decrypted here, on the member's machine, through the same client code as
``safevoice surveys results`` and ``safevoice digest approve``: results show only the
publishable figures (small cells suppressed), and approving signs exactly the summary shown.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from safevoice.client import digest, surveys
from safevoice.desk.forms import FormDep, text
from safevoice.desk.routes import CASE_ID, UnlockedDep, render, status_of
from safevoice.errors import NotFound, SafeVoiceError

router = APIRouter()
LESSON_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{21}$")


def _values(desk: UnlockedDep) -> dict[str, Any]:
    session, keys = desk.require()
    manifest = session.manifest()
    survey_rows = []
    for out in session.api.all_surveys():
        survey = surveys.verified(out, manifest)
        results = None
        if out.state == "closed":
            answers, _ = surveys.decrypt_all(session, survey, keys)
            results = surveys.tally(survey, answers).public
        survey_rows.append({"survey": survey, "state": out.state, "results": results})
    lessons = digest.proposed(session, keys)
    closed = sorted(
        (c for c in session.api.cases() if c.status == "closed"),
        key=lambda c: (c.closed_on or c.received_on, c.id),
        reverse=True,
    )
    return {
        "surveys": survey_rows,
        "lessons": lessons,
        "closed_cases": closed,
        "member_id": keys.public.id,
        "checklist": digest.CHECKLIST,
    }


@router.get("/learning", response_class=HTMLResponse)
def learning(request: Request, desk: UnlockedDep) -> Response:
    return render(request, "learning.html", **_values(desk))


@router.post("/lessons/{lesson_id}/approve")
def approve(request: Request, desk: UnlockedDep, lesson_id: str, _form: FormDep) -> Response:
    session, keys = desk.require()
    try:
        if not LESSON_ID.fullmatch(lesson_id):
            raise NotFound("There is no such lesson.")
        chosen = next(
            (f for f in digest.proposed(session, keys) if f.lesson.lesson_id == lesson_id), None
        )
        if chosen is None:
            raise NotFound("There is no such lesson among the cases you can read.")
        digest.approve_lesson(session, keys, chosen)
    except SafeVoiceError as exc:
        return render(
            request, "learning.html", status=status_of(exc), error=exc.message, **_values(desk)
        )
    return RedirectResponse("/learning", status_code=303)


@router.post("/lessons")
def propose(request: Request, desk: UnlockedDep, form: FormDep) -> Response:
    """Propose a closed case's publishable summary; a second member must approve it."""
    session, keys = desk.require()
    try:
        summary = digest.checked_summary(
            text(form, "summary"),
            reviewed=text(form, "reviewed") == "yes",
            allow_dates=text(form, "allow_dates") == "yes",
        )
        case_id = text(form, "case_id")
        if not CASE_ID.fullmatch(case_id):
            raise NotFound("There is no such case among the cases you can read.")
        digest.propose(session, keys, case_id, summary)
    except SafeVoiceError as exc:
        return render(
            request,
            "learning.html",
            status=status_of(exc),
            error=exc.message,
            **_values(desk),
        )
    return RedirectResponse("/learning", status_code=303)
