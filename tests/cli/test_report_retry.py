"""The reporter CLI keeps its encrypted report and retries until it lands exactly once.

A report whose answer was lost (the server stored it, then the answer never arrived) or that
met an outage is resent with the same bytes and idempotency key: while the command runs, with
back-off and a sentence for each wait; and, with ``--state``, by running the same command again
after it gave up. Either way the committee gets one case, never two.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safevoice import errors
from safevoice.cases.models import Case, CaseObject
from safevoice.client.patience import GaveUp, Patience
from safevoice.i18n import Catalogue
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.faults import LosesAnswers
from tests.support.threaded import serve_app
from tests.support.world import World


@pytest.fixture
def flaky(database: Database, database_url: str) -> Iterator[tuple[str, LosesAnswers]]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    wrapper = LosesAnswers(app, count=0)
    with serve_app(wrapper) as url:
        yield url, wrapper


def cases(database: Database) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def submit(
    cli: Cli,
    url: str,
    world: World,
    tmp_path: Path,
    *extra: str,
    expect: int,
    env: dict[str, str] | None = None,
) -> object:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    return cli.report(
        "submit",
        "--server",
        url,
        "--pin",
        world.pin,
        "--channel",
        "general",
        "--answers-file",
        str(answers),
        "--text-file",
        "-",
        *extra,
        stdin="The brakes were disabled.",
        expect=expect,
        env=env,
    )


def test_a_lost_answer_is_retried_with_back_off_and_lands_once(
    cli: Cli, flaky: tuple[str, LosesAnswers], world: World, database: Database, tmp_path: Path
) -> None:
    url, wrapper = flaky
    wrapper.count = 2

    result = submit(cli, url, world, tmp_path, "--retry-for", "60", expect=0)

    assert wrapper.count == 0
    assert result.output.count("The server is temporarily unavailable. Trying again") == 2  # type: ignore[attr-defined]  # click's Result
    assert "Your report arrived" in result.output  # type: ignore[attr-defined]  # click's Result
    assert cases(database) == 1


def test_the_retry_notices_speak_the_reporter_s_language(
    cli: Cli, flaky: tuple[str, LosesAnswers], world: World, tmp_path: Path
) -> None:
    url, wrapper = flaky
    wrapper.count = 1
    de = Catalogue.load("de")

    result = submit(
        cli, url, world, tmp_path, "--retry-for", "60", expect=0, env={"LANG": "de_DE.UTF-8"}
    )

    said = " ".join(result.output.split())  # type: ignore[attr-defined]  # click's Result
    assert de("The server is temporarily unavailable.") in said
    assert de("the request") in said
    assert "Trying again" not in said
    assert "the request" not in said


def test_a_report_kept_after_giving_up_is_resent_by_the_same_command_without_a_second_case(
    cli: Cli, flaky: tuple[str, LosesAnswers], world: World, database: Database, tmp_path: Path
) -> None:
    url, wrapper = flaky
    wrapper.count = 1
    state = tmp_path / "state"
    kept = state / "pending-report.json"

    gave_up = submit(cli, url, world, tmp_path, "--state", str(state), "--retry-for", "0", expect=1)

    said = gave_up.output  # type: ignore[attr-defined]  # click's Result
    assert "Your report has NOT been confirmed" in said
    assert "Run the same command again" in said
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    code = json.loads(kept.read_text())["code"]
    assert cases(database) == 1  # it was stored; only the answer was lost

    resent = submit(cli, url, world, tmp_path, "--state", str(state), "--json", expect=0)

    assert json.loads(resent.stdout)["code"] == code  # type: ignore[attr-defined]  # click's Result
    assert "sending it again exactly as it was encrypted then" in resent.output  # type: ignore[attr-defined]  # click's Result
    assert not kept.exists()
    assert cases(database) == 1


def test_without_a_state_folder_giving_up_says_that_nothing_was_kept(
    cli: Cli, flaky: tuple[str, LosesAnswers], world: World, tmp_path: Path
) -> None:
    url, wrapper = flaky
    wrapper.count = 1

    gave_up = submit(cli, url, world, tmp_path, "--retry-for", "0", expect=1)

    said = gave_up.output  # type: ignore[attr-defined]  # click's Result
    assert "may or may not have arrived" in said
    assert "nothing was kept on this machine" in said
    assert not list(tmp_path.rglob("pending-report.json"))


def test_patience_backs_off_within_its_time_and_never_retries_a_refusal() -> None:
    now = [0.0]
    waits: list[float] = []
    told: list[str] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    patience = Patience(seconds=60, tell=told.append, sleep=sleep, clock=lambda: now[0])

    def never() -> None:
        raise errors.Unreachable("The server cannot be reached.")

    with pytest.raises(GaveUp):
        patience.run(never, what="your report")
    assert now[0] <= 60
    # Backed off: a handful of attempts in a minute, each wait at most 30 s, not a tight loop.
    assert 3 <= len(waits) <= 10
    assert waits[0] <= 1
    assert max(waits) <= 30
    assert len(told) == len(waits)
    assert "Trying again to send your report" in told[0]

    refused: list[int] = []

    def refuse() -> None:
        refused.append(1)
        raise errors.Conflict("No.")

    with pytest.raises(errors.Conflict):
        patience.run(refuse)
    assert refused == [1]


def test_a_reply_whose_answer_was_lost_is_recognised_in_the_thread_and_not_sent_twice(
    cli: Cli, flaky: tuple[str, LosesAnswers], world: World, database: Database, tmp_path: Path
) -> None:
    url, wrapper = flaky
    submitted = json.loads(submit(cli, url, world, tmp_path, "--json", expect=0).stdout)  # type: ignore[attr-defined]  # click's Result
    reply = tmp_path / "reply.txt"
    reply.write_text("The valves were replaced last week.")
    wrapper.path, wrapper.count = "/api/v1/reporter/objects", 1

    result = cli.report(
        "follow-up",
        "--server",
        url,
        "--pin",
        world.pin,
        "--reply-file",
        str(reply),
        "--retry-for",
        "60",
        stdin=submitted["code"] + "\n",
    )

    assert wrapper.count == 0
    assert "The server is temporarily unavailable. Trying again to send your reply" in result.output
    assert "Your reply was sent (message #1)" in result.output
    with database.session(write=False) as session:
        stored = session.scalar(
            select(func.count()).select_from(CaseObject).where(CaseObject.sender == "reporter")
        )
    assert stored == 2  # the report and the one reply
