"""The reporter's client takes the day of receipt from the signed receipt, never from the
answer alone: an answer whose ``received_on`` is not the receipt's ``day`` shows no code.

The day of receipt is the day every deadline the reporter watches is computed from
(docs/protocol/intake.md, section 8).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.cli.test_report_cli import submit
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.world import World


class ShiftReceivedOn:
    """A server that answers a submission with another day than the one it signed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/api/v1/cases"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if start["status"] == 201:
                answer = json.loads(body)
                day = date.fromisoformat(answer["received_on"]) - timedelta(days=1)
                answer["received_on"] = day.isoformat()
                body = json.dumps(answer).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


@pytest.fixture
def shifted(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    app.add_middleware(ShiftReceivedOn)
    with serve_app(app) as url:
        yield url


def test_a_received_on_that_is_not_the_signed_day_shows_no_code(
    shifted: str, world: World, cli: Cli
) -> None:
    result: Any = submit(cli, shifted, world, expect=1)

    assert "receipt is for something other than what you sent" in result.stderr + result.stdout
    assert "follow-up code" not in result.stdout
