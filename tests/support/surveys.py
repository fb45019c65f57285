"""A pulse survey run end to end from the command line: a logged-in member creates and opens
it, staff answer it anonymously, and the member closes it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from safevoice.clock import utcnow
from tests.conftest import Cli

FEAR = "I can raise a concern without fear."


def closed_survey(
    member: Cli,
    staff: Cli,
    *,
    url: str,
    pin: str,
    folder: Path,
    scores: Sequence[int],
    free_text: str,
    title: str = "Speaking up",
    days_open: int = 14,
) -> str:
    """Create, open, answer (one score per answer, to ``FEAR``) and close a survey; its id."""
    survey_id = open_survey(member, folder=folder, title=title, days_open=days_open)
    for score in scores:
        staff.report(
            "survey",
            "--server",
            url,
            "--pin",
            pin,
            "--answers-file",
            "-",
            stdin=json.dumps({"scores": [score], "free_text": free_text}),
        )
    member.safevoice("surveys", "close", survey_id)
    return survey_id


def open_survey(
    member: Cli, *, folder: Path, title: str = "Speaking up", days_open: int = 14
) -> str:
    """Create and open a survey of one question (``FEAR``) with a free text; its id."""
    questions = folder / "questions.txt"
    questions.write_text(f"{FEAR}\n")
    today = utcnow().date()
    created = member.safevoice(
        "surveys",
        "create",
        "--title",
        title,
        "--questions-file",
        str(questions),
        "--opens",
        str(today),
        "--closes",
        str(today + timedelta(days=days_open)),
        "--free-text",
        "Anything else?",
        "--json",
    )
    survey_id = str(json.loads(created.stdout)["survey_id"])
    member.safevoice("surveys", "open", survey_id)
    return survey_id
