"""Every desk page against the real server: what a member reads and does there reaches the
server through the shared member code, and the reporter and the CLI see the same record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from safevoice.client import surveys
from safevoice.client.api import Api
from safevoice.crypto.keys import format_fingerprint
from safevoice.storage.db import Database
from tests.cli.test_stats_html import (
    FOLLOWED_UP,
    SHARES,
    TIMES,
    TO_ACTION,
    TRENDS,
    a_year,
    assert_willingness_charted,
)
from tests.conftest import Cli
from tests.desk.conftest import DeskHarness, Reported
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.charts import assert_charted
from tests.support.server import ServerProcess
from tests.support.world import World


def follow_up(
    cli: Cli, server: ServerProcess, world: World, code: str, reply: str | None = None
) -> dict[str, object]:
    args = ["follow-up", "--server", server.url, "--pin", world.pin, "--json"]
    stdin = code + "\n"
    if reply is not None:
        args += ["--reply-file", "-"]
        stdin += reply
    return dict(json.loads(cli.report(*args, stdin=stdin).stdout))


def test_unlock_logs_in_with_the_clis_state_and_the_inbox_shows_the_new_case(
    desk: DeskHarness, reported: Reported, cli: Cli
) -> None:
    desk.admit()
    first = desk.http.get("/unlock")
    assert "Committee root fingerprint" in first.text  # first run: the pin is asked for
    assert desk.unlock().status_code == 303
    inbox = desk.http.get("/")
    assert inbox.status_code == 200
    assert f'href="/cases/{reported.case_id}"' in inbox.text
    assert "new case: acknowledgement due" in inbox.text
    # The CLI uses the same state: logged in, same pin, no second login needed.
    listed = cli.safevoice("cases", "list", "--json", env={"SAFEVOICE_HOME": str(desk.home)})
    assert reported.case_id in {c["id"] for c in json.loads(listed.stdout)}
    state = json.loads((desk.home / "state.json").read_text())
    assert reported.text not in json.dumps(state)


def test_the_case_page_shows_the_report_its_answers_and_a_verified_thread(
    unlocked: DeskHarness, reported: Reported
) -> None:
    page = unlocked.http.get(f"/cases/{reported.case_id}")
    assert page.status_code == 200
    assert reported.text in page.text
    assert "Hall C" in page.text
    assert "member:alice" in page.text  # who can read it now
    assert "does not verify" not in page.text


def test_reply_reaches_the_reporter_and_the_answer_shows_as_unread(
    unlocked: DeskHarness, reported: Reported, cli: Cli, server: ServerProcess, world: World
) -> None:
    unlocked.http.get(f"/cases/{reported.case_id}")
    sent = unlocked.post(
        f"/cases/{reported.case_id}/reply",
        {"text": "Which forklift number?"},
        files={"files": ("photo-request.txt", b"please send a photo\n", "text/plain")},
    )
    assert sent.status_code == 303, sent.text
    seen = follow_up(cli, server, world, reported.code, reply="Forklift number 7.")
    assert "Which forklift number?" in json.dumps(seen)
    unlocked.post("/sync")
    assert "unread message from the reporter" in unlocked.http.get("/").text
    page = unlocked.http.get(f"/cases/{reported.case_id}")
    assert "Forklift number 7." in page.text
    assert "photo-request.txt" in page.text
    inbox = unlocked.http.get("/").text
    assert "does not verify" not in page.text
    row = re.search(rf"{reported.case_id[:8]}…</a></td>\n<td>([^<]*)", inbox)
    assert row is None or row.group(1) != "unread message from the reporter", row


def test_the_whole_workflow_from_the_case_page(
    unlocked: DeskHarness, reported: Reported, cli: Cli, server: ServerProcess, world: World
) -> None:
    case = f"/cases/{reported.case_id}"
    page = unlocked.http.get(case)
    assert "feedback is due by" in page.text
    steps = [
        ("acknowledge", {"text": ""}),
        ("claim", {}),
        ("triage", {"risk": "high", "text": "Safety risk; investigate at once."}),
        ("note", {"text": "Spoke to the workshop lead."}),
        ("actions", {"owner": "alice", "due_on": "2030-01-31", "description": "Replace brakes."}),
        ("status", {"status": "investigating", "text": ""}),
        ("status", {"status": "action_planned", "text": ""}),
    ]
    for step, data in steps:
        response = unlocked.post(f"{case}/{step}", data)
        assert response.status_code == 303, (
            step,
            re.findall(r"role=\"alert\"[^>]*>([^<]*)", response.text),
        )
    page = unlocked.http.get(case).text
    assert "Safety risk; investigate at once." in page
    assert "Spoke to the workshop lead." in page
    assert "Replace brakes." in page
    assert "action_planned" in page
    refused = unlocked.post(
        f"{case}/close", {"outcome": "substantiated", "lessons": "Check brakes monthly."}
    )
    assert refused.status_code == 409
    assert "open corrective actions" in refused.text
    action_id = re.search(rf'action="{case}/actions/([^"]+)"', page)
    assert action_id is not None
    done = unlocked.post(f"{case}/actions/{action_id.group(1)}", {"state": "done"})
    assert done.status_code == 303
    closed = unlocked.post(
        f"{case}/close", {"outcome": "substantiated", "lessons": "Check brakes monthly."}
    )
    assert closed.status_code == 303, closed.text
    page = unlocked.http.get(case).text
    assert "Check brakes monthly." in page
    assert "closed (substantiated)" in page
    seen = json.dumps(follow_up(cli, server, world, reported.code))
    assert "acknowledged" in seen
    assert "closed" in seen
    assert unlocked.post(f"{case}/reopen", {"text": ""}).status_code == 303
    assert "investigating" in unlocked.http.get(case).text


def test_dropping_an_action_signs_its_reason_into_the_committee_record(
    unlocked: DeskHarness, reported: Reported
) -> None:
    case = f"/cases/{reported.case_id}"
    steps = [
        ("acknowledge", {"text": ""}),
        ("claim", {}),
        ("actions", {"owner": "alice", "due_on": "2030-01-31", "description": "Replace brakes."}),
    ]
    for step, data in steps:
        assert unlocked.post(f"{case}/{step}", data).status_code == 303, step
    action_id = re.search(rf'action="{case}/actions/([^"]+)"', unlocked.http.get(case).text)
    assert action_id is not None

    dropped = unlocked.post(
        f"{case}/actions/{action_id.group(1)}",
        {"state": "dropped", "reason": "The supplier recalled the whole series."},
    )

    assert dropped.status_code == 303, dropped.text
    page = unlocked.http.get(case).text
    assert "now dropped" in page
    assert "Reason: The supplier recalled the whole series." in page
    assert "NOT VERIFIED" not in page


def test_bad_input_gets_a_sentence_and_writes_nothing(
    unlocked: DeskHarness, reported: Reported
) -> None:
    case = f"/cases/{reported.case_id}"
    for step, data, words in [
        ("reply", {"text": "  "}, "empty"),
        ("triage", {"risk": "extreme", "text": "x"}, "low, medium or high"),
        ("actions", {"owner": "alice", "due_on": "soon", "description": "x"}, "due day"),
        ("close", {"outcome": "maybe"}, "outcome"),
        ("recuse", {}, "Tick the box"),
    ]:
        response = unlocked.post(f"{case}/{step}", data)
        assert 400 <= response.status_code < 500, step
        assert words in response.text, step
    assert unlocked.http.get("/cases/not-a-case").status_code == 404


def test_an_attachment_downloads_bit_identical_and_never_inline(
    unlocked: DeskHarness, cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    content = bytes(range(256)) * 5000 + b"<script>alert(1)</script>"
    attached = tmp_path / "evidence\u202egnp.html"
    attached.write_bytes(content)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(
        cli, server, world, "See the file.", "--attach", str(attached), answers=answers
    )
    page = unlocked.http.get(f"/cases/{submitted['case_id']}")
    assert "evidence\\u202egnp.html" in page.text  # the bidi override is shown, not obeyed
    response = unlocked.http.get(f"/cases/{submitted['case_id']}/files/0")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "\u202e" not in disposition
    assert "%E2%80%AE" not in disposition
    assert "sandbox" in response.headers["content-security-policy"]


def test_the_case_table_filters_searches_and_pages(
    unlocked: DeskHarness, reported: Reported
) -> None:
    unlocked.post("/sync")
    word = reported.text.split("ref-")[1]
    found = unlocked.http.get("/cases", params={"q": word.upper()})
    assert reported.case_id in found.text
    assert "1 case(s)" in found.text
    assert (
        reported.case_id not in unlocked.http.get("/cases", params={"q": "nothing-like-this"}).text
    )
    assert reported.case_id in unlocked.http.get("/cases", params={"status": "received"}).text
    assert reported.case_id not in unlocked.http.get("/cases", params={"status": "closed"}).text
    assert reported.case_id not in unlocked.http.get("/cases", params={"mine": "true"}).text
    unlocked.post(f"/cases/{reported.case_id}/claim")
    assert reported.case_id in unlocked.http.get("/cases", params={"mine": "true"}).text
    assert unlocked.http.get("/cases", params={"page": "0"}).status_code == 400


def test_metrics_and_the_key_and_session_page(unlocked: DeskHarness, world: World) -> None:
    metrics = unlocked.http.get("/metrics")
    assert metrics.status_code == 200
    assert "Reports received" in metrics.text
    assert "<svg" in metrics.text
    # The willingness-to-report charts: per quarter and channel, and each channel's share.
    assert "Willingness to report, per quarter" in metrics.text
    assert 'aria-label="Reports received per quarter and channel"' in metrics.text
    assert 'aria-label="Share of reports per channel, in percent"' in metrics.text
    assert "Median time to a completed corrective action" in metrics.text
    assert 'aria-label="Shares of cases and actions, in percent"' in metrics.text
    assert f'aria-label="{TIMES}"' in metrics.text
    session = unlocked.http.get("/session")
    assert format_fingerprint(world.members["alice"].public.fingerprint) in session.text
    assert format_fingerprint(world.pin) in session.text
    assert "Manifest" in session.text


def test_the_metrics_page_charts_every_willingness_indicator_a_suppressed_one_without_a_bar(
    unlocked: DeskHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The desk draws what the server says; here the figures of a year with small months.
    monkeypatch.setattr(Api, "stats", lambda api, **_: a_year())
    monkeypatch.setattr(surveys, "trends", lambda *_: TRENDS)
    page = unlocked.http.get("/metrics")
    assert page.status_code == 200
    assert_willingness_charted(page.text, a_year())

    suppressed = a_year().model_copy(
        update={"median_days_to_action_done": "<5", "percent_reporter_followed_up": "<5"}
    )
    monkeypatch.setattr(Api, "stats", lambda api, **_: suppressed)
    page = unlocked.http.get("/metrics")
    assert_charted(page.text, TIMES, TO_ACTION, "<5")
    assert_charted(page.text, SHARES, FOLLOWED_UP, "<5")
    assert_charted(page.text, TIMES, "Receipt to acknowledgement", "3 days")


def test_a_record_the_server_changed_is_shown_as_a_warning_and_blocks_writing(
    unlocked: DeskHarness, reported: Reported, server: ServerProcess
) -> None:
    case = f"/cases/{reported.case_id}"
    planned = unlocked.post(
        f"{case}/actions", {"owner": "alice", "due_on": "2030-05-01", "description": "Fix it."}
    )
    assert planned.status_code == 303
    assert 'id="tamper"' not in unlocked.http.get(case).text
    database = Database.connect(server.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            session.execute(
                text("UPDATE corrective_action SET owner = 'bob' WHERE case_id = :c"),
                {"c": reported.case_id},
            )
    finally:
        database.dispose()
    unlocked.post("/sync")  # "Fetch new cases and messages" fetches the actions again
    page = unlocked.http.get(case).text
    assert 'id="tamper"' in page
    assert "corrective action" in page
    assert "Reply to the reporter" not in page  # no form to build on a changed record


def test_a_case_marked_server_sealed_says_so_plainly(
    unlocked: DeskHarness, reported: Reported, server: ServerProcess
) -> None:
    case = f"/cases/{reported.case_id}"
    assert "sealed by the server" not in unlocked.http.get(case).text
    database = Database.connect(server.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            session.execute(
                text("UPDATE case_file SET intake_mode = 'server_sealed' WHERE id = :c"),
                {"c": reported.case_id},
            )
    finally:
        database.dispose()
    assert "sealed by the server" in unlocked.http.get(case).text


def test_recuse_and_rekey_from_the_desk_start_a_new_key_epoch(
    unlocked: DeskHarness, reported: Reported, cli: Cli, server: ServerProcess, world: World
) -> None:
    carol_home = {"SAFEVOICE_HOME": str(cli.home / "carol")}
    cli.safevoice(
        "login",
        "--server",
        server.url,
        "--key",
        str(world.key_file("carol")),
        "--pin",
        world.pin,
        env=carol_home,
    )
    cli.safevoice("cases", "recuse", reported.case_id, env=carol_home)
    case = f"/cases/{reported.case_id}"
    assert "must be re-keyed" in unlocked.http.get(case).text
    rekeyed = unlocked.post(f"{case}/rekey")
    assert rekeyed.status_code == 303, rekeyed.text
    page = unlocked.http.get(case).text
    assert "Now (key epoch 1): member:alice, member:bob, reporter." in page
    assert "Key epoch 0: member:alice, member:bob, member:carol, reporter" in page
    # Alice recuses too, from the desk: confirmed by a tick box, refused without it.
    assert unlocked.post(f"{case}/recuse").status_code == 400
    recused = unlocked.post(f"{case}/recuse", {"confirm": "yes"})
    assert recused.status_code == 303, recused.text
    assert recused.headers["location"] == "/"
    assert "You recused" in unlocked.http.get("/").text
    assert unlocked.http.get(case).status_code == 404  # nothing new reaches a recused member
