"""``safevoice digest``: a closed case's summary goes out only after a dates check, a review and
a second member's approval; the built digest holds the approved lessons, actions, metrics and
survey trends, nothing of survey free texts, and verifies with the committee's keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64d
from safevoice.crypto.manifest import Manifest, SignedManifest, parse_payload
from safevoice.crypto.survey import Answer, parse_survey
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.canary import new_canary, scan_paths
from tests.support.threaded import serve_app
from tests.support.workflow import insert_case
from tests.support.world import World
from tests.surveys.test_survey_api import answer

LESSON = "Handovers between shifts now follow a written checklist, and nobody works alone."


@pytest.fixture
def served(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as url:
        yield url


def as_member(tmp_path: Path, served: str, world: World, ident: str) -> Cli:
    cli = Cli(tmp_path / ident)
    cli.safevoice(
        "login", "--server", served, "--key", str(world.key_file(ident)), "--pin", world.pin
    )
    return cli


def survey_with_answers(cli: Cli, served: str, tmp_path: Path, canary: str) -> str:
    questions = tmp_path / "questions.txt"
    questions.write_text("I can raise a concern without fear.\n")
    today = utcnow().date()
    created = cli.safevoice(
        "surveys",
        "create",
        "--title",
        "Spring",
        "--questions-file",
        str(questions),
        "--opens",
        str(today),
        "--closes",
        str(today + timedelta(days=7)),
        "--free-text",
        "Anything else?",
        "--json",
    )
    survey_id = str(json.loads(created.stdout)["survey_id"])
    cli.safevoice("surveys", "open", survey_id)
    listed = json.loads(cli.safevoice("surveys", "list", "--json").stdout)
    document = next(s for s in listed if s["survey_id"] == survey_id)["document"]
    survey = parse_survey(b64d(document["payload"]))
    with httpx.Client(base_url=served) as http:
        wire = http.get("/api/v1/manifest").json()
        manifest: Manifest = parse_payload(SignedManifest.from_json(wire).payload)
        for index in range(6):
            text = canary if index == 0 else ""
            sent = answer(http, manifest, survey, Answer(scores=(4,), free_text=text))
            assert sent.status_code == 204
    cli.safevoice("surveys", "close", survey_id)
    return survey_id


def test_the_digest_publishes_only_twice_approved_lessons_and_verifies(
    served: str, database: Database, world: World, tmp_path: Path
) -> None:
    case_id = insert_case(
        database,
        date(2024, 4, 2),
        ack_after=1,
        close_after=20,
        actions=[(date(2024, 5, 1), "done", date(2024, 4, 20))],
    )
    unapproved_case = insert_case(database, date(2024, 4, 3), ack_after=1, close_after=21)
    alice = as_member(tmp_path, served, world, "alice")
    bob = as_member(tmp_path, served, world, "bob")

    dated = alice.safevoice(
        "digest",
        "propose",
        case_id,
        "--summary-file",
        "-",
        "--reviewed",
        stdin="On 12 March the night shift was alone.",
        expect=1,
    )
    assert "'12 March'" in dated.stderr
    unreviewed = alice.safevoice(
        "digest", "propose", case_id, "--summary-file", "-", stdin=LESSON, expect=1
    )
    assert "It names no person" in unreviewed.stderr
    proposed = alice.safevoice(
        "digest", "propose", case_id, "--summary-file", "-", "--reviewed", stdin=LESSON
    )
    lesson_id = proposed.stdout.split("Proposed lesson ")[1].split(".")[0]
    alice.safevoice(
        "digest",
        "propose",
        unapproved_case,
        "--summary-file",
        "-",
        "--reviewed",
        stdin="Only one member ever saw this summary.",
    )
    refused = alice.safevoice("digest", "approve", lesson_id, "--yes", expect=1)
    assert "second committee member" in refused.stderr
    bob.safevoice("digest", "approve", lesson_id, "--yes")

    canary = new_canary()
    survey_with_answers(alice, served, tmp_path, canary)
    out = tmp_path / "digest"
    alice.safevoice("digest", "build", "--out", str(out))

    built = json.loads((out / "digest.json").read_text())
    assert [lesson["summary"] for lesson in built["lessons"]] == [LESSON]
    assert built["lessons"][0]["quarter"] == "2024-Q2"
    assert built["surveys"][0]["answers"] == 6
    assert built["surveys"][0]["questions"][0]["median"] == 4.0
    page = (out / "digest.html").read_text()
    assert LESSON in page
    assert "Only one member ever saw" not in page
    assert "<script" not in page
    assert "http" not in page
    assert scan_paths([out], canary) == []

    checked = bob.safevoice("digest", "verify", str(out))
    assert "The digest verifies" in checked.stdout
    (out / "digest.html").write_text(page.replace("nobody works alone", "everyone is fine"))
    tampered = bob.safevoice("digest", "verify", str(out), expect=1)
    assert "does not verify" in tampered.stderr
