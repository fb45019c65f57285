"""Showing a verified thread in the terminal, the same way for members and reporters."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from safevoice.cli.common import console
from safevoice.client.reader import ReadCase
from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.manifest import Manifest


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
        console.print(f"  [red]- {escape(warning)}[/]")


def print_thread(read: ReadCase, manifest: Manifest) -> None:
    for o in read.thread():
        mark = "signature verified" if o.verified else "[red]NOT VERIFIED[/]"
        console.print(
            f"\n[bold]#{o.seq} {o.kind}[/] from {sender_name(o.sender, manifest)} · {mark}"
        )
        if o.kind == "report" and read.report is not None:
            console.print(read.report.text, markup=False)
            for question, answer in read.report.answers.items():
                console.print(f"  {question}: {answer}", markup=False)
        elif o.text is not None:
            console.print(o.text, markup=False)


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
                "problem": o.problem,
            }
            for o in read.objects
        ],
        "problems": read.problems,
    }
