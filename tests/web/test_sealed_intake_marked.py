"""A case whose plaintext passed through server memory says so inside its signed records.

The server-sealed form and the server-sealed follow-up write the report and the reporter's
answers with a marker inside the signed plaintext; setting the case's intake mode back to
`e2e` in the database (to hide that the server saw the text) is then named by the member's
reader. Run in process on both databases.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from safevoice.crypto.casefile import member_label
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.protocol.reader import ReadCase, read_case
from safevoice.protocol.wire import CaseDetail
from safevoice.storage.db import Database
from tests.api.test_login import login as member_login
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.world import World
from tests.web.test_pages import sealed_web

__all__ = ["sealed_web"]  # the fixture: the app with the server-sealed forms turned on


def read_as_alice(client: httpx.Client, manifest: Manifest, world: World, case_id: str) -> ReadCase:
    alice = world.members["alice"]
    answer = client.get(
        f"/api/v1/cases/{case_id}", headers=bearer(member_login(client, alice, manifest))
    )
    detail = CaseDetail.model_validate_json(answer.content)
    return read_case(detail, keys=alice, label=member_label("alice"), manifest=manifest)


def set_intake(database: Database, case_id: str, mode: str) -> None:
    with database.writer.begin() as connection:
        changed = connection.execute(
            text("UPDATE case_file SET intake_mode = :mode WHERE id = :case"),
            {"mode": mode, "case": case_id},
        ).rowcount
    assert changed == 1


def test_a_server_sealed_report_hidden_as_end_to_end_is_named(
    sealed_web: httpx.Client,
    database: Database,
    manifest: Manifest,
    world: World,
) -> None:
    answer = sealed_web.post(
        "/report/general",
        data={
            "form_token": random_id(),
            "text": "Safety records were altered.",
            "answer.where": "Depot",
        },
    )
    assert answer.status_code == 200
    with database.reader.connect() as connection:
        case_id = connection.execute(text("SELECT id FROM case_file")).scalar_one()

    honest = read_as_alice(sealed_web, manifest, world, case_id)
    set_intake(database, case_id, "e2e")
    hidden = read_as_alice(sealed_web, manifest, world, case_id)

    assert honest.report is not None
    assert honest.report.sealed_by_server
    assert honest.problems == []
    assert hidden.problems == [
        "thread message 0 was sealed by the server (its plaintext passed through server "
        "memory), but the server lists the case's intake mode as e2e"
    ]


def test_an_answer_the_server_sealed_keeps_the_case_marked(
    sealed_web: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    sub = new_case(sealed_web, manifest, text="The scales are rigged.")
    case_id = sub.case_id
    assert read_as_alice(sealed_web, manifest, world, case_id).problems == []

    sent = sealed_web.post(
        "/follow-up", data={"code": sub.code, "form_token": random_id(), "reply": "Bay 3."}
    )
    assert sent.status_code == 200, sent.text
    set_intake(database, case_id, "e2e")
    hidden = read_as_alice(sealed_web, manifest, world, case_id)

    assert any(p.startswith("thread message 1 was sealed by the server") for p in hidden.problems)
