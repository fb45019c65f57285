"""``safevoice cases``: list cases by metadata and read them, decrypting on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from safevoice.cases.schemas import CaseDetail, CaseSummary
from safevoice.cli import render
from safevoice.cli.common import console, fail, make_app, print_json, read_secret_text
from safevoice.cli.session import Context, Server, logged_in
from safevoice.client.reader import ReadCase, compare_with_seen, heads_to_state, read_case
from safevoice.crypto.casefile import message_plaintext
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import seal
from safevoice.crypto.manifest import Manifest
from safevoice.dialogue.schemas import ObjectOut

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


def case_json(summary: CaseSummary, read: ReadCase, warnings: list[str]) -> dict[str, Any]:
    return {
        "case": summary.model_dump(mode="json"),
        **render.read_json(read),
        "warnings": warnings,
    }


def print_case(
    summary: CaseSummary, read: ReadCase, manifest: Manifest, warnings: list[str]
) -> None:
    c = summary
    console.print(f"[bold]Case {c.id}[/] · channel {c.channel} · status {c.status}")
    console.print(
        f"  received {c.received_on} · acknowledgement due {c.ack_due_on} · "
        f"feedback due {c.feedback_due_on}"
    )
    console.print(f"  intake: {INTAKE_MODES.get(c.intake_mode, c.intake_mode)}")
    render.print_warnings(read.problems + warnings)
    render.print_thread(read, manifest)


def _read(
    context: Context, case_id: str, key: Path | None
) -> tuple[CaseDetail, ReadCase, Manifest, list[str]]:
    manifest = context.manifest()
    detail = context.api.case(case_id)
    keys = context.keys(key)
    read = read_case(detail, keys=keys, label=context.label, manifest=manifest)
    seen = context.remembered.heads.get(case_id)
    warnings = compare_with_seen(read, seen)
    if not read.problems and not warnings:
        # Remember only a head that verified, so evidence of tampering is never overwritten.
        context.remembered.heads[case_id] = heads_to_state(read)
        context.state.save()
    return detail, read, manifest, warnings


@app.command("show")
def show_command(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    server: Server = None,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Decrypt and show a case on this machine, verifying every signature and the chain.

    Exit status 2 means the record does not verify (the output says how).
    """
    context = logged_in(server)
    with context.api:
        detail, read, manifest, warnings = _read(context, case_id, key)
    if as_json:
        print_json(case_json(detail.case, read, warnings))
    else:
        print_case(detail.case, read, manifest, warnings)
    if read.problems or warnings:
        raise typer.Exit(code=2)


@app.command("reply")
def reply_command(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    text_file: Annotated[
        str | None, typer.Option(help="Read the message from this file, or - for standard input.")
    ] = None,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Write to the reporter: encrypted here, signed with your key, appended to the thread."""
    text = read_secret_text(text_file, what="message to the reporter")
    context = logged_in(server)
    with context.api:
        detail, read, _manifest, warnings = _read(context, case_id, key)
        if read.problems or warnings:
            render.print_warnings(read.problems + warnings)
            fail("The case's record does not verify, so nothing was sent; see the warnings above.")
        posted = _send_reply(context, detail, read, key, text)
    context.remembered.heads[case_id] = {
        **context.remembered.heads.get(case_id, {}),
        "thread": [posted.seq, posted.hash],
    }
    context.state.save()
    console.print(f"Sent as message #{posted.seq} of case {case_id}.")


def _send_reply(
    context: Context, detail: CaseDetail, read: ReadCase, key: Path | None, text: str
) -> ObjectOut:
    case_id = detail.case.id
    keys = context.keys(key)
    seq, head = read.heads["thread"]
    envelope = seal(
        read.keys.thread,
        message_plaintext(text),
        case_id=b64d(case_id, size=16, what="case id"),
        kind="message",
        sender=context.label,
        seq=seq + 1,
        prev=head,
        epoch=detail.case.epoch,
        sign_seed=keys.sign_seed,
    )
    return context.api.post_case_object(case_id, envelope.to_json())


def inbox(
    server: Server = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Cases with messages from the reporter you have not read yet (in `cases show`)."""
    context = logged_in(server)
    with context.api:
        cases = context.api.cases()
    unread = []
    for case in cases:
        seen = context.remembered.heads.get(case.id, {}).get("thread", [-1])[0]
        if case.last_reporter_seq > int(seen):
            unread.append(case)
    if as_json:
        print_json([c.model_dump(mode="json") for c in unread])
        return
    if not unread:
        console.print("No unread messages from reporters.")
        return
    table = Table("case", "channel", "status", "latest from reporter", "flags")
    for c in unread:
        table.add_row(c.id, c.channel, c.status, f"#{c.last_reporter_seq}", _flags(c))
    console.print(table)
