"""Security headers on every response and a hard limit on request bodies.

Both are plain ASGI middleware so that they also cover error answers, static files and 404s.
The bundle's files carry ``PAGE_CSP``: scripts and workers only from this server, no inline
script or style, no eval (WebAssembly compilation for libsodium.js is the one exception,
``'wasm-unsafe-eval'``), network requests only back to this server, forms posting only here, no
framing. The reporter pages carry the same policy with one addition, ``page_csp``: the one inline
script of the installed bundle (the worker starter), allowed by its SHA-256, never inline script
in general. Every other answer gets a policy that allows nothing at all. Nothing is ever
cached (``no-store``), so a reporter's browser keeps no copy of a page, a script or an answer.
"""

from __future__ import annotations

import base64
import hashlib
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safevoice.web.errors import error_body

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)

SCRIPT_SRC = "script-src 'self' 'wasm-unsafe-eval'"


def page_csp(*inline_scripts: bytes) -> str:
    """``PAGE_CSP`` that also allows exactly these inline scripts (their bytes as the page
    carries them), by SHA-256 hash source."""
    sources = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in inline_scripts
    )
    return PAGE_CSP.replace(SCRIPT_SRC, SCRIPT_SRC + sources, 1)


BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"permissions-policy",
        b"accelerometer=(), autoplay=(), "
        b"browsing-topics=(), camera=(), clipboard-read=(), display-capture=(), "
        b"encrypted-media=(), fullscreen=(), "
        b"geolocation=(), gyroscope=(), hid=(), idle-detection=(), interest-cohort=(), "
        b"magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), "
        b"publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
        b"xr-spatial-tracking=()",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"x-robots-tag", b"noindex, nofollow"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in {b"server", b"date", b"set-cookie"}
                ]
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in BASE_HEADERS if h[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", API_CSP.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes, by header or by counting the stream."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # FastAPI lets HTTPException from the body stream through unchanged.
                    raise HTTPException(413)
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(send: Send) -> None:
    body = json.dumps(
        error_body("too_large", "The request is larger than this server accepts.")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
