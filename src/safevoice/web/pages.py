"""The reporter pages: start page, report form, follow-up page, the server-sealed forms, the
bundle's files.

Routes only translate HTTP to service calls and templates. Pages are server-rendered with every
string from the translation catalogue; the report page embeds what its script needs (the intake
data and the script's strings) as non-executed JSON blocks, so opening the page and sending a
report takes four sequential request waves. Every page and bundle file carries ``PAGE_CSP``;
nothing sets a cookie; everything is ``no-store``.

The follow-up page embeds the signed manifest, a reporter-login challenge and the channels'
questions; its script logs in with the code and reads the thread entirely in the browser.

The no-JavaScript form (``POST /report/{channel}``) is refused unless the operator turned it on.
Its body is read here, in memory, up to a small limit, and parsed as a URL-encoded form without
python-multipart, so no part of it (and never a file) can be spooled to a temporary file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from safevoice.crypto.envelope import MAX_PLAINTEXT
from safevoice.crypto.keys import format_fingerprint
from safevoice.dialogue import service as dialogue
from safevoice.dialogue.schemas import FollowUpPageData
from safevoice.errors import (
    BadRequest,
    NotFound,
    SafeVoiceError,
    TooLarge,
    Unavailable,
)
from safevoice.intake import sealed
from safevoice.intake import service as intake
from safevoice.intake.schemas import IntakeOut
from safevoice.settings import Settings
from safevoice.web.bundle import Bundle, format_digest
from safevoice.web.deps import (
    DatabaseDep,
    NowDep,
    ReaderDep,
    SessionDep,
    SettingsDep,
    SnapshotDep,
)
from safevoice.web.i18n import Catalogue
from safevoice.web.security import PAGE_CSP

TEMPLATES = Path(__file__).with_name("templates")
NOJS_MAX_BODY = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

# Which catalogue entries explain an error page, by status.
ERROR_TEXTS = {
    404: ("message.not_found.heading", "message.not_found.text"),
    413: ("message.too_large.heading", "message.too_large.text"),
    503: ("message.unavailable.heading", "message.unavailable.text"),
}


@dataclass
class Pages:
    """Templates, catalogue and (if installed) the release bundle of one app."""

    env: jinja2.Environment
    catalogue: Catalogue
    bundle: Bundle | None
    slots: sealed.SealingSlots

    @classmethod
    def create(cls, settings: Settings, bundle: Bundle | None) -> Pages:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        catalogue = Catalogue.load()
        env.globals["t"] = catalogue
        return cls(
            env=env,
            catalogue=catalogue,
            bundle=bundle,
            slots=sealed.SealingSlots(settings.nojs_concurrency),
        )

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(bundle=self.bundle, **values)
        return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": PAGE_CSP})

    def message(self, status: int, heading: str, *paragraphs: str) -> HTMLResponse:
        t = self.catalogue
        return self.render(
            "message.html",
            status=status,
            heading=t(heading),
            paragraphs=[t(p) for p in paragraphs],
        )

    def error(self, status: int) -> HTMLResponse:
        heading, text = ERROR_TEXTS.get(status, ("message.error.heading", "message.error.text"))
        return self.message(status, heading, text)


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(pages: PagesDep, session: SessionDep, snap: SnapshotDep) -> HTMLResponse:
    bundle = pages.bundle
    return pages.render(
        "landing.html",
        channels=intake.list_channels(session),
        external=snap.external_channels,
        root_fingerprint=format_fingerprint(bundle.pin) if bundle else "",
        bundle_hash=format_digest(bundle.digest) if bundle else "",
    )


@router.get("/report/{channel}", response_class=HTMLResponse)
def report_page(
    channel: str,
    pages: PagesDep,
    session: SessionDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    if pages.bundle is None:
        return pages.message(503, "message.unavailable.heading", "pages.missing")
    channels = intake.list_channels(session)
    chosen = next((c for c in channels if c.name == channel), None)
    if chosen is None:
        return pages.message(404, "message.no_channel.heading", "message.no_channel.text")
    manifest = snap.require_manifest()
    signed = snap.signed_manifest
    assert signed is not None  # noqa: S101 - require_manifest() above guarantees it
    data = IntakeOut.model_validate(
        {
            "manifest": signed.to_json(),
            "channels": [chosen.model_dump()],
            "challenge": intake.issue_challenge(
                snap, purpose="submit", now=now, ttl_seconds=settings.challenge_ttl_seconds
            ),
            "limits": {"max_plaintext_bytes": MAX_PLAINTEXT},
        }
    )
    return pages.render(
        "report.html",
        channel=chosen,
        members=manifest.members,
        nojs=settings.nojs_enabled,
        max_text=sealed.MAX_TEXT_CHARS,
        js_strings=pages.catalogue.script_strings(),
        intake=data.model_dump(mode="json"),
    )


async def _read_form(request: Request) -> list[tuple[str, str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise BadRequest("The form must be sent URL-encoded.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > NOJS_MAX_BODY:
            raise TooLarge("The report is too long for this form.")
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read.") from None
    finally:
        body[:] = bytes(len(body))


@router.post("/report/{channel}", response_class=HTMLResponse)
async def report_sealed(
    channel: str,
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    database: DatabaseDep,
    snap: SnapshotDep,
    now: NowDep,
) -> HTMLResponse:
    """The no-JavaScript form: the server seals the report (only where the operator allows)."""
    if not settings.nojs_enabled:
        return pages.message(
            403,
            "message.sealed_off.heading",
            "message.sealed_off.text",
            "message.sealed_off.how",
        )
    try:
        report = sealed.parse_form(channel, await _read_form(request))
        answer = await run_in_threadpool(
            sealed.submit, database, snap, pages.slots, report=report, now=now
        )
    except TooLarge:
        return pages.message(413, "message.too_large.heading", "message.too_large.text")
    except NotFound:
        return pages.message(404, "message.no_channel.heading", "message.no_channel.text")
    except Unavailable:
        return pages.message(503, "message.unavailable.heading", "message.unavailable.text")
    except SafeVoiceError:
        return pages.message(
            400, "message.bad_form.heading", "message.bad_form.text", "message.back"
        )
    return pages.render(
        "sealed_code.html", code=answer.code, received_on=answer.received_on.isoformat()
    )


@router.get("/follow-up", response_class=HTMLResponse)
def follow_up_page(
    pages: PagesDep,
    reader: ReaderDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    """The follow-up page: log in with the code, read the thread, answer (in the browser)."""
    if pages.bundle is None:
        return pages.message(503, "message.unavailable.heading", "pages.missing")
    snap.require_manifest()
    signed = snap.signed_manifest
    assert signed is not None  # noqa: S101 - require_manifest() above guarantees it
    data = FollowUpPageData.model_validate(
        {
            "manifest": signed.to_json(),
            "challenge": intake.issue_challenge(
                snap,
                purpose="reporter-login",
                now=now,
                ttl_seconds=settings.challenge_ttl_seconds,
                extra_difficulty=dialogue.login_penalty(reader, now=now),
            ),
            "channels": [c.model_dump() for c in intake.list_channels(reader)],
        }
    )
    return pages.render(
        "followup.html",
        nojs=settings.nojs_enabled,
        with_reply=False,
        max_text=sealed.MAX_TEXT_CHARS,
        js_strings=pages.catalogue.script_strings(),
        follow_up=data.model_dump(mode="json"),
    )


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@router.get("/static/{name}")
def static_file(name: str, request: Request, pages: PagesDep) -> Response:
    """A file of the release bundle, exactly as built (precompressed when the client allows)."""
    bundle = pages.bundle
    found = bundle.files.get(f"/static/{name}") if bundle else None
    if found is None:
        raise HTTPException(404)
    headers = {"Content-Security-Policy": PAGE_CSP, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.content_type, headers=headers)
    return Response(found.data, media_type=found.content_type, headers=headers)


@router.get("/bundle.json")
def bundle_record(pages: PagesDep) -> Response:
    """The bundle record, byte for byte: its SHA-256 is the published bundle hash."""
    if pages.bundle is None:
        raise HTTPException(404)
    return Response(pages.bundle.record, media_type="application/json")
