"""`safevoice cases redact`: a member removes irrelevant personal data from a case in the
terminal (COMPLIANCE.md D9), and the member and the reporter both see the redacted text with
the day of the removal, against the real server."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from safevoice.crypto.encoding import b64d
from safevoice.i18n import Catalogue
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.canary import new_canary
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World

KEPT = "The scales in hall 2 are rigged."
NOTICE = "Part of this message was removed by the committee on"


def talk(cli: Cli, server: ServerProcess, world: World, canary: str, folder: Path) -> Conversation:
    answers = folder / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}), encoding="utf-8")
    submitted = submit_with_cli(
        cli, server, world, f"{KEPT} Ask {canary}, she saw it.", answers=answers
    )
    conversation = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    conversation.login()
    return conversation


def test_a_member_redacts_the_report_from_a_file_and_both_sides_see_the_notice(
    cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    canary = new_canary("NAME")
    conversation = talk(cli, server, world, canary, tmp_path)
    kept = tmp_path / "kept.txt"
    kept.write_text(f"{KEPT} Ask [a colleague], she saw it.", encoding="utf-8")
    answers = tmp_path / "answers-kept.json"
    answers.write_text(json.dumps({"where": "[a depot]"}), encoding="utf-8")

    done: Any = conversation.member(
        "cases",
        "redact",
        conversation.case_id[:8],
        "0",
        "--text-file",
        str(kept),
        "--answers-file",
        str(answers),
        "--yes",
        "--json",
    )

    answer = json.loads(done.stdout)
    assert (answer["case_id"], answer["chain"], answer["seq"]) == (
        conversation.case_id,
        "thread",
        0,
    )
    shown: Any = conversation.member("cases", "show", conversation.case_id)
    text = shown.stdout
    assert canary not in text
    assert "Ask [a colleague], she saw it." in text
    assert f"{NOTICE} {answer['on']}." in " ".join(text.split())
    assert "NOT VERIFIED" not in text
    seen: Any = conversation.follow_up()
    assert canary not in json.dumps(seen)
    assert seen["report"]["text"] == f"{KEPT} Ask [a colleague], she saw it."
    assert seen["objects"][0]["redacted"] == {
        "on": answer["on"],
        "by": "member:alice",
        "files_removed": 0,
    }
    assert seen["problems"] == []
    assert seen["report"]["answers"] == {"where": "[a depot]"}
    terminal = cli.report(
        "follow-up", "--server", server.url, "--pin", world.pin, stdin=conversation.code + "\n"
    )
    # The reporter's terminal writes the day the way the reporter's language writes days.
    day = Catalogue.load("en").day(answer["on"])
    assert f"{NOTICE} {day}." in " ".join(terminal.stdout.split())
    export = tmp_path / "audit.json"
    conversation.member("audit", "export", "--out", str(export))
    conversation.member("audit", "verify", str(export), "--pin", world.pin)
    logged = export.read_text(encoding="utf-8")
    assert canary not in logged
    bodies = [json.loads(b64d(e["body"])) for e in json.loads(logged)["entries"] if "body" in e]
    removals = [
        b
        for b in bodies
        if b["event"] == "case.redaction" and b.get("case_id") == conversation.case_id
    ]
    assert [b["detail"] for b in removals] == [{"chain": "thread", "seq": 0, "kind": "report"}]


def test_the_text_to_keep_is_edited_in_the_editor_and_confirmed(
    cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    canary = new_canary("NAME")
    conversation = talk(cli, server, world, canary, tmp_path)
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        f"p.write_text(p.read_text().replace({canary!r}, '[a colleague]'))\n",
        encoding="utf-8",
    )
    env = {
        "SAFEVOICE_HOME": str(cli.home / "alice"),
        "EDITOR": f"{shlex.quote(sys.executable)} {shlex.quote(str(editor))}",
        "VISUAL": "",
    }

    declined = cli.safevoice(
        "cases", "redact", conversation.case_id, "0", stdin="n\n", env=env, expect=1
    )
    assert canary in json.dumps(conversation.show())
    cli.safevoice("cases", "redact", conversation.case_id, "0", stdin="y\n", env=env)

    assert "Nothing was removed." in declined.stderr
    shown: Any = conversation.show()
    assert canary not in json.dumps(shown)
    assert shown["report"]["text"] == f"{KEPT} Ask [a colleague], she saw it."
    unchanged = cli.safevoice(
        "cases",
        "redact",
        conversation.case_id,
        "0",
        env={**env, "EDITOR": "true"},
        expect=1,
    )
    assert "not changed" in unchanged.stderr


def submit_with_two_files(
    cli: Cli, server: ServerProcess, world: World, folder: Path, text: str
) -> dict[str, Any]:
    """A report sent with the reporter CLI carrying two files: 1 "rota.txt" and 2
    "home-address.txt" (the one with personal data), numbered as `cases files` lists them."""
    kept_file, gone_file = folder / "rota.txt", folder / "home-address.txt"
    kept_file.write_text("Shift rota.", encoding="utf-8")
    gone_file.write_text("Home address of a witness.", encoding="utf-8")
    answers = folder / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}), encoding="utf-8")
    return submit_with_cli(
        cli,
        server,
        world,
        text,
        "--attach",
        str(kept_file),
        "--attach",
        str(gone_file),
        answers=answers,
    )


def test_a_member_removes_an_attached_file_numbered_as_cases_files_lists_it(
    cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    submitted = submit_with_two_files(cli, server, world, tmp_path, KEPT)
    conversation = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    conversation.login()
    conversation.reply("Thank you, we look into it.")  # thread #1 carries no file
    listed: Any = conversation.member("cases", "files", conversation.case_id, "--json")
    numbered = {f["name"]: f["number"] for f in json.loads(listed.stdout)}
    assert numbered == {"rota.txt": 1, "home-address.txt": 2}
    kept = tmp_path / "kept.txt"
    kept.write_text(KEPT, encoding="utf-8")
    redact = ["cases", "redact", conversation.case_id, "--text-file", str(kept), "--yes"]

    unknown: Any = conversation.member(
        *redact[:3], "0", *redact[3:], "--remove-file", "9", expect=1
    )
    foreign: Any = conversation.member(
        *redact[:3], "1", *redact[3:], "--remove-file", "2", expect=1
    )
    done: Any = conversation.member(*redact[:3], "0", *redact[3:], "--remove-file", "2", "--json")

    assert "The case has no file 9" in unknown.stderr
    assert "File 2 is attached to thread #0, not to thread #1" in " ".join(foreign.stderr.split())
    answer = json.loads(done.stdout)
    assert answer["files_removed"] == 1
    listed = conversation.member("cases", "files", conversation.case_id, "--json")
    assert [f["name"] for f in json.loads(listed.stdout)] == ["rota.txt"]
    shown: Any = conversation.member("cases", "show", conversation.case_id)
    assert f"1 attached file(s) removed by the committee on {answer['on']}." in " ".join(
        shown.stdout.split()
    )
    seen: Any = conversation.follow_up()
    assert seen["objects"][0]["redacted"]["files_removed"] == 1
    assert seen["problems"] == []
    terminal = cli.report(
        "follow-up", "--server", server.url, "--pin", world.pin, stdin=conversation.code + "\n"
    )
    day = Catalogue.load("en").day(answer["on"])
    assert f"1 attached file(s) removed by the committee on {day}." in " ".join(
        terminal.stdout.split()
    )
