"""The members' case list comes in bounded pages, and can be limited to what changed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from safevoice.cases.models import Case
from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import Manifest
from safevoice.protocol.listing import marks_digest
from safevoice.storage.db import Database
from tests.api.test_login import login
from tests.cases.test_disclosure import conversation
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.world import World


def pages(client: httpx.Client, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following each answer's cursor."""
    answers = []
    cursor = None
    while True:
        asked = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/cases", params=asked, headers=headers)
        assert response.status_code == 200, response.text
        answers.append(response.json())
        cursor = answers[-1]["next"]
        if cursor is None:
            return answers


def test_the_list_comes_in_pages_that_hold_every_readable_case_once(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    readable = {new_case(client, manifest, text=f"Case {i}.").case_id for i in range(5)}
    hidden = new_case(client, manifest, text="Not for Bob.", exclude=["bob"]).case_id
    bob = bearer(login(client, world.members["bob"], manifest))

    answers = pages(client, bob, limit=2)

    listed = [c["id"] for page in answers for c in page["cases"]]
    assert [len(page["cases"]) for page in answers] == [2, 2, 1]
    assert listed == sorted(readable)
    assert hidden not in listed
    assert all(page["readable"] is None for page in answers)
    # The cursor is opaque: not the last case id in the clear.
    assert answers[0]["next"] not in readable


def test_a_cursor_the_server_did_not_give_and_a_limit_out_of_bounds_are_refused(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    new_case(client, manifest, text="One.")
    alice = bearer(login(client, world.members["alice"], manifest))

    for cursor in ("garbage!", "AAAA", b64e(b"\x02" + bytes(16)), b64e(b"\x01" + bytes(15))):
        refused = client.get("/api/v1/cases", params={"cursor": cursor}, headers=alice)
        assert refused.status_code == 400, cursor
        assert "cursor is not one this server gave out" in refused.json()["error"]["message"]
    for limit in ("0", "1001", "ten", "2.0"):
        refused = client.get("/api/v1/cases", params={"limit": limit}, headers=alice)
        assert refused.status_code == 422, limit
        assert refused.json()["error"]["fields"][0]["location"] == "query.limit"
    assert len(client.get("/api/v1/cases", params={"limit": 1000}, headers=alice).json()["cases"])


def test_changes_since_a_day_list_only_what_changed_and_a_digest_of_every_case(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    old, claimed, fresh = (new_case(client, manifest, text=f"Case {i}.").case_id for i in range(3))
    long_ago = date.today() - timedelta(days=40)
    with database.unit_of_work() as session:
        session.execute(update(Case).where(Case.id.in_([old, claimed])).values(changed_on=long_ago))
    alice = bearer(login(client, world.members["alice"], manifest))
    before = {c["id"]: c for c in pages(client, alice)[0]["cases"]}
    taken = client.post(f"/api/v1/cases/{claimed}/claim", json={"offer_to": None}, headers=alice)
    assert taken.status_code == 204

    answers = pages(client, alice, changed_since=(date.today() - timedelta(days=1)).isoformat())
    everything = pages(client, alice)[0]["cases"]

    changed = {c["id"]: c for page in answers for c in page["cases"]}
    assert set(changed) == {claimed, fresh}
    assert changed[claimed]["version"] == before[claimed]["version"] + 1
    assert changed[fresh]["version"] == before[fresh]["version"]
    assert all(c["objects"] == 1 for c in everything)
    assert answers[0]["readable"] == {
        "count": 3,
        "digest": marks_digest((c["id"], (c["version"], c["objects"])) for c in everything),
    }


def test_messages_from_either_side_advance_the_cases_marker(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub, member = conversation(client, manifest, world)  # a question and the reporter's answer

    case = client.get(f"/api/v1/cases/{sub.case_id}", headers=member).json()["case"]

    assert (case["version"], case["objects"]) == (3, 3)
