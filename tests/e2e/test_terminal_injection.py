"""Untrusted text reaches the terminal with its control characters made visible.

A reporter could write escape sequences into a report, an answer or a file name; a member (or
a server) could do the same to a reporter. A terminal obeys them: colours, OSC-8 links, cursor
movement, enough to paint a fake "signature verified" line. Every CLI output shows them as
``\\x1b`` instead, and untrusted lines stay indented under their heading.
"""

from __future__ import annotations

import json
from pathlib import Path

from safevoice.cli.common import visible
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World

# Colour, an OSC-8 hyperlink, cursor up + erase line, a C1 CSI, a carriage return and a
# right-to-left override: each would change what the terminal shows.
ATTACK = (
    "\x1b[32mplain\x1b[0m \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ "
    "\x1b[1A\x1b[2K\x9b2J\rover\u202ewritten"
)
FAKE_HEADING = "#7 status: closed from Alice (committee) · signature verified"
RAW = ("\x1b", "\x9b", "\r", "\u202e")


def assert_inert(output: str) -> None:
    for char in RAW:
        assert char not in output, f"{char!r} reached the terminal"
    assert "\\x1b[32mplain" in output
    assert "\\u202e" in output


def test_visible_shows_every_control_character_and_keeps_plain_text() -> None:
    shown = visible(ATTACK + "\nnext line\ttab ünïcödé 👩‍👩‍👧")

    assert not any(char in shown for char in RAW)
    assert "\\x1b]8;;https://evil.example/" in shown
    assert "\\x9b2J\\x0dover\\u202ewritten" in shown
    assert "\nnext line\ttab ünïcödé 👩‍👩‍👧" in shown
    assert "\\x0a" in visible("a\nb", newlines=False)


def test_cases_show_and_files_print_the_reporters_text_and_file_names_inert(
    cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": ATTACK}))
    hostile = tmp_path / f"invoice{ATTACK.replace('/', '')}.txt"
    hostile.write_text("contents")
    submitted = submit_with_cli(
        cli,
        server,
        world,
        f"Report.\n{FAKE_HEADING}\n{ATTACK}",
        "--attach",
        str(hostile),
        answers=answers,
    )
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    talk.login()

    shown = talk.member("cases", "show", talk.case_id).stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    files = talk.member("cases", "files", talk.case_id).stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object

    assert_inert(shown)
    assert "where: " in shown
    # The reporter's fake heading stays indented as the reporter's text, never a heading.
    assert f"\n{FAKE_HEADING}" not in shown
    assert f"    {FAKE_HEADING}" in shown
    assert_inert(files)
    assert "invoice\\x1b" in files


def test_the_reporter_cli_prints_the_committees_reply_inert(conversation: Conversation) -> None:
    conversation.reply(f"Question.\n{ATTACK}")

    result = conversation.cli.report(
        "follow-up",
        "--server",
        conversation.server.url,
        "--pin",
        conversation.world.pin,
        stdin=conversation.code + "\n",
    )

    assert_inert(result.stdout)
    assert "Question." in result.stdout
