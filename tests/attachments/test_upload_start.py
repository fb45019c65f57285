"""Starting an upload is idempotent per ``Idempotency-Key``: a start resent after its answer was
lost gets the same upload, never a second one; the same key with another request is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.attachments.models import Upload
from safevoice.client.api import Api
from safevoice.client.patience import Patience
from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.manifest import Manifest
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.deps import get_now
from tests.api.test_login import login
from tests.api.test_submission import challenge
from tests.dialogue.test_dialogue_api import bearer
from tests.support.asgi import SyncASGITransport, client_for
from tests.support.world import World

KEY = "resent-start-000001"


@pytest.fixture
def blob_spec(tmp_path: Path) -> str:
    """Starting an upload stores no chunk: one blob store is enough here."""
    return f"fs:{tmp_path / 'blobs'}"


def proof(client: httpx.Client) -> dict[str, str]:
    token = challenge(client, "upload")
    return {"challenge": token, "solution": powmod.solve(powmod.parse(token))}


def start(
    client: httpx.Client,
    body: dict[str, Any],
    key: str = KEY,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {"Idempotency-Key": key, **(headers or {})}
    return client.post("/api/v1/uploads", json=body, headers=headers)


def uploads_for(database: Database, case_id: str) -> int:
    with database.session(write=False) as session:
        return session.scalar(select(func.count()).where(Upload.case_id == case_id)) or 0


def test_a_resent_start_gets_the_same_upload_and_the_server_makes_one(
    client: httpx.Client, database: Database
) -> None:
    case_id = b64e(new_case_id())
    body = {"case_id": case_id, "proof": proof(client)}

    first = start(client, body)
    # The answer was lost: the client sends the same request again (its challenge is spent).
    again = start(client, body)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert uploads_for(database, case_id) == 1
    chunk = client.put(f"/api/v1/uploads/{first.json()['id']}/chunks/0", content=b"x")
    assert chunk.status_code == 400  # the upload exists and takes chunks (of the right size)


def test_the_same_key_with_another_request_is_refused_and_makes_nothing(
    client: httpx.Client, database: Database, manifest: Manifest, world: World
) -> None:
    case_id, other_case = b64e(new_case_id()), b64e(new_case_id())
    body = {"case_id": case_id, "proof": proof(client)}
    assert start(client, body).status_code == 201

    other_body = start(client, {"case_id": other_case, "proof": proof(client)})
    # The same body from a member's session: the upload id goes back only to who started it.
    member = bearer(login(client, world.members["alice"], manifest))
    other_session = start(client, body, headers=member)

    for refused in (other_body, other_session):
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "conflict"
        assert "idempotency key was already used" in refused.json()["error"]["message"]
    assert uploads_for(database, case_id) == 1
    assert uploads_for(database, other_case) == 0


def test_without_a_key_or_with_a_new_one_each_start_is_an_upload_of_its_own(
    client: httpx.Client, database: Database
) -> None:
    case_id = b64e(new_case_id())
    plain = client.post("/api/v1/uploads", json={"case_id": case_id, "proof": proof(client)})
    keyed = start(client, {"case_id": case_id, "proof": proof(client)}, key="another-key-000001")

    assert plain.status_code == keyed.status_code == 201
    assert plain.json()["id"] != keyed.json()["id"]
    assert uploads_for(database, case_id) == 2


@pytest.fixture
def late_client(database: Database, database_url: str) -> Iterator[tuple[httpx.Client, Any]]:
    """A client of an app whose clock the test moves forward."""
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with client_for(app) as http:
        yield http, app


def test_a_start_resent_after_its_challenge_expired_still_gets_its_upload(
    late_client: tuple[httpx.Client, Any], database: Database
) -> None:
    client, app = late_client
    case_id = b64e(new_case_id())
    body = {"case_id": case_id, "proof": proof(client)}
    first = start(client, body)
    later = utcnow() + timedelta(hours=2)
    app.dependency_overrides[get_now] = lambda: later

    again = start(client, body)
    fresh_key = start(client, body, key="never-used-key-0001")

    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert fresh_key.status_code == 400
    assert fresh_key.json()["error"]["code"] == "challenge_rejected"
    assert uploads_for(database, case_id) == 1


class LosesFirstStart(SyncASGITransport):
    """Drops the answer to the first upload start after the server made the upload."""

    lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path == "/api/v1/uploads" and self.lost == 0:
            self.lost += 1
            raise httpx.ReadError("connection dropped before the answer arrived")
        return response


def test_the_client_resends_a_start_whose_answer_was_lost_and_one_upload_is_made(
    database: Database, database_url: str
) -> None:
    transport = LosesFirstStart(
        create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    )
    case_id = b64e(new_case_id())
    with Api("http://testserver", transport=transport) as api:
        parsed = powmod.parse(api.challenge("upload").challenge)
        upload = api.start_upload(
            case_id,
            proof={"challenge": parsed.token, "solution": powmod.solve(parsed)},
            patience=Patience(sleep=lambda _s: None),
        )
        status = api.upload_status(upload.id)

    assert transport.lost == 1
    assert status.received == 0
    assert uploads_for(database, case_id) == 1
