"""A whole conversation through the command-line clients against the real server, and a
server that tampers with the stored thread, as a malicious operator would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from safevoice.storage.db import Database
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.conversation import Conversation
from tests.support.databases import data_paths
from tests.support.server import ServerProcess


def texts(shown: dict[str, object]) -> list[str | None]:
    objects = shown["objects"]
    assert isinstance(objects, list)
    return [o["text"] for o in objects if o["chain"] == "thread" and o["kind"] == "message"]


def test_a_full_conversation_with_canaries_in_every_message(
    conversation: Conversation, server: ServerProcess
) -> None:
    question, answer = new_canary("QUESTION"), new_canary("ANSWER")
    server.proxy.clear()

    conversation.reply(f"Which scales? {question}")
    seen_by_reporter = conversation.follow_up(f"The ones in bay 3. {answer}")
    inbox = json.loads(conversation.member("inbox", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    shown = conversation.show()

    assert texts(seen_by_reporter) == [f"Which scales? {question}"]
    assert seen_by_reporter["problems"] == []
    assert conversation.case_id in [c["id"] for c in inbox]
    assert texts(shown) == [f"Which scales? {question}", f"The ones in bay 3. {answer}"]
    assert all(o["verified"] for o in shown["objects"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    after = json.loads(conversation.member("inbox", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert conversation.case_id not in [c["id"] for c in after]

    requests = server.proxy.requests()
    assert any(r.target == "/api/v1/reporter/objects" for r in requests)
    assert any(
        r.target.endswith("/objects") and r.target.startswith("/api/v1/cases/") for r in requests
    )
    for canary in (question, answer):
        for request in requests:
            assert not occurrences(request.raw, canary), request.target
        assert scan_paths(data_paths(server.database_url), canary) == []
        assert not occurrences(server.log_path.read_bytes(), canary)


def test_unicode_round_trips_exactly_and_empty_messages_are_refused(
    conversation: Conversation,
) -> None:
    words = "שלום עולם — مرحبا 👋🏽 naïve ﷺ \u200f end"
    conversation.reply(words)

    assert texts(conversation.follow_up()) == [words]
    empty = conversation.cli.safevoice(
        "cases",
        "reply",
        conversation.case_id,
        "--text-file",
        "-",
        stdin="   \n",
        env={"SAFEVOICE_HOME": str(conversation.cli.home / "alice")},
        expect=1,
    )
    assert "empty" in empty.stderr
    refused = conversation.cli.report(
        "follow-up",
        "--server",
        conversation.server.url,
        "--pin",
        conversation.world.pin,
        "--reply-file",
        "-",
        stdin=conversation.code + "\n\n",
        expect=1,
    )
    assert "empty" in refused.stderr


def execute(database: Database, sql: str, **params: object) -> None:
    """Change the stored thread directly; every statement must really change a row."""
    with database.writer.begin() as connection:
        changed = connection.execute(text(sql), params).rowcount
    assert changed >= 1, sql


def grown(conversation: Conversation) -> None:
    """Thread: #0 report, #1 member, #2 reporter, #3 member."""
    conversation.reply("First question.")
    conversation.follow_up("First answer.")
    conversation.reply("Second question.")
    conversation.show()  # the member's client remembers the head it saw


TAMPERING = {
    "delete a message in the middle": [
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'thread' AND seq = 2",
    ],
    "swap two messages": [
        "UPDATE case_object SET seq = 100 WHERE case_id = :case AND chain = 'thread' AND seq = 1",
        "UPDATE case_object SET seq = 1 WHERE case_id = :case AND chain = 'thread' AND seq = 2",
        "UPDATE case_object SET seq = 2 WHERE case_id = :case AND chain = 'thread' AND seq = 100",
    ],
    "replay an old message": [
        "UPDATE case_object SET envelope = (SELECT envelope FROM case_object WHERE "
        "case_id = :case AND chain = 'thread' AND seq = 1) WHERE case_id = :case "
        "AND chain = 'thread' AND seq = 3",
    ],
    "change a sender": [
        "UPDATE case_object SET envelope = REPLACE(envelope, 'member:alice', 'member:carol') "
        "WHERE case_id = :case AND chain = 'thread' AND seq = 1",
    ],
}


@pytest.mark.parametrize("tamper", sorted(TAMPERING))
def test_a_tampered_thread_is_detected_by_the_member_and_the_reporter(
    conversation: Conversation, raw: Database, db_kind: str, tamper: str
) -> None:
    grown(conversation)
    for statement in TAMPERING[tamper]:
        if db_kind == "postgresql":
            statement = statement.replace(
                "envelope, 'member", "convert_from(envelope, 'UTF8'), 'member"
            ).replace("'member:carol')", "'member:carol')::bytea")
        execute(raw, statement, case=conversation.case_id)

    member_view = conversation.show(expect=2)
    reporter_view = conversation.follow_up(expect=2)

    assert member_view["problems"] or member_view["warnings"]
    assert reporter_view["problems"]


def test_a_message_moved_from_another_case_is_detected(
    conversation: Conversation, raw: Database, tmp_path: Path
) -> None:
    conversation.reply("Question in this case.")
    answers = tmp_path / "other.json"
    answers.write_text(json.dumps({"where": "Office"}))
    other = submit_with_cli(
        conversation.cli,
        conversation.server,
        conversation.world,
        "Another report.",
        answers=answers,
    )["case_id"]
    conversation.case_id, original = other, conversation.case_id
    conversation.reply("Question in the other case.")
    conversation.case_id = original
    execute(
        raw,
        "UPDATE case_object SET envelope = (SELECT envelope FROM case_object "
        "WHERE case_id = :other AND chain = 'thread' AND seq = 1) "
        "WHERE case_id = :case AND chain = 'thread' AND seq = 1",
        other=other,
        case=original,
    )

    shown = conversation.show(expect=2)

    assert any("another case" in p for p in shown["problems"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape


def test_deleting_the_last_message_or_rolling_back_is_noticed_by_a_member_who_saw_it(
    conversation: Conversation, raw: Database
) -> None:
    grown(conversation)
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'thread' AND seq = 3",
        case=conversation.case_id,
    )

    shown = conversation.show(expect=2)

    assert shown["problems"] == []
    assert any("fewer messages" in w for w in shown["warnings"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape


def test_sync_reports_a_case_whose_key_does_not_open_and_checks_all_the_others(
    conversation: Conversation, raw: Database, tmp_path: Path
) -> None:
    """A server that hands a member a forged wrapped key for one case must not stop the
    member's check of every other case: the case is listed as failing, with the reason."""
    answers = tmp_path / "other.json"
    answers.write_text(json.dumps({"where": "Office"}))
    other = submit_with_cli(
        conversation.cli, conversation.server, conversation.world, "Another.", answers=answers
    )["case_id"]
    execute(
        raw,
        "UPDATE wrapped_key SET sealed = :junk WHERE case_id = :case AND recipient = :label",
        junk=os.urandom(120),
        case=conversation.case_id,
        label="member:alice",
    )

    result = conversation.member("cases", "sync", "--json", expect=2)

    synced = json.loads(result.stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    failing = {f["id"]: f["problems"] for f in synced["failing"]}
    assert any("not for this private key" in p for p in failing[conversation.case_id])
    assert other not in failing
    assert synced["cases"] >= 2  # the other case was verified after the one that failed


def test_sync_verifies_every_case_and_fails_on_a_tampered_one(
    conversation: Conversation, raw: Database
) -> None:
    conversation.reply("A question.")
    # The session server also holds cases other tests tampered with on purpose.
    before = conversation.member("cases", "sync", "--json", expect=None)
    synced = json.loads(before.stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert synced["cases"] >= 1
    assert conversation.case_id not in [f["id"] for f in synced["failing"]]
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'thread' AND seq = 1",
        case=conversation.case_id,
    )

    result = conversation.member("cases", "sync", "--json", expect=2)

    failing = json.loads(result.stdout)["failing"]  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert conversation.case_id in [f["id"] for f in failing]
