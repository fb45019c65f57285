"""``safevoice surveys`` and ``safevoice-report survey``: a member signs and opens a survey,
staff answer it anonymously from the command line, and a member tallies it on their machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64d
from safevoice.crypto.survey import parse_survey
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.world import World


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def test_a_survey_is_created_opened_answered_and_tallied_with_small_cells_suppressed(
    cli: Cli, served: str, world: World, tmp_path: Path
) -> None:
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("alice")), "--pin", world.pin
    )
    questions = tmp_path / "questions.txt"
    questions.write_text("I can raise a concern without fear.\nConcerns are acted on.\n")
    today = utcnow().date()
    created = json.loads(
        cli.safevoice(
            "surveys",
            "create",
            "--title",
            "Speaking up",
            "--questions-file",
            str(questions),
            "--opens",
            str(today),
            "--closes",
            str(today + timedelta(days=14)),
            "--free-text",
            "Anything else?",
            "--json",
        ).stdout
    )
    survey_id = created["survey_id"]
    assert created["state"] == "published"
    assert "is open" in cli.safevoice("surveys", "open", survey_id).stdout

    reporter = Cli(tmp_path / "reporter")
    canary = "CANARYsurveyFreeTextFromTheCli"
    given = [[5, 4]] * 6 + [[3, 4]]
    for index, scores in enumerate(given):
        body = {"scores": scores, "free_text": canary if index == 0 else ""}
        result = reporter.report(
            "survey",
            "--server",
            served,
            "--pin",
            world.pin,
            "--answers-file",
            "-",
            stdin=json.dumps(body),
        )
        assert "your answer was received" in result.stdout
    assert not (tmp_path / "reporter").exists()  # the reporter's client kept nothing

    figures = json.loads(cli.safevoice("surveys", "results", survey_id, "--json").stdout)
    fear, acted = figures["questions"]
    assert figures["answers"] == 7
    assert fear["median"] == 5.0
    assert fear["counts"] == dict.fromkeys("12345", "hidden")
    assert acted["counts"]["4"] == "hidden"
    assert canary not in json.dumps(figures)
    with_texts = cli.safevoice("surveys", "results", survey_id, "--free-texts").stdout
    assert canary in with_texts

    assert "is closed" in cli.safevoice("surveys", "close", survey_id).stdout
    late = reporter.report(
        "survey",
        "--server",
        served,
        "--pin",
        world.pin,
        "--answers-file",
        "-",
        stdin=json.dumps({"scores": [1, 1]}),
        expect=1,
    )
    assert "No survey is open" in late.stderr


def test_a_survey_for_a_channel_the_instance_lacks_is_refused_with_the_channels_it_has(
    cli: Cli, served: str, world: World, tmp_path: Path
) -> None:
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file("alice")), "--pin", world.pin
    )
    questions = tmp_path / "questions.txt"
    questions.write_text("I can raise a concern without fear.\n")
    today = utcnow().date()
    create = (
        *("surveys", "create", "--title", "Speaking up", "--questions-file", str(questions)),
        *("--opens", str(today), "--closes", str(today + timedelta(days=14))),
    )

    refused = cli.safevoice(*create, "--channel", "general", "--channel", "night-shift", expect=1)
    assert "names a channel this instance does not have: night-shift" in refused.stderr
    assert "Its channels are: general, safety." in refused.stderr
    assert "Speaking up" not in cli.safevoice("surveys", "list").stdout

    created = json.loads(cli.safevoice(*create, "--channel", "safety", "--json").stdout)
    payload = parse_survey(b64d(created["document"]["payload"], what="survey"))
    assert payload.channels == ("safety",)
