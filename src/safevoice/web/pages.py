"""The reporter pages: start page, report form, follow-up page, the server-sealed forms, the
bundle's files.

Routes only translate HTTP to service calls and templates. Pages are server-rendered with every
string from the translation catalogue; the report page embeds what its script needs (the intake
data and the script's strings) as non-executed JSON blocks, so opening the page and sending a
report takes four sequential request waves. Every page and bundle file carries ``PAGE_CSP``;
nothing sets a cookie; everything is ``no-store``.

The follow-up page embeds the signed manifest, a reporter-login challenge and the channels'
questions; its script logs in with the code and reads the thread entirely in the browser.

The no-JavaScript forms (``POST /report/{channel}`` and ``POST /follow-up``) are refused unless
the operator turned them on. Their bodies are read here, in memory, up to a small limit, and
parsed as URL-encoded forms without python-multipart, so no part of them (and never a file) can
be spooled to a temporary file.
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

from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.envelope import MAX_PLAINTEXT
from safevoice.crypto.keys import format_fingerprint
from safevoice.dialogue import sealed as sealed_follow_up
from safevoice.dialogue import service as dialogue
from safevoice.errors import (
    BadCode,
    BadRequest,
    CryptoError,
    NotFound,
    SafeVoiceError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from safevoice.intake import sealed
from safevoice.intake import service as intake
from safevoice.protocol.reader import ReadObject, SignedState
from safevoice.protocol.wire import ChannelOut, FollowUpPageData, IntakeOut
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
from safevoice.web.errors import RETRY_AFTER_SECONDS
from safevoice.web.i18n import Catalogue
from safevoice.web.security import PAGE_CSP

TEMPLATES = Path(__file__).with_name("templates")
# The longest text the envelope allows, URL-encoded at its worst (12 bytes per code point),
# plus the answers; a longer body is refused before it is read on.
NOJS_MAX_BODY = 1536 * 1024
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
        response = self.render(
            "message.html",
            status=status,
            heading=t(heading),
            paragraphs=[t(p) for p in paragraphs],
        )
        if status == 503:
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response

    def error(self, status: int) -> HTMLResponse:
        heading, text = ERROR_TEXTS.get(status, ("message.error.heading", "message.error.text"))
        return self.message(status, heading, text)


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(
    pages: PagesDep, session: SessionDep, snap: SnapshotDep, settings: SettingsDep
) -> HTMLResponse:
    bundle = pages.bundle
    return pages.render(
        "landing.html",
        nojs=settings.nojs_enabled,
        channels=intake.list_channels(session),
        external=snap.external_channels,
        root_fingerprint=format_fingerprint(bundle.pin) if bundle else "",
        bundle_hash=format_digest(bundle.digest) if bundle else "",
        archive=snap.manifest is not None and snap.manifest.archive is not None,
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
            "archive": manifest.archive is not None,
        }
    )
    return pages.render(
        "report.html",
        channel=chosen,
        members=manifest.members,
        archive=manifest.archive is not None,
        nojs=settings.nojs_enabled,
        max_text=sealed.MAX_TEXT_CHARS,
        form_token=sealed.new_form_token(),
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
    except sealed.AlreadyReceived:
        return pages.message(
            409, "message.already_received.heading", "message.already_received.text"
        )
    except NotFound:
        return pages.message(404, "message.no_channel.heading", "message.no_channel.text")
    except Unavailable:
        return pages.message(503, "message.unavailable.heading", "message.unavailable.text")
    except SafeVoiceError:
        return pages.message(
            400, "message.bad_form.heading", "message.bad_form.text", "message.back"
        )
    with database.session(write=False) as session:
        chosen = next((c for c in intake.list_channels(session) if c.name == channel), None)
    return pages.render(
        "sealed_code.html",
        code=answer.code,
        received_on=answer.received_on.isoformat(),
        ack_due_on=str(answer.ack_due_on),
        feedback_due_on=str(answer.feedback_due_on),
        retention=chosen.retention if chosen is not None else None,
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


@router.post("/follow-up", response_class=HTMLResponse)
async def follow_up_sealed(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    database: DatabaseDep,
    snap: SnapshotDep,
    now: NowDep,
) -> HTMLResponse:
    """The no-JavaScript follow-up: the server opens the case with the code and seals the
    answer (only where the operator allows)."""
    if not settings.nojs_enabled:
        return pages.message(
            403,
            "message.sealed_off.heading",
            "message.sealed_follow_off.text",
            "message.sealed_follow_off.how",
        )
    try:
        form = sealed_follow_up.parse_form(await _read_form(request))
        thread = await run_in_threadpool(
            sealed_follow_up.follow_up, database, snap, pages.slots, form=form, now=now
        )
        with database.session(write=False) as session:
            channels = intake.list_channels(session)
    except TooLarge:
        return pages.message(413, "message.too_large.heading", "message.too_large.text")
    except BadCode:
        return pages.message(400, "message.typo.heading", "message.typo.text")
    except sealed_follow_up.EmptyReply:
        return pages.message(400, "message.empty_reply.heading", "message.empty_reply.text")
    except Unauthorized:
        return pages.message(401, "message.wrong_code.heading", "message.wrong_code.text")
    except Unavailable:
        return pages.message(503, "message.unavailable.heading", "message.unavailable.text")
    except (NotFound, CryptoError):
        return pages.message(400, "message.error.heading", "message.error.text")
    except SafeVoiceError:
        return pages.message(
            400, "message.bad_form.heading", "message.bad_form.text", "message.back"
        )
    return pages.render(
        "followup_sealed.html",
        with_reply=True,
        max_text=sealed.MAX_TEXT_CHARS,
        form_token=sealed.new_form_token(),
        **_sealed_thread(pages.catalogue, thread, channels),
    )


def _size(t: Catalogue, size: int) -> str:
    if size < 1024:
        return t("js.size.bytes", n=size)
    if size < 1024 * 1024:
        return t("js.size.kib", n=f"{size / 1024:.1f}")
    return t("js.size.mib", n=f"{size / (1024 * 1024):.1f}")


def _word(t: Catalogue, prefix: str, value: object) -> str:
    """The catalogue's word for a status or outcome; an unknown one is shown as it is."""
    key = f"{prefix}{value}"
    return t(key) if key in t.strings else str(value)


def _heading(t: Catalogue, o: ReadObject) -> str:
    if o.kind == "report":
        return t("js.follow.kind.report")
    if o.kind == "status":
        status = _word(t, "js.status.", o.body.get("status"))
        outcome = o.body.get("outcome")
        if outcome:
            outcome_word = _word(t, "js.outcome.", outcome)
            return t("js.follow.kind.status_outcome", status=status, outcome=outcome_word)
        return t("js.follow.kind.status", status=status)
    if o.kind == "epoch":
        return t("js.follow.kind.epoch")
    return t("js.follow.kind.message")


def _files(t: Catalogue, o: ReadObject) -> list[str]:
    described = o.body.get("attachments") if o.verified else None
    files = []
    for item in described if isinstance(described, list) else []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("size"), int)
        ):
            files.append(t("js.files.item", name=item["name"], size=_size(t, item["size"])))
        else:
            files.append(t("js.follow.file_malformed"))
    return files


def _sealed_thread(
    t: Catalogue, thread: sealed_follow_up.SealedThread, channels: list[ChannelOut]
) -> dict[str, Any]:
    """What the server-sealed thread page shows, every word from the catalogue."""
    case, read = thread.view.case, thread.read
    labels = {q.id: q.label for c in channels for q in c.questionnaire}
    # As on the JavaScript page: the status and days a committee member signed, not the
    # case row's (the reader lists every disagreement among the problems).
    signed = read.signed or SignedState()
    acknowledged = signed.acknowledged_on is not None
    facts = [
        (t("js.follow.facts.status"), _word(t, "js.status.", signed.status)),
        (t("js.follow.facts.received"), signed.received_on or case.received_on.isoformat()),
    ]
    if signed.acknowledged_on is not None:
        facts.append((t("js.follow.facts.acknowledged"), signed.acknowledged_on))
    else:
        facts.append((t("js.follow.facts.ack_due"), case.ack_due_on.isoformat()))
    if signed.status == "closed":
        facts.append((t("js.follow.facts.closed"), signed.changed_on or ""))
    else:
        facts.append(
            (
                t("js.follow.facts.feedback_due"),
                signed.feedback_due or case.feedback_due_on.isoformat(),
            )
        )
    items = []
    for o in read.thread():
        if o.sender == REPORTER:
            sender = t("js.follow.from_you")
        else:
            kind, _, ident = o.sender.partition(":")
            member = thread.manifest.member(ident) if kind == "member" else None
            sender = (
                t("js.follow.from_member", name=member.name)
                if member is not None
                else t("js.follow.from_unknown")
            )
        answers = read.report.answers if o.kind == "report" and read.report is not None else {}
        items.append(
            {
                "seq": o.seq,
                "kind": o.kind,
                "mine": o.sender == REPORTER,
                "verified": o.verified,
                "heading": _heading(t, o),
                "meta": t("js.follow.meta", n=o.seq, **{"from": sender}),
                "text": o.text if o.kind != "epoch" else None,
                "explained": t("js.follow.epoch_explained") if o.kind == "epoch" else "",
                "answers": [(labels.get(k, k), str(v)) for k, v in answers.items()],
                "files": _files(t, o),
            }
        )
    # As on the JavaScript page: a deadline that passed is said plainly.
    ack_passed = not acknowledged and case.today > case.ack_due_on
    feedback_passed = not ack_passed and case.feedback_overdue and signed.status != "closed"
    passed = ""
    if ack_passed:
        passed = t("js.follow.ack_passed", day=case.ack_due_on.isoformat())
    elif feedback_passed:
        passed = t("js.follow.feedback_passed", day=case.feedback_due_on.isoformat())
    return {
        "facts": facts,
        "ack_advice": ""
        if acknowledged or ack_passed
        else t("js.follow.ack_advice", day=case.ack_due_on.isoformat()),
        "deadline_passed": passed,
        "problems": bool(read.problems),
        "unsigned_ack": case.acknowledged_on is not None and not acknowledged,
        "items": items,
        "sent": thread.sent,
        "repeated": thread.repeated,
        "busy": thread.busy,
    }


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
