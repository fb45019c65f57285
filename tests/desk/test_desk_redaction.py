"""Removing irrelevant personal data from the desk (COMPLIANCE.md D9): the member edits the
text to keep on the case page and confirms; the desk, the CLI and the reporter then read the
kept text marked as redacted, and nothing is removed without the confirmation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.test_redact_cli import submit_with_two_files
from tests.conftest import Cli
from tests.desk.conftest import DeskHarness, Reported
from tests.desk.test_desk_pages import follow_up
from tests.support.server import ServerProcess
from tests.support.world import World

NOTICE = "Part of this message was removed by the committee on"


def test_a_member_removes_a_name_from_the_report_on_the_case_page(
    unlocked: DeskHarness, reported: Reported, cli: Cli, server: ServerProcess, world: World
) -> None:
    case = f"/cases/{reported.case_id}"
    page = unlocked.http.get(case).text
    assert "Remove personal data" in page
    kept = reported.text.replace("hall C", "[a hall]")
    form = {"chain": "thread", "seq": "0", "text": kept, "answer:where": "[a hall]"}

    unconfirmed = unlocked.post(f"{case}/redact", form)
    assert unconfirmed.status_code == 400
    assert "nothing was removed" in unconfirmed.text
    assert reported.text in unlocked.http.get(case).text

    done = unlocked.post(f"{case}/redact", {**form, "confirm": "yes"})

    assert done.status_code == 303, done.text
    page = unlocked.http.get(case).text
    assert reported.text not in page
    assert kept in page
    assert NOTICE in page
    assert "does not verify" not in page
    seen = follow_up(cli, server, world, reported.code)
    assert json.dumps(seen).count(reported.text) == 0
    assert seen["report"] == {"channel": "general", "text": kept, "answers": {"where": "[a hall]"}}
    assert "Hall C" not in page
    shown = cli.safevoice(
        "cases", "show", reported.case_id, "--json", env={"SAFEVOICE_HOME": str(unlocked.home)}
    )
    redacted = json.loads(shown.stdout)["objects"][0]["redacted"]
    assert redacted["by"] == "member:alice"


def test_a_redaction_of_something_that_is_not_there_is_a_sentence(
    unlocked: DeskHarness, reported: Reported
) -> None:
    case = f"/cases/{reported.case_id}"
    unlocked.http.get(case)

    missing = unlocked.post(
        f"{case}/redact", {"chain": "thread", "seq": "7", "text": "x", "confirm": "yes"}
    )
    odd = unlocked.post(
        f"{case}/redact", {"chain": "elsewhere", "seq": "0", "text": "x", "confirm": "yes"}
    )

    assert (missing.status_code, odd.status_code) == (400, 400)
    assert "no report, message or note at thread #7" in missing.text
    assert reported.text in unlocked.http.get(case).text


def test_a_member_ticks_an_attached_file_to_delete_with_the_redaction(
    unlocked: DeskHarness, cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    submitted = submit_with_two_files(cli, server, world, tmp_path, "See the two files.")
    case = f"/cases/{submitted['case_id']}"
    page = unlocked.http.get(case).text
    assert 'name="remove_file" value="2"> Delete the attached file' in page
    assert "home-address.txt" in page

    done = unlocked.post(
        f"{case}/redact",
        {
            "chain": "thread",
            "seq": "0",
            "text": "See the files.",
            "remove_file": "2",
            "confirm": "yes",
        },
    )

    assert done.status_code == 303, done.text
    page = unlocked.http.get(case).text
    assert "1 attached file(s) removed by the committee on" in page
    assert "home-address.txt" not in page
    assert "rota.txt" in page
    seen: Any = follow_up(cli, server, world, submitted["code"])
    assert seen["objects"][0]["redacted"]["files_removed"] == 1
    assert seen["problems"] == []
