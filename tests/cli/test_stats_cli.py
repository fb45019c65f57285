"""``safevoice stats``: JSON, a table for people, and the HTML report, for members and auditors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.surveys import FEAR, closed_survey
from tests.support.threaded import serve_app
from tests.support.workflow import seed_two_months
from tests.support.world import World

PERIOD = ("--from", "2024-03", "--to", "2024-04")


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    seed_two_months(database)
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def login(cli: Cli, url: str, world: World, ident: str) -> None:
    cli.safevoice("login", "--server", url, "--key", str(world.key_file(ident)), "--pin", world.pin)


def test_a_member_prints_the_statistics_as_json_and_as_a_table(
    cli: Cli, served: str, world: World
) -> None:
    login(cli, served, world, "alice")

    figures = json.loads(cli.safevoice("stats", "--json", *PERIOD).stdout)
    table = cli.safevoice("stats", *PERIOD).stdout

    assert figures["received_total"] == 12
    assert figures["received_per_channel"][1] == {"channel": "safety", "count": "<5"}
    assert re.search(r"reports received\s*│\s*12", table)
    assert re.search(r"2024-03\s*│\s*7", table)
    assert re.search(r"safety\s*│\s*<5", table)
    assert re.search(r"general\s*│\s*hidden", table)
    assert re.search(r"median time to acknowledge\s*│\s*4 days", table)
    assert "fewer than 5 cases are shown as <5" in table
    # Willingness to report: the safety channel's two cases leave the quarter table withheld.
    assert figures["median_days_to_action_done"] == 50.0
    assert figures["percent_reporter_followed_up"] == 0
    assert figures["share_per_channel"][1] == {"channel": "safety", "percent": "<5"}
    assert {cell["count"] for cell in figures["received_per_quarter"]} == {"hidden"}
    assert re.search(r"median time to a completed corrective action\s*│\s*50 days", table)
    assert re.search(r"reporters who came back with a follow-up\s*│\s*0 %", table)
    assert re.search(r"2024-Q1\s*│\s*safety\s*│\s*hidden", table)


def test_an_auditor_writes_the_html_report_with_charts_and_nothing_external(
    cli: Cli, served: str, world: World, tmp_path: Path
) -> None:
    login(cli, served, world, "audrey")
    report = tmp_path / "committee" / "stats.html"
    report.parent.mkdir()

    result = cli.safevoice("stats", *PERIOD, "--channel", "general", "--html", str(report))

    page = report.read_text(encoding="utf-8")
    assert f"Wrote the HTML report to {report}" in result.stdout
    assert "<title>Whistleblowing statistics, Mar 2024 to Apr 2024</title>" in page
    assert page.count("<svg") == 6
    assert "Reports received per quarter and channel" in page
    assert "Share of reports per channel, in percent" in page
    assert "channel general" in page
    assert "How these statistics protect reporters" in page
    for external in ("http:", "https:", "//", "src=", "href=", "url(", "@import", "<script"):
        assert external not in page.replace("<!DOCTYPE html>", ""), external


def test_the_filters_are_checked_by_the_server_and_refusals_are_sentences(
    cli: Cli, served: str, world: World
) -> None:
    login(cli, served, world, "alice")

    refused = cli.safevoice("stats", "--from", "2024-05", "--to", "2024-04", expect=1)

    assert "The period starts after it ends." in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_member_adds_the_survey_trends_decrypted_on_their_machine(
    cli: Cli, served: str, world: World, tmp_path: Path
) -> None:
    login(cli, served, world, "alice")
    canary = "CANARYsurveyTextNeverInTheStatistics"
    staff = Cli(tmp_path / "staff")
    for title, scores, days_open in (("Winter", (2, 2, 3, 2, 1), 14), ("Spring", (4, 4, 5, 3), 20)):
        closed_survey(
            cli,
            staff,
            url=served,
            pin=world.pin,
            folder=tmp_path,
            scores=scores,
            free_text=canary,
            title=title,
            days_open=days_open,
        )
    report = tmp_path / "stats.html"

    figures = json.loads(cli.safevoice("stats", "--json", "--surveys", *PERIOD).stdout)
    table = cli.safevoice("stats", "--surveys", "--html", str(report), *PERIOD).stdout

    winter, spring = figures["survey_trends"]
    assert winter["questions"][0]["median"] == 2.0
    assert spring["questions"][0]["median"] == "<5"  # four answers single someone out
    assert spring["questions"][0]["trend"] == "<5"
    assert figures["received_total"] == 12
    assert re.search(r"Winter \(\d{4}-\d{2}\)\s*│.*│\s*2\.0", table)
    page = report.read_text(encoding="utf-8")
    assert f'aria-label="Median answer: {FEAR}"' in page
    for output in (json.dumps(figures), table, page):
        assert canary not in output
    plain = json.loads(cli.safevoice("stats", "--json", *PERIOD).stdout)
    assert "survey_trends" not in plain


def test_stats_need_a_session(cli: Cli) -> None:
    result = cli.safevoice("stats", expect=1)

    assert "not logged in" in result.stderr


def test_the_help_names_the_willingness_to_report_indicators(cli: Cli) -> None:
    shown = " ".join(cli.safevoice("stats", "--help").output.split())

    assert "willingness-to-report indicators" in shown
    for indicator in (
        "reports per quarter and channel",
        "near-miss",
        "came back with a follow-up",
        "median days to acknowledgement and to a completed corrective action",
        "pulse survey trends",
    ):
        assert indicator in shown
