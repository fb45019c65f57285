"""The desk's learning page: a member reads a proposed summary, approves it as the second
member, and can never approve their own; survey results show only suppressed figures."""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.desk.conftest import DeskHarness
from tests.support.server import ServerProcess
from tests.support.surveys import FEAR, closed_survey
from tests.support.workflow import insert_case
from tests.support.world import World

CANARY = "CANARYsurveyTextNeverOnTheMetricsPage"
SUMMARY = "Forklifts are now checked at every shift change, not once a week."


def propose_as(cli: Cli, server: ServerProcess, world: World, ident: str, case_id: str) -> str:
    cli.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file(ident)), "--pin", world.pin
    )
    proposed = cli.safevoice(
        "digest",
        "propose",
        case_id,
        "--summary-file",
        "-",
        "--reviewed",
        "--allow-dates",
        stdin=SUMMARY,
    )
    return str(proposed.stdout.split("Proposed lesson ")[1].split(".")[0])


def test_a_member_approves_another_members_summary_on_the_learning_page(
    unlocked: DeskHarness, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    database = Database.connect(server.database_url, pool_size=1)
    try:
        case_id = insert_case(database, date(2024, 6, 3), ack_after=1, close_after=10)
    finally:
        database.dispose()
    theirs = propose_as(Cli(tmp_path / "bob"), server, world, "bob", case_id)
    mine = propose_as(Cli(tmp_path / "alice"), server, world, "alice", case_id)

    page = unlocked.http.get("/learning")
    assert page.status_code == 200
    assert html.escape(SUMMARY) in page.text
    assert f'action="/lessons/{theirs}/approve"' in page.text
    assert f'action="/lessons/{mine}/approve"' not in page.text  # never one's own

    approved = unlocked.post(f"/lessons/{theirs}/approve")
    assert approved.status_code == 303, approved.text
    after = unlocked.http.get("/learning").text
    assert "Approved by alice, bob." in after
    assert f'action="/lessons/{theirs}/approve"' not in after

    own = unlocked.post(f"/lessons/{mine}/approve")
    assert own.status_code == 403
    assert "second committee member" in own.text


def test_the_metrics_page_charts_survey_trends_without_free_texts(
    unlocked: DeskHarness, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    assert "No survey has closed yet." in unlocked.http.get("/metrics").text
    member = Cli(tmp_path / "bob")
    member.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file("bob")), "--pin", world.pin
    )
    closed_survey(
        member,
        Cli(tmp_path / "staff"),
        url=server.url,
        pin=world.pin,
        folder=tmp_path,
        scores=(4, 4, 5, 3, 4),
        free_text=CANARY,
    )

    page = unlocked.http.get("/metrics")
    assert page.status_code == 200
    assert f'aria-label="Median answer: {FEAR}"' in page.text
    assert "Speaking up" in page.text
    assert ">4</text>" in page.text  # the median of 3, 4, 4, 4 and 5 is drawn as a bar
    assert CANARY not in page.text
