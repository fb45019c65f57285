"""``safevoice digest``: the lessons-learned digest the organisation posts on its intranet.

``propose`` sends a closed case's publishable summary (after a dates check and a review
checklist), ``approve`` is the second member's four eyes on exactly that text, ``build`` writes
the signed static page and its JSON twin from what two members approved, ``verify`` checks a
digest against the committee's manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safevoice.cli.cases import JsonOption, KeyOption, print_proposed, publishable_summary
from safevoice.cli.common import (
    console,
    err_console,
    fail,
    make_app,
    print_json,
    read_secret_text,
    untrusted,
)
from safevoice.cli.session import Server, logged_in
from safevoice.client import digest

app = make_app("The published lessons-learned digest (committee members).")


@app.command("propose")
def propose_command(
    case_id: Annotated[str, typer.Argument(help="The closed case the lessons come from.")],
    summary_file: Annotated[
        str | None,
        typer.Option(help="The publishable summary, from a file or - for standard input."),
    ] = None,
    reviewed: Annotated[
        bool,
        typer.Option(help="Confirm that you reviewed the summary against the checklist."),
    ] = False,
    allow_dates: Annotated[
        bool, typer.Option(help="Send even though the dates check found something.")
    ] = False,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Propose a closed case's lessons for publication; a second member must approve them."""
    summary = publishable_summary(
        read_secret_text(summary_file, what="publishable summary"),
        reviewed=reviewed,
        allow_dates=allow_dates,
    )
    context = logged_in(server)
    with context.api:
        out = digest.propose(context, context.keys(key), context.case_id(case_id), summary)
    print_proposed(out.lesson_id)


@app.command("list")
def list_command(server: Server = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Proposed summaries, decrypted here, with who approved them."""
    context = logged_in(server)
    with context.api:
        found = digest.proposed(context, context.keys(key))
    if as_json:
        print_json(
            [
                {
                    "lesson_id": f.lesson.lesson_id,
                    "case_id": f.lesson.case_id,
                    "quarter": f.lesson.quarter,
                    "category": f.lesson.category,
                    "summary": f.lesson.summary,
                    "approved_by": sorted(f.approvals()),
                }
                for f in found
            ]
        )
        return
    table = Table("lesson", "quarter", "category", "approved by", "summary")
    for f in found:
        table.add_row(
            f.lesson.lesson_id,
            f.lesson.quarter,
            untrusted(f.lesson.category),
            ", ".join(sorted(f.approvals())),
            untrusted(f.lesson.summary),
        )
    console.print(table)


@app.command("approve")
def approve_command(
    lesson_id: Annotated[str, typer.Argument(help="The lesson id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking.")] = False,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Approve exactly this summary for publication, as the second member."""
    context = logged_in(server)
    with context.api:
        keys = context.keys(key)
        chosen = next(
            (f for f in digest.proposed(context, keys) if f.lesson.lesson_id == lesson_id), None
        )
        if chosen is None:
            fail(f"There is no proposed lesson {lesson_id} among the cases you can read.")
        console.print(f"{chosen.lesson.quarter} · {untrusted(chosen.lesson.category)}")
        console.print(untrusted(chosen.lesson.summary, newlines=True), markup=False)
        warnings = digest.date_warnings(chosen.lesson.summary)
        if warnings:
            err_console.print("The dates check found: " + ", ".join(repr(w) for w in warnings))
        for line in digest.CHECKLIST:
            console.print(f"  • {line}")
        if not yes and not typer.confirm("Publish this summary?", default=False):
            fail("Nothing was approved.")
        digest.approve_lesson(context, keys, chosen)
    console.print(f"Approved lesson {lesson_id} for the digest.")


@app.command("build")
def build_command(
    out: Annotated[Path, typer.Option(help="The folder to write the digest into.")],
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Write the signed digest (HTML and its JSON twin) from what two members approved."""
    context = logged_in(server)
    with context.api:
        built = digest.build(context, context.keys(key), out)
    console.print(
        f"Wrote {out / digest.HTML_NAME} and {out / digest.JSON_NAME} ({len(built['lessons'])} "
        f"lessons, {len(built['surveys'])} surveys), signed in {out / digest.SIGNATURE_NAME}."
    )


@app.command("verify")
def verify_command(
    folder: Annotated[Path, typer.Argument(help="The folder holding the digest.")],
    server: Server = None,
) -> None:
    """Check that a digest was signed by a member of the committee and not changed since."""
    context = logged_in(server)
    with context.api:
        manifest = context.manifest()
    checked = digest.verify_folder(folder, manifest)
    console.print(f"The digest verifies: signed by {checked['signer']} of this committee.")
