"""``safevoice surveys``: pulse surveys the committee signs, opens, closes and tallies.

A survey is signed with the member's own key and verified by every client against the
manifest. Results are computed here, after decryption: ``results`` prints the figures that may
be published (small cells suppressed); free texts are shown only with ``--free-texts``, to the
member at this terminal, and never enter the JSON figures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from safevoice.cli.cases import JsonOption, KeyOption
from safevoice.cli.common import console, fail, make_app, print_json, untrusted
from safevoice.cli.session import Server, logged_in
from safevoice.client import surveys
from safevoice.protocol.wire import SurveyOut

app = make_app("Pulse surveys on psychological safety (committee members).")

SurveyArgument = Annotated[str, typer.Argument(help="The survey id.")]


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a day like 2027-03-31.")


def _questions(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        fail(f"{path} cannot be read as text.")
    questions = [line.strip() for line in lines if line.strip()]
    if not questions:
        fail(f"{path} holds no question (one question per line).")
    return questions


def _print(out: SurveyOut, as_json: bool) -> None:
    if as_json:
        print_json(out.model_dump(mode="json"))
    else:
        console.print(f"Survey {out.survey_id} is {out.state}.")


@app.command("create")
def create_command(
    title: Annotated[str, typer.Option(help="The survey's title, shown to staff.")],
    questions_file: Annotated[
        Path, typer.Option(help="The questions (scale 1 to 5), one per line.")
    ],
    opens: Annotated[str, typer.Option(help="The opening day, YYYY-MM-DD.")],
    closes: Annotated[str, typer.Option(help="The closing day, YYYY-MM-DD.")],
    channel: Annotated[
        list[str] | None, typer.Option(help="A channel the survey concerns (repeatable).")
    ] = None,
    free_text: Annotated[
        str | None, typer.Option(help="The prompt of one optional free-text answer.")
    ] = None,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a new survey with your key and publish it; open it with `surveys open`."""
    context = logged_in(server)
    with context.api:
        out = surveys.create(
            context,
            context.keys(key),
            title=title,
            questions=_questions(questions_file),
            free_text=free_text,
            opens_on=_day(opens, "--opens"),
            closes_on=_day(closes, "--closes"),
            channels=channel or [],
        )
    _print(out, as_json)


@app.command("list")
def list_command(server: Server = None, as_json: JsonOption = False) -> None:
    """Every survey, with its state; each is verified against the manifest."""
    context = logged_in(server)
    with context.api:
        manifest = context.manifest()
        rows = [(out, surveys.verified(out, manifest)) for out in context.api.all_surveys()]
    if as_json:
        print_json(
            [{**out.model_dump(mode="json"), "survey": survey.to_payload()} for out, survey in rows]
        )
        return
    table = Table("survey", "state", "opens", "closes", "title")
    for out, survey in rows:
        table.add_row(
            out.survey_id,
            out.state,
            str(survey.opens_on),
            str(survey.closes_on),
            untrusted(survey.title),
        )
    console.print(table)


def _move(survey_id: str, action: str, server: str | None, as_json: bool) -> None:
    context = logged_in(server)
    with context.api:
        _print(context.api.move_survey(survey_id, action), as_json)


@app.command("open")
def open_command(
    survey_id: SurveyArgument, server: Server = None, as_json: JsonOption = False
) -> None:
    """Open a published survey for answers (between its opening and closing days)."""
    _move(survey_id, "open", server, as_json)


@app.command("close")
def close_command(
    survey_id: SurveyArgument, server: Server = None, as_json: JsonOption = False
) -> None:
    """Close a survey: no answer is taken any more; it cannot be reopened."""
    _move(survey_id, "close", server, as_json)


@app.command("results")
def results_command(
    survey_id: SurveyArgument,
    previous: Annotated[
        str | None, typer.Option(help="An earlier survey to show the trend against.")
    ] = None,
    free_texts: Annotated[
        bool, typer.Option(help="Also show the free texts (committee only, never published).")
    ] = False,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decrypt the answers on this machine and print the publishable figures."""
    context = logged_in(server)
    with context.api:
        outcome = surveys.results(context, context.keys(key), survey_id, previous_id=previous)
    if as_json:
        body = dict(outcome.public)
        if free_texts:
            body["free_texts"] = outcome.free_texts
        print_json(body)
        return
    public = outcome.public
    console.print(f"{untrusted(public['title'])}: {public['answers']} answers.")
    table = Table("question", "1", "2", "3", "4", "5", "median", "trend")
    for row in public["questions"]:
        counts = [str(row["counts"][str(v)]) for v in range(1, 6)]
        table.add_row(
            untrusted(row["question"]), *counts, str(row["median"]), str(row.get("trend", ""))
        )
    console.print(table)
    if outcome.unreadable:
        console.print(f"{outcome.unreadable} answers did not decrypt and were left out.")
    if free_texts:
        console.print("Free texts (committee only; never publish them):")
        for text in outcome.free_texts:
            console.print(f"  • {untrusted(text, newlines=True)}", markup=False)
