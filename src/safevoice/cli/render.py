"""Showing a verified case in the terminal, the same way for members and reporters.

Everything the other party wrote is untrusted: it reaches the terminal with its control
characters made visible (``cli.common.visible``, applied by the console) and indented under its
heading, so that no text can pass for a heading of its own ("#3 … · signature verified").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from safevoice.cli.common import console, untrusted, visible
from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.manifest import Manifest
from safevoice.protocol.reader import ReadCase, ReadObject

COMMITTEE_FIELDS = (
    "text",
    "decision",
    "risk_of_detriment",
    "description",
    "owner",
    "due_on",
    "state",
    "reason",
    "outcome",
    "approver",
    "actions_taken",
    "lessons",
    "protection",
)


def sender_name(sender: str, manifest: Manifest) -> str:
    if sender == REPORTER:
        return "the reporter"
    kind, _, ident = sender.partition(":")
    member = manifest.member(ident) if kind == "member" else None
    return f"{member.name} (committee)" if member is not None else sender


def print_warnings(warnings: list[str]) -> None:
    if not warnings:
        return
    console.print("[bold red]Warning: this case's record does not verify:[/]")
    for warning in warnings:
        console.print(f"  [red]- {untrusted(warning)}[/]")


def _heading(o: ReadObject, manifest: Manifest) -> str:
    mark = "signature verified" if o.verified else "[red]NOT VERIFIED[/]"
    what = o.kind
    if o.kind == "status":
        what = f"status: {o.body.get('status', '?')}"
        if o.body.get("outcome"):
            what += f" ({o.body['outcome']})"
    elif o.kind == "epoch":
        what = f"new key epoch {o.epoch}"
    sender = untrusted(sender_name(o.sender, manifest))
    return f"\n[bold]#{o.seq} {untrusted(str(what))}[/] from {sender} · {mark}"


BODY_INDENT = "    "


def print_body(text: str, *, indent: str = BODY_INDENT) -> None:
    """Untrusted text, control characters visible, every line indented under its heading."""
    for line in visible(text).split("\n"):
        console.print(f"{indent}{line}", markup=False)


def redaction_notice(o: ReadObject) -> str | None:
    """What the reader is told about a redacted object (COMPLIANCE.md D9)."""
    if o.redacted is None:
        return None
    return f"Part of this message was removed by the committee on {o.redacted.on}."


def files_removed_notice(o: ReadObject) -> str | None:
    """What the reader is told when the redaction removed attached files too."""
    if o.redacted is None or not o.redacted.files:
        return None
    return f"{len(o.redacted.files)} attached file(s) removed by the committee on {o.redacted.on}."


def _print_redaction(o: ReadObject, manifest: Manifest) -> None:
    notice = redaction_notice(o)
    if notice is not None and o.redacted is not None:
        by = untrusted(sender_name(o.redacted.by, manifest))
        console.print(f"{BODY_INDENT}[italic]{untrusted(notice)} ({by})[/]")
        files = files_removed_notice(o)
        if files is not None:
            console.print(f"{BODY_INDENT}[italic]{untrusted(files)} ({by})[/]")


def print_thread(read: ReadCase, manifest: Manifest) -> None:
    for o in read.thread():
        console.print(_heading(o, manifest))
        if o.kind == "report" and read.report is not None:
            print_body(read.report.text)
            for question, answer in read.report.answers.items():
                print_body(f"{question}: {answer}")
        elif o.text is not None:
            print_body(o.text)
        _print_redaction(o, manifest)


def print_committee(read: ReadCase, manifest: Manifest) -> None:
    """The committee chain: notes, triage, actions and closure (never shown to reporters)."""
    committee = [o for o in read.objects if o.chain == "committee"]
    if not committee:
        return
    console.print("\n[bold]Committee only[/]")
    for o in committee:
        console.print(_heading(o, manifest))
        for field in COMMITTEE_FIELDS:
            value = o.body.get(field)
            if value:
                label = "" if field == "text" else f"{field.replace('_', ' ')}: "
                print_body(f"{label}{value}")
        _print_redaction(o, manifest)


def read_json(read: ReadCase) -> dict[str, Any]:
    return {
        "report": None
        if read.report is None
        else {
            "channel": read.report.channel,
            "text": read.report.text,
            "answers": read.report.answers,
        },
        "objects": [
            {
                "chain": o.chain,
                "seq": o.seq,
                "kind": o.kind,
                "sender": o.sender,
                "epoch": o.epoch,
                "verified": o.verified,
                "text": o.text,
                # Epoch records carry keys; they are never printed.
                "body": {}
                if o.kind in ("epoch", "report")
                else {k: v for k, v in o.body.items() if k != "format"},
                "problem": o.problem,
                "redacted": None
                if o.redacted is None
                else {
                    "on": o.redacted.on,
                    "by": o.redacted.by,
                    "files_removed": len(o.redacted.files),
                },
            }
            for o in read.objects
        ],
        "problems": read.problems,
        # What a committee member signed (status, outcome, days): show these, not the
        # server's fields, which only the problems compare.
        "signed": None if read.signed is None else dataclasses.asdict(read.signed),
    }
