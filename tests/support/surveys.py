"""A pulse survey run end to end from the command line: a logged-in member creates and opens
it, staff answer it anonymously, and the member closes it; or over HTTP, for the page tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page

from safevoice.clock import utcnow
from safevoice.crypto.manifest import Manifest, SignedManifest, parse_payload
from safevoice.crypto.survey import (
    Answer,
    SealedAnswer,
    Survey,
    new_survey_id,
    open_answer,
    sign_survey,
)
from tests.api.test_login import login
from tests.conftest import Cli
from tests.support.server import ServerProcess
from tests.support.world import World

FEAR = "I can raise a concern without fear."


def closed_survey(
    member: Cli,
    staff: Cli,
    *,
    url: str,
    pin: str,
    folder: Path,
    scores: Sequence[int],
    free_text: str,
    title: str = "Speaking up",
    days_open: int = 14,
) -> str:
    """Create, open, answer (one score per answer, to ``FEAR``) and close a survey; its id."""
    survey_id = open_survey(member, folder=folder, title=title, days_open=days_open)
    for score in scores:
        staff.report(
            "survey",
            "--server",
            url,
            "--pin",
            pin,
            "--answers-file",
            "-",
            stdin=json.dumps({"scores": [score], "free_text": free_text}),
        )
    member.safevoice("surveys", "close", survey_id)
    return survey_id


def open_survey(
    member: Cli, *, folder: Path, title: str = "Speaking up", days_open: int = 14
) -> str:
    """Create and open a survey of one question (``FEAR``) with a free text; its id."""
    questions = folder / "questions.txt"
    questions.write_text(f"{FEAR}\n")
    today = utcnow().date()
    created = member.safevoice(
        "surveys",
        "create",
        "--title",
        title,
        "--questions-file",
        str(questions),
        "--opens",
        str(today),
        "--closes",
        str(today + timedelta(days=days_open)),
        "--free-text",
        "Anything else?",
        "--json",
    )
    survey_id = str(json.loads(created.stdout)["survey_id"])
    member.safevoice("surveys", "open", survey_id)
    return survey_id


class Committee:
    """Alice, logged in to one real server over HTTP."""

    def __init__(self, server: ServerProcess, world: World) -> None:
        self.http = httpx.Client(base_url=server.direct_url, timeout=30)
        wire = self.http.get("/api/v1/manifest").json()
        self.manifest: Manifest = parse_payload(SignedManifest.from_json(wire).payload)
        self.world = world
        token = login(self.http, world.members["alice"], self.manifest)
        self.headers = {"Authorization": f"Bearer {token}"}

    def open_survey(self, *, free_text: str | None = "Anything else?") -> Survey:
        today = utcnow().date()
        survey = Survey(
            instance_id=self.manifest.instance_id,
            survey_id=new_survey_id(),
            title="Speaking up",
            opens_on=today - timedelta(days=1),
            closes_on=today + timedelta(days=7),
            channels=(),
            questions=("I can raise a concern without fear.", "Concerns are acted on."),
            free_text=free_text,
            author="alice",
        )
        document = sign_survey(survey, self.world.members["alice"]).to_json()
        assert self.http.post("/api/v1/surveys", json=document, headers=self.headers).is_success
        opened = self.http.post(f"/api/v1/surveys/{survey.survey_id}/open", headers=self.headers)
        assert opened.is_success
        return survey

    def answers(self, survey: Survey) -> list[Answer]:
        response = self.http.get(
            f"/api/v1/surveys/{survey.survey_id}/answers", headers=self.headers
        )
        assert response.status_code == 200, response.text
        return [
            open_answer(survey, SealedAnswer.from_json(a), self.world.members["carol"])
            for a in response.json()["answers"]
        ]


def choose(page: Page, prefix: str, scores: tuple[int, ...]) -> None:
    for index, score in enumerate(scores):
        page.check(f"#{prefix}q-{index}-{score}")
