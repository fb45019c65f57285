"""``safevoice web verify`` passes against the real server and fails when the server changes a
byte of a script or a translation, adds a script tag or an inline script to a page, changes the
worker starter a page carries inline, or changes the Content-Security-Policy."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safevoice.settings import Settings
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.support.server import ServerProcess
from tests.support.threaded import serve_app

pytestmark = pytest.mark.e2e


def test_web_verify_passes_against_the_real_server(
    server: ServerProcess, web_bundle: Bundle, cli: Cli
) -> None:
    result = cli.safevoice("web", "verify", server.url, "--bundle-hash", web_bundle.digest)
    assert "The server serves the published bundle." in result.stdout
    assert "FAIL" not in result.stdout
    wrong = cli.safevoice("web", "verify", server.url, "--bundle-hash", "0" * 64, expect=1)
    assert "FAIL the bundle record's hash" in wrong.stdout


class Tamper:
    """A compromised server: the real app with one change to what it sends."""

    def __init__(self, app: ASGIApp, how: str, script: str) -> None:
        self.app, self.how, self.script = app, how, script

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = dict(start["headers"])
            data = bytes(body)
            gzipped = headers.get(b"content-encoding") == b"gzip"
            if gzipped:
                data = gzip.decompress(data)
            if self.how == "script_byte" and scope["path"] == self.script:
                data = data.replace(b"function", b"functioN", 1)
            if self.how == "translation" and scope["path"] == self.script:
                data = data.replace(b"Einen Missstand sicher melden", b"Hier alles melden", 1)
            if self.how == "script_tag" and data.startswith(b"<!doctype html>"):
                data = data.replace(b"</body>", b'<script src="/static/extra.js"></script></body>')
            if self.how == "inline_script" and data.startswith(b"<!doctype html>"):
                data = data.replace(b"</body>", b"<script>void 0</script></body>")
            if self.how == "starter" and data.startswith(b"<!doctype html>"):
                data = data.replace(b"started.failed = true;", b"started.failed = false;")
            if self.how == "csp" and b"content-security-policy" in headers:
                headers[b"content-security-policy"] += b"; connect-src *"
            if gzipped:
                data = gzip.compress(data)
            headers[b"content-length"] = str(len(data)).encode()
            await send({**start, "headers": list(headers.items())})
            await send({"type": "http.response.body", "body": data})

        await self.app(scope, receive, capture)


@pytest.mark.parametrize(
    ("how", "complaint"),
    [
        ("script_byte", "is the bundle's file byte for byte"),
        ("script_tag", "loads no script but the bundle's"),
        ("inline_script", "has no inline script but the bundle's worker starter"),
        ("starter", "has no inline script but the bundle's worker starter"),
        ("csp", "Content-Security-Policy"),
        ("translation", "the catalogue of the language 'de'"),
    ],
)
def test_web_verify_fails_when_the_server_changes_a_script_a_page_or_the_policy(
    database_url: str, web_bundle: Bundle, cli: Cli, how: str, complaint: str
) -> None:
    app = create_app(Settings(database_url=database_url, bundle_dir=web_bundle.folder))
    target = web_bundle.page_script
    if how == "translation":
        target = json.loads(web_bundle.record)["catalogues"]["de"]
        assert b"Einen Missstand sicher melden" in web_bundle.files[target].data
    try:
        with serve_app(Tamper(app, how, target)) as base:
            result = cli.safevoice(
                "web", "verify", base, "--bundle-hash", web_bundle.digest, expect=1
            )
    finally:
        app.state.database.dispose()
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failures
    assert any(complaint in line for line in failures), failures
    assert "does NOT serve the published bundle" in result.stderr
