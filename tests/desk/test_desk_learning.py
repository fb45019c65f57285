"""The desk's learning page: a member proposes a closed case's summary (there, or when closing
the case), reads one proposed by another, approves it as the second member, and can never
approve their own; survey results show only suppressed figures."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path

from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.desk.conftest import DeskHarness, Reported
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


def proposals(cli: Cli, case_id: str) -> list[tuple[str, list[str]]]:
    """The summaries proposed for ``case_id`` and who approved each (the server is shared)."""
    listed = json.loads(cli.safevoice("digest", "list", "--json").stdout)
    return [(x["summary"], x["approved_by"]) for x in listed if x["case_id"] == case_id]


def alert(response: object) -> str:
    found = re.search(r'role="alert"[^>]*>([^<]*)', getattr(response, "text", ""))
    return html.unescape(found.group(1)) if found else ""


def test_closing_a_case_on_the_desk_with_a_summary_proposes_it_for_a_second_member(
    unlocked: DeskHarness, reported: Reported, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    case = f"/cases/{reported.case_id}"
    assert unlocked.post(f"{case}/acknowledge", {"text": ""}).status_code == 303
    page = unlocked.http.get(case).text
    assert 'name="publishable_summary"' in page
    assert "It names no person, team, place, site or project." in page
    close = {"outcome": "substantiated", "lessons": "Check brakes monthly.", "text": ""}

    # Refused summaries leave the case open and propose nothing.
    dated = unlocked.post(
        f"{case}/close",
        {**close, "publishable_summary": "Since 3 May brakes are checked.", "reviewed": "yes"},
    )
    assert dated.status_code == 400
    assert "'3 May'" in alert(dated)
    unreviewed = unlocked.post(f"{case}/close", {**close, "publishable_summary": SUMMARY})
    assert unreviewed.status_code == 400
    assert "Confirm that you reviewed the summary" in alert(unreviewed)
    assert "acknowledged" in unlocked.http.get(case).text
    bob = Cli(tmp_path / "bob")
    bob.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file("bob")), "--pin", world.pin
    )
    assert proposals(bob, reported.case_id) == []

    closed = unlocked.post(
        f"{case}/close", {**close, "publishable_summary": SUMMARY, "reviewed": "yes"}
    )
    assert closed.status_code == 303, alert(closed)
    assert "closed (substantiated)" in unlocked.http.get(case).text
    assert proposals(bob, reported.case_id) == [(SUMMARY, ["alice"])]
    learning = unlocked.http.get("/learning").text
    assert html.escape(SUMMARY) in learning


def test_a_member_proposes_a_closed_cases_summary_on_the_learning_page(
    unlocked: DeskHarness, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    database = Database.connect(server.database_url, pool_size=1)
    try:
        closed_id = insert_case(database, date(2024, 6, 3), ack_after=1, close_after=10)
        open_id = insert_case(database, date(2024, 6, 3), ack_after=1)
    finally:
        database.dispose()
    page = unlocked.http.get("/learning").text
    assert f'<option value="{closed_id}">' in page
    assert f'<option value="{open_id}">' not in page  # only closed cases are offered

    unreviewed = unlocked.post("/lessons", {"case_id": closed_id, "summary": SUMMARY})
    assert unreviewed.status_code == 400
    assert "Confirm that you reviewed the summary" in alert(unreviewed)
    still_open = unlocked.post(
        "/lessons", {"case_id": open_id, "summary": SUMMARY, "reviewed": "yes"}
    )
    assert still_open.status_code == 409
    assert "Close the case" in alert(still_open)
    unknown = unlocked.post(
        "/lessons", {"case_id": "x" * 22, "summary": SUMMARY, "reviewed": "yes"}
    )
    assert unknown.status_code == 404

    proposed = unlocked.post(
        "/lessons", {"case_id": closed_id, "summary": SUMMARY, "reviewed": "yes"}
    )
    assert proposed.status_code == 303, alert(proposed)
    bob = Cli(tmp_path / "bob")
    bob.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file("bob")), "--pin", world.pin
    )
    assert proposals(bob, closed_id) == [(SUMMARY, ["alice"])]
    listed = json.loads(bob.safevoice("digest", "list", "--json").stdout)
    chosen = next(x["lesson_id"] for x in listed if x["case_id"] == closed_id)
    bob.safevoice("digest", "approve", chosen, "--yes")
    assert proposals(bob, closed_id) == [(SUMMARY, ["alice", "bob"])]
