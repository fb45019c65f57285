"""What a member learns when the server refuses their recusal.

A member reads the reporter's recipient list, so they know who was excluded; they do not know who
else recused. The refusal must therefore be the same whether the other recipients were excluded by
the reporter or recused later, and must not name either reason.
"""

from __future__ import annotations

import httpx

from safevoice.crypto.manifest import Manifest
from tests.api.test_login import login
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.world import World


def recuse(client: httpx.Client, token: str, case_id: str) -> httpx.Response:
    return client.post(f"/api/v1/cases/{case_id}/recuse", headers=bearer(token))


def test_a_refused_recusal_says_nothing_about_other_members_exclusion_or_recusal(
    client: httpx.Client, manifest: Manifest, world: World
) -> None:
    alice = login(client, world.members["alice"], manifest)
    bob = login(client, world.members["bob"], manifest)
    alone = new_case(client, manifest, exclude=["bob", "carol"])
    with_bob = new_case(client, manifest, exclude=["carol"])
    assert recuse(client, bob, with_bob.case_id).status_code == 204

    refused_alone = recuse(client, alice, alone.case_id)
    refused_after_bob = recuse(client, alice, with_bob.case_id)

    assert refused_alone.status_code == refused_after_bob.status_code == 409
    assert refused_alone.json() == refused_after_bob.json()
    said = refused_after_bob.text.lower()
    for hint in ("other", "recused", "excluded", "no one", "nobody", "only", "bob", "carol"):
        assert hint not in said, hint
