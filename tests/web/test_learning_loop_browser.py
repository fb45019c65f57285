"""The whole learning loop in real Chromium against a real server (two workers) with a
database of its own: a survey is created and opened, twenty answers are given through its page
(ten encrypted in the page, ten through its no-JavaScript form, which this server has on), a
member computes the results with ``safevoice surveys results``, small cells stay suppressed
there and in the digest (its HTML page and its JSON twin), the digest's corrective actions and
case figures are those of the cases stored, two members approve a lessons-learned summary, and
the digest verifies with the committee's keys. Canaries typed as free texts reach neither the
database, the server's log, the results' figures nor the digest. (Answers from
``safevoice-report survey`` are tested in tests/cli/test_surveys_cli.py.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from safevoice.clock import utcnow
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.support.canary import new_canary, scan_paths
from tests.support.databases import DatabaseFactory, data_paths
from tests.support.server import ServerProcess
from tests.support.surveys import Committee, choose
from tests.support.workflow import insert_case
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
LESSON = "Nobody works a night shift alone any more; handovers follow a written checklist."
FEAR, ACTED = "I can raise a concern without fear.", "Concerns are acted on."
# Twenty answers: (5, 4) twelve times, (4, 4) three times, (3, 2) five times.
WITH_SCRIPT = [(5, 4)] * 7 + [(4, 4)] * 3
WITHOUT_SCRIPT = [(5, 4)] * 5 + [(3, 2)] * 5
# Counts per score 1..5 are 0, 0, 5, 3, 12 and 0, 5, 0, 15, 0: cells under 5 show "<5", and
# the 12 (and the 15) are hidden too, since the total of 20 and the other cells would tell them.
FEAR_COUNTS = {"1": "<5", "2": "<5", "3": 5, "4": "<5", "5": "hidden"}
ACTED_COUNTS = {"1": "<5", "2": 5, "3": "<5", "4": "hidden", "5": "<5"}


@pytest.fixture
def learning_server(
    db_factory: DatabaseFactory, web_bundle: Bundle, tmp_path: Path
) -> Iterator[ServerProcess]:
    """A server with the no-JavaScript form on and a database that holds only this test's
    cases, so that the digest's figures are exactly theirs."""
    url = db_factory.clone()
    process = ServerProcess.start(
        url,
        tmp_path / "server",
        extra_env={"SAFEVOICE_BUNDLE_DIR": str(web_bundle.folder), "SAFEVOICE_NOJS": "1"},
    )
    yield process
    process.stop()
    db_factory.drop(url)


def seed_cases(url: str) -> str:
    """Thirteen cases received in the last months; the id of one closed with lessons learned.

    general: six closed after 40 days, each with an action done on time (day 10, due day 30);
    one still open with an action not yet due; one closed after 30 days without an action,
    acknowledged late (day 9). safety: five closed after 20 days, each with an action done
    late (day 20, due day 14). Acknowledged after 2 days (general) and 4 days (safety).
    """
    start = utcnow().date() - timedelta(days=150)
    database = Database.connect(url, pool_size=1)
    try:
        ids = [
            insert_case(
                database,
                start + timedelta(days=i),
                ack_after=2,
                close_after=40,
                actions=[(start + timedelta(days=i + 30), "done", start + timedelta(days=i + 10))],
            )
            for i in range(6)
        ]
        insert_case(
            database,
            start,
            ack_after=2,
            actions=[(utcnow().date() + timedelta(days=30), "in_progress", None)],
        )
        insert_case(database, start, ack_after=9, close_after=30)
        for i in range(5):
            insert_case(
                database,
                start + timedelta(days=i),
                channel="safety",
                ack_after=4,
                close_after=20,
                actions=[(start + timedelta(days=i + 14), "done", start + timedelta(days=i + 20))],
            )
    finally:
        database.dispose()
    return ids[0]


def html_row(page: str, question: str) -> list[str]:
    """The cells after the statement in the digest page's row for ``question``."""
    found = re.search(rf"<tr><td>{re.escape(html.escape(question))}</td>(.*?)</tr>", page)
    assert found is not None, question
    return [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", found.group(1))]


def test_surveys_answers_results_and_a_twice_approved_digest_end_to_end(
    learning_server: ServerProcess,
    world: World,
    chromium: Chromium,
    scriptless_browser: Browser,
    tmp_path: Path,
) -> None:
    server = learning_server
    committee = Committee(server, world)
    try:
        survey = committee.open_survey()
    finally:
        committee.http.close()
    assert survey.questions == (FEAR, ACTED)
    canary, sealed_canary = new_canary(), new_canary()
    url = f"{server.url}/survey/{survey.survey_id}"

    for index, scores in enumerate(WITH_SCRIPT):
        page = chromium.page()
        page.goto(url)
        page.wait_for_selector("#survey-form:not([hidden])")
        choose(page, "", scores)
        if index == 0:
            page.fill("#free-text", canary)
        page.click("#submit-button")
        page.wait_for_selector("#thanks-heading:not([hidden])")
        page.close()
    for index, scores in enumerate(WITHOUT_SCRIPT):
        page = scriptless_browser.new_page()
        page.goto(url)
        choose(page, "sealed-", scores)
        if index == 0:
            page.fill("#sealed-free-text", sealed_canary)
        page.click("#sealed-submit")
        expect(page.locator("h1")).to_have_text("Thank you")
        page.close()

    clis = {}
    for ident in ("alice", "bob"):
        clis[ident] = Cli(tmp_path / ident)
        clis[ident].safevoice(
            *("login", "--server", server.url, "--key", str(world.key_file(ident))),
            *("--pin", world.pin),
        )
    alice, bob = clis["alice"], clis["bob"]
    assert "is closed" in alice.safevoice("surveys", "close", survey.survey_id).stdout

    # The member's own command decrypts and tallies on their machine.
    figures = json.loads(alice.safevoice("surveys", "results", survey.survey_id, "--json").stdout)
    assert figures["answers"] == 20
    fear, acted = figures["questions"]
    assert (fear["question"], fear["counts"], fear["median"]) == (FEAR, FEAR_COUNTS, 5.0)
    assert (acted["question"], acted["counts"], acted["median"]) == (ACTED, ACTED_COUNTS, 4.0)
    for secret in (canary, sealed_canary):
        assert secret not in json.dumps(figures)
    # Free texts are for members, on their machine, when they ask for them.
    texts = alice.safevoice("surveys", "results", survey.survey_id, "--free-texts").stdout
    for secret in (canary, sealed_canary):
        assert secret in texts

    case_id = seed_cases(server.database_url)
    proposed = alice.safevoice(
        "digest", "propose", case_id, "--summary-file", "-", "--reviewed", stdin=LESSON
    )
    lesson_id = proposed.stdout.split("Proposed lesson ")[1].split(".")[0]
    bob.safevoice("digest", "approve", lesson_id, "--yes")
    out = tmp_path / "digest"
    alice.safevoice("digest", "build", "--out", str(out))
    assert "The digest verifies" in bob.safevoice("digest", "verify", str(out)).stdout

    built: dict[str, Any] = json.loads((out / "digest.json").read_text())
    digest_page = (out / "digest.html").read_text()
    assert [lesson["summary"] for lesson in built["lessons"]] == [LESSON]
    published = next(s for s in built["surveys"] if s["survey_id"] == survey.survey_id)
    assert published == figures  # the digest publishes exactly the member's figures
    for question, counts, median in ((FEAR, FEAR_COUNTS, "5.0"), (ACTED, ACTED_COUNTS, "4.0")):
        assert html_row(digest_page, question) == [median, "", *(str(counts[v]) for v in "12345")]
    assert f"{html.escape(survey.title)} (20 answers)" in digest_page

    # Completed corrective actions per category: six general, five safety (the open one and
    # the case without an action count for nothing).
    assert built["actions_completed"] == {
        "total": 11,
        "per_category": [
            {"category": "general", "count": 6},
            {"category": "safety", "count": 5},
        ],
    }
    assert "<tr><td>general</td><td>6</td></tr>" in digest_page
    assert "<tr><td>safety</td><td>5</td></tr>" in digest_page
    metrics = built["metrics"]
    expected = {
        "received_total": 13,
        "median_days_to_acknowledge": 2.0,  # seven of 2 days, five of 4, one of 9
        "median_days_to_close": 35.0,  # five of 20 days, one of 30, six of 40
        "percent_acknowledged_within_7_days": 92,  # 12 of 13
        "percent_closed_with_corrective_action": 92,  # 11 of 12 closed
        "percent_actions_done_on_time": 55,  # 6 of the 11 done (the open one is not due)
    }
    assert {key: metrics[key] for key in expected} == expected
    for key, value in expected.items():
        assert f"<tr><th>{key.replace('_', ' ')}</th><td>{value}</td></tr>" in digest_page

    for secret in (canary, sealed_canary):
        assert scan_paths([out], secret) == []
        assert scan_paths(data_paths(server.database_url), secret) == []
        assert secret not in server.log()
