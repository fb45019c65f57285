"""What the audit log records of a whole case, and what it must never hold.

Adversarial: after a full workflow on a case whose reporter excluded a member, every audit body
(chain and staging) is scanned for the excluded member's id in a reporter event, for any time of
day in a reporter event, and for the report's text, the follow-up code and the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from safevoice.audit import service as audit
from safevoice.clock import utcnow
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.e2e.test_workflow_e2e import cases_cmd, status
from tests.support.canary import new_canary
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World

pytestmark = pytest.mark.e2e
TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}|T\d{2}|\d{9,}")


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Database]:
    database = Database.connect(server.database_url, pool_size=1)
    yield database
    database.dispose()


def bodies(database: Database) -> list[dict[str, object]]:
    with database.reader.connect() as connection:
        rows = [
            *connection.execute(text("SELECT body FROM audit_entry")).scalars(),
            *connection.execute(text("SELECT body FROM audit_staging")).scalars(),
        ]
    return [json.loads(bytes(row)) for row in rows]


def reads(database: Database, case_id: str) -> int:
    return sum(1 for b in bodies(database) if b["event"] == "case.read" and b["case_id"] == case_id)


def test_no_audit_entry_names_whom_a_reporter_excluded_or_a_time_of_day_or_content(
    cli: Cli, server: ServerProcess, world: World, raw: Database, tmp_path: Path
) -> None:
    canary, reply = new_canary(), new_canary()
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(
        cli, server, world, f"Report {canary}", "--exclude", "carol", answers=answers
    )
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    talk.login()
    before = reads(raw, talk.case_id)
    talk.show()
    after_show = reads(raw, talk.case_id)
    talk.reply("Which depot exactly?")
    status(talk, "acknowledged")
    cases_cmd(talk, "claim", talk.case_id)
    talk.follow_up(f"Depot 4 {reply}")
    talk.login("bob")
    talk.show(member="bob")
    with raw.unit_of_work() as session:
        # What tomorrow's fold does: the day's reporter events join the chain.
        audit.fold_staged(session, today=utcnow().date() + timedelta(days=2))

    everything = bodies(raw)
    ours = [b for b in everything if b.get("case_id") == talk.case_id]
    reporter = [b for b in everything if b["actor"] == audit.REPORTER]
    events = {(b["event"], b["actor"]) for b in ours}

    assert after_show == before + 1  # one entry per read command, not per message
    assert ("case.received", "reporter") in events
    assert ("message.posted", "reporter") in events
    assert ("case.read", "member:bob") in events
    assert ("case.status", "member:alice") in events
    for body in reporter:
        dumped = json.dumps(body)
        assert "carol" not in dumped
        assert not TIME_OF_DAY.search(dumped.replace(str(body["on"]), "")), dumped
    for body in ours:
        assert "carol" not in json.dumps(body)
    raw_text = json.dumps(everything)
    for secret in (canary, reply, submitted["code"], "Which depot"):
        assert secret not in raw_text
