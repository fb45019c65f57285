"""Every value the server stores, walked after a full flow: no time of day, no client address.

A report with a file, a dialogue with the reporter, the workflow up to closure and a purge are
driven through the real clients and the real server; then every column of every table is read
back and any value that carries a time of day (a date-time that is not a midnight, an ISO time
inside text or JSON, a Unix time that is not a whole day) or something of the client (an
address, a user agent) fails the test, naming the table and column. New tables and columns are
checked without changing this test; a column that may hold a time of day must be listed in
``MAY_HOLD_A_TIME`` with the reason it ties no case to that time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from safevoice.clock import utcnow
from safevoice.retention import job, service
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.e2e.test_workflow_e2e import add_action, cases_cmd, status
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World

# Columns that hold a time of day on purpose, and why that ties no case to it.
MAY_HOLD_A_TIME = {
    # Member, auditor and archive sessions name a member, not a case; a reporter's session row
    # names no case at all (the case id is inside the token, kept only as a digest).
    ("login_session", "expires_at"),
    # A spent challenge is a digest of a random token; nothing in the row names a case.
    ("spent_challenge", "expires_at"),
    # The committee signs the manifest at a moment of its choosing; it names no case.
    ("manifest", "payload"),
    # The reporter-login failure counter is per hour for the whole instance, with no case.
    ("login_failure_window", "window"),
}
ISO_TIME = re.compile(rb"\d{4}-\d{2}-\d{2}[T ](\d{2}):(\d{2})(?::(\d{2}))?")
UNIX_TIME = re.compile(rb"(?<![0-9A-Za-z_-])1[5-9]\d{8}(?![0-9A-Za-z_-])")
CLIENT_TRACES = (b"127.0.0.1", b"::1", b"localhost", b"python-httpx", b"Mozilla", b"testclient")


def problems_of(table: str, column: str, value: Any) -> list[str]:
    where = f"{table}.{column}"
    if value is None or (table, column) in MAY_HOLD_A_TIME:
        return []
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        if moment.astimezone(UTC).timetz().replace(tzinfo=None) != time(0):
            return [f"{where} holds a time of day: {value.isoformat()}"]
        return []
    if isinstance(value, date):
        return []
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        if 1_500_000_000 <= value < 2_000_000_000 and value % 86_400:
            return [f"{where} holds what looks like a Unix time of day: {value}"]
        return []
    raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
    found = []
    for match in ISO_TIME.finditer(raw):
        if any(part not in (None, b"00") for part in match.groups()):
            found.append(f"{where} holds a time of day in its content: {match.group()!r}")
    for match in UNIX_TIME.finditer(raw):
        if int(match.group()) % 86_400:
            found.append(f"{where} holds what looks like a Unix time: {match.group()!r}")
    found += [f"{where} holds a client trace {t!r}" for t in CLIENT_TRACES if t in raw]
    return found


def walk(database: Database) -> tuple[list[str], int]:
    """Every problem in every stored value, and how many values were looked at."""
    problems: list[str] = []
    seen = 0
    tables = inspect(database.writer).get_table_names()
    with database.writer.connect() as connection:
        for table in tables:
            result = connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608 (names from the schema)
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    seen += 1
                    problems += problems_of(table, column, value)
    return problems, seen


def test_no_stored_value_carries_a_time_of_day_or_a_client_trace_after_a_full_flow(
    cli: Cli, server: ServerProcess, world: World, raw: Database, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.bin"
    evidence.write_bytes(b"weighbridge log " * 5000)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(
        cli, server, world, "The scales are rigged.", "--attach", str(evidence), answers=answers
    )
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    talk.login()
    talk.reply("Which bay?")
    talk.follow_up("Bay 3, since March.")
    status(talk, "acknowledged")
    cases_cmd(talk, "claim", talk.case_id)
    cases_cmd(talk, "note", talk.case_id, "--text-file", "-", stdin="Check the logs.")
    status(talk, "investigating")
    add_action(talk)
    status(talk, "closed", "--outcome", "substantiated", "--yes")
    with raw.writer.connect() as connection:
        assert connection.execute(
            text("SELECT count(*) FROM attachment WHERE case_id = :c"), {"c": talk.case_id}
        ).scalar_one()

    live, seen_live = walk(raw)

    assert seen_live > 100
    assert live == []
    blobs = open_blob_store(f"fs:{server.workdir / 'blobs'}", raw)
    with raw.unit_of_work() as session:
        assert service.purge_case(
            session, blobs, talk.case_id, today=utcnow().date(), policy="after_closure"
        )
    job.run(raw, blobs, now=utcnow())

    after, _ = walk(raw)

    assert after == []
    with raw.writer.connect() as connection:
        assert connection.execute(
            text("SELECT count(*) FROM tombstone WHERE case_id = :c"), {"c": talk.case_id}
        ).scalar_one()
