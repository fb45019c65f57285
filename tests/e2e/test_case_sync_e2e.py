"""`safevoice cases list` and `cases sync` page through the server's list, and a second sync
fetches only what changed while still catching a server that hides a change or a case."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from safevoice.storage.db import Database
from tests.e2e.test_dialogue_e2e import execute
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess

# Small pages, so that every listing of the session's server spans several of them.
PAGE = "2"
CASE_PATH = re.compile(r"^/api/v1/cases/([A-Za-z0-9_-]{22})$")


def member(conversation: Conversation, *args: str, expect: int | None = 0) -> Any:
    return conversation.cli.safevoice(
        *args,
        expect=expect,
        env={"SAFEVOICE_HOME": str(conversation.cli.home / "alice"), "SAFEVOICE_PAGE_SIZE": PAGE},
    )


def sync(conversation: Conversation, *args: str, expect: int | None = None) -> dict[str, Any]:
    """A sync's JSON; the session's server also holds cases other tests tampered with, so it
    may exit with status 2 unless ``expect`` says."""
    return dict(
        json.loads(member(conversation, "cases", "sync", "--json", *args, expect=expect).stdout)
    )


def fetched_cases(server: ServerProcess) -> set[str]:
    """The cases fetched one by one since the proxy was last cleared."""
    found = set()
    for request in server.proxy.requests():
        match = CASE_PATH.match(request.target)
        if request.method == "GET" and match:
            found.add(match.group(1))
    return found


def listing_pages(server: ServerProcess) -> int:
    return sum(1 for r in server.proxy.requests() if r.method == "GET" and "cursor=" in r.target)


def failing(synced: dict[str, Any]) -> dict[str, list[str]]:
    return {f["id"]: f["problems"] for f in synced["failing"]}


def test_list_and_the_first_sync_go_through_every_page(
    conversation: Conversation, server: ServerProcess, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Yard"}))
    for text_ in ("Second.", "Third."):  # at least three cases, so at least two pages
        submit_with_cli(conversation.cli, server, conversation.world, text_, answers=answers)
    whole = json.loads(conversation.member("cases", "list", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    server.proxy.clear()

    paged = json.loads(member(conversation, "cases", "list", "--json").stdout)
    pages_listed = listing_pages(server)
    synced = sync(conversation)

    assert [c["id"] for c in paged] == [c["id"] for c in whole]
    assert conversation.case_id in [c["id"] for c in paged]
    assert pages_listed == math.ceil(len(paged) / int(PAGE)) - 1 >= 1
    assert synced["full"] is True
    assert synced["cases"] == synced["fetched"] == len(paged)
    assert conversation.case_id not in failing(synced)


def test_a_second_sync_fetches_only_the_cases_that_changed(
    conversation: Conversation, server: ServerProcess
) -> None:
    first = sync(conversation)
    conversation.reply("Which door?")
    conversation.follow_up("The back door.")
    server.proxy.clear()

    second = sync(conversation)

    assert second["full"] is False
    # The changed case, and those that failed before (checked again until they verify).
    assert fetched_cases(server) == {conversation.case_id} | set(failing(first))
    assert second["fetched"] == len(fetched_cases(server))
    assert second["cases"] == first["cases"]
    assert conversation.case_id not in failing(second)
    shown = conversation.show()
    assert [o["text"] for o in shown["objects"] if o["kind"] == "message"] == [  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
        "Which door?",
        "The back door.",
    ]

    full = sync(conversation, "--full")
    assert full["full"] is True
    assert full["fetched"] == full["cases"] == first["cases"]


def test_a_case_changed_without_its_marker_advancing_is_still_caught(
    conversation: Conversation, raw: Database
) -> None:
    conversation.reply("A question.")
    sync(conversation)
    # The last message disappears, and the case is made to look untouched for weeks.
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'thread' AND seq = 1",
        case=conversation.case_id,
    )
    execute(
        raw,
        "UPDATE case_file SET changed_on = '2000-01-01' WHERE id = :case",
        case=conversation.case_id,
    )

    synced = sync(conversation, expect=2)

    problems = failing(synced)[conversation.case_id]
    assert synced["full"] is False
    assert any("without being marked as changed" in p for p in problems)
    assert any("fewer messages" in p for p in problems)


def test_a_case_the_server_stops_listing_is_reported(
    conversation: Conversation, raw: Database
) -> None:
    sync(conversation)
    execute(
        raw,
        "DELETE FROM wrapped_key WHERE case_id = :case AND recipient = 'member:alice'",
        case=conversation.case_id,
    )

    synced = sync(conversation, expect=2)

    assert synced["full"] is False
    assert any("no longer lists this case" in p for p in failing(synced)[conversation.case_id])
