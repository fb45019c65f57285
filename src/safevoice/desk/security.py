"""Who may talk to the desk: only the browser that opened its one-time address.

The desk listens on 127.0.0.1 only, but every local program and every web page the member
visits can reach that address. So every request must carry this process's own address as its
Host (a DNS-rebinding page has another name there), and every request except the one-time
``/open/<token>`` must carry the cookie that address set: a random value, named after the port,
``HttpOnly`` and ``SameSite=Strict``, valid only while this process runs. A state-changing
request must also come from this origin (``Origin`` and ``Sec-Fetch-Site``) and carry the CSRF
token of the page it was sent from (checked where the form is read, see ``forms.py``).

Every answer gets a strict Content-Security-Policy (scripts, styles and images only from the
desk itself, no inline script or style, no framing, forms posting only here), ``no-store`` so
no decrypted page is kept in the browser's disk cache, and no referrer.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DESK_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# A downloaded attachment is never a document of this origin, whatever its bytes say.
DOWNLOAD_CSP = "default-src 'none'; sandbox"

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    # same-origin (not no-referrer) so that Chromium sends a real Origin on the desk's own
    # form posts, which the origin check needs; nothing is ever sent to another site.
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class Admission:
    """The secrets of one desk process: the one-time token, the cookie and the CSRF token."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie_value: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_used: bool = False

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def cookie_name(self) -> str:
        return f"safevoice_desk_{self.port}"

    @property
    def open_url(self) -> str:
        return f"{self.origin}/open/{self.token}"

    def redeem(self, token: str) -> bool:
        """Exchange the one-time token once; every later try fails, the right one included."""
        if self.token_used or not hmac.compare_digest(token.encode(), self.token.encode()):
            return False
        self.token_used = True
        return True

    def cookie_header(self) -> bytes:
        return (
            f"{self.cookie_name}={self.cookie_value}; Path=/; HttpOnly; SameSite=Strict"
        ).encode()

    def admits(self, cookie_header: str) -> bool:
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie_name and hmac.compare_digest(
                value.encode(), self.cookie_value.encode()
            ):
                return True
        return False

    def csrf_ok(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.csrf.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class DeskGuard:
    """Refuses foreign hosts, foreign origins and requests without the desk's cookie."""

    def __init__(self, app: ASGIApp, *, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _plain(send, 403, refusal)
            return
        path: str = scope["path"]
        if path.startswith("/open/"):
            if scope["method"] != "GET" or not self.admission.redeem(path[len("/open/") :]):
                await _plain(
                    send,
                    403,
                    "This address was already used or is wrong. Start the desk again with "
                    "`safevoice desk` to get a new one.",
                )
                return
            await _send_headers(
                send,
                303,
                [(b"location", b"/"), (b"set-cookie", self.admission.cookie_header())],
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if not self.admission.admits(_header(scope, b"cookie") or ""):
            await _plain(
                send,
                403,
                "This browser has not been admitted to the desk. Open the address that "
                "`safevoice desk` printed or opened, in the browser it opened.",
            )
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope) -> str | None:
        if _header(scope, b"host") != self.admission.host:
            return "The desk answers only at its own address."
        origin = _header(scope, b"origin")
        if origin is not None and origin != self.admission.origin:
            return "The desk refuses requests from other sites."
        site = _header(scope, b"sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return "The desk refuses requests from other sites."
        if scope["method"] not in SAFE_METHODS and origin is None:
            # Browsers send Origin with every form post; its absence means another client.
            return "The desk refuses changes that do not come from its own pages."
        return None


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() not in {b"server", b"date"}
            ]
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in HEADERS if h[0] not in present)
            if b"content-security-policy" not in present:
                headers.append((b"content-security-policy", DESK_CSP.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _send_headers(send: Send, status: int, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [*extra, *HEADERS, (b"content-security-policy", DESK_CSP.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await _send_headers(
        send,
        status,
        [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ],
    )
    await send({"type": "http.response.body", "body": body})
