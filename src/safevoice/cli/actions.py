"""``safevoice actions``: corrective actions with an owner, a due day and a state.

Owner, due day and state are metadata the statistics need; the description and any reason
for dropping an action are encrypted for the committee and signed by the member who wrote them.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safevoice.cli.cases import JsonOption, KeyOption, guarded
from safevoice.cli.common import console, fail, make_app, print_json, read_secret_text
from safevoice.cli.session import Server, logged_in
from safevoice.client import member
from safevoice.errors import SafeVoiceError

app = make_app("Plan and follow up corrective actions (committee members).")
STATES = member.ACTION_STATES


@app.command("list")
def list_command(
    server: Server = None,
    overdue: Annotated[bool, typer.Option(help="Only open actions past their due day.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Corrective actions of the cases you can read."""
    context = logged_in(server)
    with context.api:
        actions = context.api.actions(overdue=overdue)
    if as_json:
        print_json([a.model_dump(mode="json") for a in actions])
        return
    if not actions:
        console.print("No overdue actions." if overdue else "No corrective actions.")
        return
    table = Table("action", "case", "owner", "due", "state", "flags")
    for a in actions:
        table.add_row(
            a.id, a.case_id, a.owner, str(a.due_on), a.state, "overdue" if a.overdue else ""
        )
    console.print(table)


@app.command("add")
def add_command(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    owner: Annotated[str, typer.Option(help="The committee member who owns the action.")],
    due: Annotated[str, typer.Option(help="The due day, YYYY-MM-DD.")],
    description_file: Annotated[
        str | None,
        typer.Option(help="What is to be done (committee only), from a file or - for stdin."),
    ] = None,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Plan a corrective action for a case."""
    try:
        due_on = date.fromisoformat(due)
    except ValueError:
        fail("--due must be a day like 2027-03-31.")
    description = read_secret_text(description_file, what="description of the action")
    if not description.strip():
        fail("The description is empty; say what is to be done.")
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        keys = context.keys(key)
        action = guarded(
            partial(
                member.add_action,
                context,
                case_id,
                keys,
                owner=owner,
                due_on=due_on,
                description=description,
            )
        )
    console.print(
        f"Planned action {action.id} for case {case_id}, owned by {owner}, due {action.due_on}."
    )


@app.command("update")
def update_command(
    action_id: Annotated[str, typer.Argument(help="The action id.")],
    state: Annotated[str, typer.Option(help="in_progress, done or dropped.")],
    reason_file: Annotated[
        Path | None, typer.Option(help="Why the action is dropped (committee only).")
    ] = None,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Move a corrective action on."""
    if state not in STATES[1:]:
        fail("The state must be in_progress, done or dropped.")
    if state == "dropped" and reason_file is None:
        fail("Dropping an action needs --reason-file.")
    reason = reason_file.read_text(encoding="utf-8") if reason_file is not None else None
    context = logged_in(server)
    with context.api:
        try:
            action = member.find_action(context, action_id)
        except SafeVoiceError as exc:
            fail(exc.message)
        keys = context.keys(key) if reason is not None else None
        updated = guarded(
            partial(member.update_action, context, action, keys, state=state, reason=reason)
        )
    console.print(f"Action {updated.id} is now {updated.state}.")
