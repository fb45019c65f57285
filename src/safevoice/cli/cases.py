"""``safevoice cases``: list cases by metadata and read them, decrypting on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safevoice.cases.schemas import CaseSummary
from safevoice.cli.common import console, make_app, print_json
from safevoice.cli.session import Server, logged_in
from safevoice.client.reader import ReadCase, read_case

app = make_app("List and read cases (committee members).")

INTAKE_MODES = {
    "e2e": "end-to-end encrypted in the reporter's client",
    "server_sealed": "sealed by the server (the plaintext passed through server memory)",
}

KeyOption = Annotated[
    Path | None, typer.Option(envvar="SAFEVOICE_KEY", help="Your private key file.")
]


def _flags(case: CaseSummary) -> str:
    flags = []
    if case.ack_overdue:
        flags.append("ack overdue")
    if case.feedback_overdue:
        flags.append("feedback overdue")
    if case.intake_mode == "server_sealed":
        flags.append("server-sealed")
    return ", ".join(flags)


@app.command("list")
def list_command(
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Cases you can read, with their metadata and deadlines."""
    context = logged_in(server)
    with context.api:
        cases = context.api.cases()
    if as_json:
        print_json([c.model_dump(mode="json") for c in cases])
        return
    if not cases:
        console.print("No cases.")
        return
    table = Table("case", "channel", "status", "received", "ack due", "feedback due", "flags")
    for c in cases:
        table.add_row(
            c.id,
            c.channel,
            c.status,
            str(c.received_on),
            str(c.ack_due_on),
            str(c.feedback_due_on),
            _flags(c),
        )
    console.print(table)


def case_json(read: ReadCase) -> dict[str, Any]:
    return {
        "case": read.summary.model_dump(mode="json"),
        "report": None
        if read.report is None
        else {
            "channel": read.report.channel,
            "text": read.report.text,
            "answers": read.report.answers,
            "recipients": read.report.recipients,
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


def print_case(read: ReadCase) -> None:
    c = read.summary
    console.print(f"[bold]Case {c.id}[/] · channel {c.channel} · status {c.status}")
    console.print(
        f"  received {c.received_on} · acknowledgement due {c.ack_due_on} · "
        f"feedback due {c.feedback_due_on}"
    )
    console.print(f"  intake: {INTAKE_MODES.get(c.intake_mode, c.intake_mode)}")
    if read.problems:
        console.print("[bold red]Warning: this case's record does not verify:[/]")
        for problem in read.problems:
            console.print(f"  [red]- {problem}[/]")
    for o in read.objects:
        if o.chain != "thread":
            continue
        mark = "signature verified" if o.verified else "[red]NOT VERIFIED[/]"
        console.print(f"\n[bold]#{o.seq} {o.kind}[/] from {o.sender} · {mark}")
        if o.kind == "report" and read.report is not None:
            console.print(read.report.text, markup=False)
            for question, answer in read.report.answers.items():
                console.print(f"  {question}: {answer}", markup=False)
        elif o.text is not None:
            console.print(o.text, markup=False)


@app.command("show")
def show_command(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    server: Server = None,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Decrypt and show a case on this machine, verifying every signature and the chain."""
    context = logged_in(server)
    with context.api:
        manifest = context.manifest()
        detail = context.api.case(case_id)
    keys = context.keys(key)
    read = read_case(detail, keys=keys, label=context.label, manifest=manifest)
    if as_json:
        print_json(case_json(read))
    else:
        print_case(read)
    if read.problems:
        raise typer.Exit(code=2)
