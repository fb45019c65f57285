"""The whole learning loop in real Chromium against a real server (two workers): a survey is
created and opened, twenty answers are given (five through the page, five through its
no-JavaScript form, where that is on, and ten with ``safevoice-report survey``), a member
tallies them with small cells suppressed, two members approve a lessons-learned summary, and
the digest verifies with the committee's keys. A canary typed as a free text reaches neither
the database, the server's log nor the digest."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from safevoice.client.surveys import tally
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.support.canary import new_canary, scan_paths
from tests.support.databases import data_paths
from tests.support.server import ServerProcess
from tests.support.surveys import Committee, choose
from tests.support.workflow import insert_case
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
LESSON = "Nobody works a night shift alone any more; handovers follow a written checklist."


def test_surveys_answers_results_and_a_twice_approved_digest_end_to_end(
    nojs_server: ServerProcess,
    nojs_committee: Committee,
    chromium: Chromium,
    scriptless_browser: Browser,
    world: World,
    tmp_path: Path,
) -> None:
    committee = nojs_committee
    survey = committee.open_survey()
    canary = new_canary()
    url = f"{nojs_server.url}/survey/{survey.survey_id}"

    # Fifteen answers of (5, 4) twelve times and (4, 4) three times: five through the page,
    # ten from the reporter's command line.
    for index in range(5):
        page = chromium.page()
        page.goto(url)
        page.wait_for_selector("#survey-form:not([hidden])")
        choose(page, "", (5 if index < 3 else 4, 4))
        if index == 0:
            page.fill("#free-text", canary)
        page.click("#submit-button")
        page.wait_for_selector("#thanks-heading:not([hidden])")
        page.close()
    staff = Cli(tmp_path / "staff")
    for index in range(10):
        staff.report(
            *("survey", "--server", nojs_server.url, "--pin", world.pin),
            *("--survey", survey.survey_id, "--answers-file", "-"),
            stdin=json.dumps({"scores": [5 if index < 9 else 4, 4]}),
        )
    for _ in range(5):
        page = scriptless_browser.new_page()
        page.goto(url)
        choose(page, "sealed-", (3, 2))
        page.click("#sealed-submit")
        expect(page.locator("h1")).to_have_text("Thank you")
        page.close()
    closed = committee.http.post(
        f"/api/v1/surveys/{survey.survey_id}/close", headers=committee.headers
    )
    assert closed.is_success

    answers = committee.answers(survey)
    assert len(answers) == 20
    result = tally(survey, answers)
    fear, acted = result.public["questions"]
    assert fear["counts"] == {"1": "<5", "2": "<5", "3": 5, "4": "<5", "5": "hidden"}
    assert fear["median"] == 5.0
    assert acted["counts"] == {"1": "<5", "2": 5, "3": "<5", "4": "hidden", "5": "<5"}
    assert canary not in json.dumps(result.public)
    assert result.free_texts == [canary]

    database = Database.connect(nojs_server.database_url, pool_size=1)
    try:
        case_id = insert_case(database, date(2024, 5, 2), ack_after=1, close_after=30)
    finally:
        database.dispose()
    clis = {}
    for ident in ("alice", "bob"):
        clis[ident] = Cli(tmp_path / ident)
        clis[ident].safevoice(
            "login",
            "--server",
            nojs_server.url,
            "--key",
            str(world.key_file(ident)),
            "--pin",
            world.pin,
        )
    proposed = clis["alice"].safevoice(
        "digest", "propose", case_id, "--summary-file", "-", "--reviewed", stdin=LESSON
    )
    lesson_id = proposed.stdout.split("Proposed lesson ")[1].split(".")[0]
    clis["bob"].safevoice("digest", "approve", lesson_id, "--yes")
    out = tmp_path / "digest"
    clis["alice"].safevoice("digest", "build", "--out", str(out))
    built = json.loads((out / "digest.json").read_text())
    assert [lesson["summary"] for lesson in built["lessons"]] == [LESSON]
    assert any(s["survey_id"] == survey.survey_id for s in built["surveys"])
    assert "The digest verifies" in clis["bob"].safevoice("digest", "verify", str(out)).stdout

    assert scan_paths([out], canary) == []
    assert scan_paths(data_paths(nojs_server.database_url), canary) == []
    assert canary not in nojs_server.log()
