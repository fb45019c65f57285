"""Under a flood of valid submissions the proof of work for new submission challenges rises for
every worker, through the database, and lapses by itself once the flood stops; nothing about
when a single report came is stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.manifest import Manifest
from safevoice.errors import ConfigError
from safevoice.instance import service as instance
from safevoice.instance.flood import FloodMeter
from safevoice.intake.service import issue_challenge
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.api.test_submission import challenge, submit
from tests.dialogue.test_dialogue_api import new_case, reporter_token
from tests.support.asgi import client_for
from tests.support.reporter import build_submission


def test_the_meter_signals_once_a_minute_while_the_rate_stays_above_the_limit() -> None:
    meter = FloodMeter(3)

    first = [meter.accepted(at=t) for t in (0.0, 1.0, 2.0, 3.0, 4.0)]
    a_minute_later = [meter.accepted(at=t) for t in (63.0, 63.5, 64.0, 64.5)]
    after_a_quiet_spell = [meter.accepted(at=t) for t in (200.0, 201.0)]

    assert first == [False, False, False, True, False]
    assert a_minute_later == [False, False, False, True]
    assert after_a_quiet_spell == [False, False]
    assert not any(FloodMeter(0).accepted(at=float(t)) for t in range(500))


@pytest.fixture
def flooded(database: Database, database_url: str, blob_spec: str) -> Iterator[httpx.Client]:
    settings = Settings(
        database_url=database_url,
        snapshot_ttl_seconds=0,
        blob_store=blob_spec,
        flood_per_minute=2,
    )
    with client_for(create_app(settings, database=database)) as http:
        yield http


def difficulty(client: httpx.Client, purpose: str = "submit") -> int:
    answer = client.post("/api/v1/challenges", json={"purpose": purpose})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["difficulty"])


def test_a_flood_raises_the_submission_proof_of_work_and_it_lapses_by_itself(
    flooded: httpx.Client, database: Database, manifest: Manifest
) -> None:
    base, login_base = difficulty(flooded), difficulty(flooded, "reporter-login")
    upload_base = difficulty(flooded, "upload")

    for i in range(3):
        body = build_submission(manifest, challenge(flooded), text=f"Report {i}.").body
        assert submit(flooded, body, key=f"flood-submission-{i:04d}").status_code == 201

    assert difficulty(flooded) == base + instance.SURGE_STEP
    assert int(flooded.get("/api/v1/intake").json()["challenge"]["difficulty"]) == (
        base + instance.SURGE_STEP
    )
    # Logins and uploads are raised too; member logins carry no proof of work at all.
    assert difficulty(flooded, "reporter-login") == login_base + instance.SURGE_STEP
    assert difficulty(flooded, "upload") == upload_base + instance.SURGE_STEP
    assert difficulty(flooded, "member-login") == 0
    with database.session(write=False) as session:
        snap = instance.snapshot(session)
        stored = instance.get_state(session, instance.SURGE)
    # One value, to the minute: that there was a flood, not when any report came.
    assert stored is not None
    extra, until = (int(part) for part in stored.decode().split(":"))
    assert extra == instance.SURGE_STEP
    assert until % 60 == 0
    later = utcnow() + timedelta(seconds=instance.SURGE_SECONDS + 60)
    assert snap.surge_at(later) == 0
    lapsed = issue_challenge(snap, purpose="submit", now=later, ttl_seconds=60)
    assert lapsed.difficulty == base
    assert issue_challenge(snap, purpose="upload", now=later, ttl_seconds=60).difficulty == (
        upload_base
    )


def test_a_flood_that_goes_on_keeps_raising_up_to_a_ceiling(database: Database) -> None:
    now = utcnow()
    raised = []
    for _ in range(8):
        with database.unit_of_work() as session:
            raised.append(instance.raise_surge(session, now=now))

    assert raised == [2, 4, 6, 8, 8, 8, 8, 8]
    with database.unit_of_work() as session:
        after_it_lapsed = instance.raise_surge(
            session, now=now + timedelta(seconds=instance.SURGE_SECONDS + 60)
        )
    assert after_it_lapsed == instance.SURGE_STEP


def test_the_default_rate_is_far_above_what_a_whistleblowing_channel_receives() -> None:
    assert Settings().flood_per_minute == 120
    assert Settings.from_env({"SAFEVOICE_FLOOD_PER_MINUTE": "0"}).flood_per_minute == 0


def test_a_flood_of_reporter_logins_raises_the_proof_of_work_too(
    flooded: httpx.Client, client: httpx.Client, database: Database, manifest: Manifest
) -> None:
    # The case is sent through another worker, so that only the logins count on this one.
    sent = new_case(client, manifest)
    base = difficulty(flooded, "reporter-login")

    for _ in range(3):
        token = reporter_token(flooded, manifest, sent.reporter)
        assert token

    assert difficulty(flooded, "reporter-login") == base + instance.SURGE_STEP
    assert difficulty(flooded) > 1


def test_a_flood_of_uploads_for_new_reports_raises_the_proof_of_work_too(
    flooded: httpx.Client, database: Database
) -> None:
    base = difficulty(flooded, "upload")

    for _ in range(3):
        token = flooded.post("/api/v1/challenges", json={"purpose": "upload"}).json()["challenge"]
        parsed = powmod.parse(token)
        started = flooded.post(
            "/api/v1/uploads",
            json={
                "case_id": b64e(new_case_id()),
                "proof": {"challenge": token, "solution": powmod.solve(parsed)},
            },
        )
        assert started.status_code == 201, started.text

    assert difficulty(flooded, "upload") == base + instance.SURGE_STEP


def test_the_surge_lasts_as_long_as_the_settings_say(database: Database) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        assert instance.raise_surge(session, now=now, seconds=5) == instance.SURGE_STEP
    with database.session(write=False) as session:
        snap = instance.snapshot(session)
    _, until = snap.surge

    assert until % 5 == 0
    assert snap.surge_at(now) == instance.SURGE_STEP
    assert snap.surge_at(now + timedelta(seconds=10)) == 0
    assert Settings().flood_surge_seconds == instance.SURGE_SECONDS
    assert Settings.from_env({"SAFEVOICE_FLOOD_SURGE_SECONDS": "5"}).flood_surge_seconds == 5
    with pytest.raises(ConfigError, match="SAFEVOICE_FLOOD_SURGE_SECONDS"):
        Settings(flood_surge_seconds=0)
