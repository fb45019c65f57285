"""The reporter pages: start page, report form, follow-up page, the server-sealed forms, the
bundle's files.

Routes only translate HTTP to service calls and templates. Pages are server-rendered with every
string from the translation catalogue; the report page embeds what its script needs (the intake
data and the script's strings) as non-executed JSON blocks, so opening the page and sending a
report takes three sequential request waves (the worker starts from the page itself, see
``safevoice.web.bundle``). Every bundle file carries ``PAGE_CSP`` and every page the bundle's
page policy (``PAGE_CSP`` plus the hash of the one inline script, the worker starter); nothing
sets a cookie; everything is ``no-store``.

The follow-up page embeds the signed manifest, a reporter-login challenge and the channels'
questions; its script logs in with the code and reads the thread entirely in the browser.

The no-JavaScript forms (``POST /report/{channel}`` and ``POST /follow-up``) are refused unless
the operator turned them on. Their bodies are read here, in memory, up to a small limit, and
parsed as URL-encoded forms without python-multipart, so no part of them (and never a file) can
be spooled to a temporary file.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from safevoice import i18n
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
from safevoice.i18n import N_, OUTCOME_WORDS, STATUS_WORDS, Catalogue
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
from safevoice.web.security import PAGE_CSP

TEMPLATES = Path(__file__).with_name("templates")
# The longest text the envelope allows, URL-encoded at its worst (12 bytes per code point),
# plus the answers; a longer body is refused before it is read on.
NOJS_MAX_BODY = 1536 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

# Which catalogue entries explain an error page, by status.
ERROR_TEXTS = {
    404: (N_("Nothing here"), N_("There is nothing at this address.")),
    413: (
        N_("Your report is too long for this form"),
        N_(
            "Please shorten it and send it again, or send the rest later with your follow-up "
            "code. Nothing was stored."
        ),
    ),
    503: (
        N_("Please try again in a moment"),
        N_("The service is busy or briefly unavailable. Nothing was stored."),
    ),
    507: (
        N_("Reports cannot be accepted right now"),
        N_("The server's storage is full, so nothing was stored. Please try again later."),
    ),
}
NOT_ACCEPTING = (
    N_("Reports cannot be accepted right now"),
    N_(
        "The server cannot store reports at the moment, so nothing you write here could be "
        "kept. Please come back later."
    ),
)


@dataclass(frozen=True)
class Language:
    """The language a page is shown in, and whether the URL chose it (``?lang=``) or the
    browser's Accept-Language did (then the answer varies by that header, and links carry no
    language)."""

    catalogue: Catalogue
    chosen: bool
    path: str
    # Whether the page goes gzip-compressed (the page size budget of DESIGN.md holds in every
    # language only compressed): only pages opened with GET, which carry no secret; the
    # answers to the no-JavaScript forms (a follow-up code, a thread) never are, so that no
    # compression side channel can tell anything about them.
    gzip: bool = False

    @property
    def query(self) -> str:
        """What links and forms append to keep the chosen language (nothing otherwise)."""
        return f"?lang={self.catalogue.lang}" if self.chosen else ""


def choose_language(request: Request) -> Language:
    """``?lang=xx`` when it names a shipped language, else the browser's Accept-Language.

    The texts come from the installed release bundle's catalogues (which its hash covers);
    only a server without a bundle, which serves no reporter page, reads the package's."""
    asked = request.query_params.get("lang", "")
    chosen = asked in i18n.languages()
    lang = asked if chosen else i18n.negotiate(request.headers.get("accept-language", ""))
    catalogue = request.app.state.pages.catalogue(lang)
    compressed = request.method == "GET" and _accepts_gzip(
        request.headers.get("accept-encoding", "")
    )
    return Language(catalogue, chosen=chosen, path=request.url.path, gzip=compressed)


LanguageDep = Annotated[Language, Depends(choose_language)]


def _gettext(catalogue: Catalogue) -> Callable[..., str]:
    """The templates' ``_()``: translated, then filled like Jinja's newstyle gettext, except
    that the translation is escaped too (a catalogue never brings markup into a page)."""

    @jinja2.pass_context
    def gettext(context: jinja2.runtime.Context, message: str, **values: object) -> str:
        text = catalogue.translations.gettext(message)
        if context.eval_ctx.autoescape:
            text = escape(text)
        return text % values if values else text

    return gettext


def _ngettext(catalogue: Catalogue) -> Callable[..., str]:
    @jinja2.pass_context
    def ngettext(
        context: jinja2.runtime.Context, singular: str, plural: str, n: int, **values: object
    ) -> str:
        text = catalogue.translations.ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            text = escape(text)
        return text % {"num": n, **values}

    return ngettext


@dataclass
class Pages:
    """Templates and (if installed) the release bundle of one app."""

    env: jinja2.Environment
    bundle: Bundle | None
    slots: sealed.SealingSlots

    @classmethod
    def create(cls, settings: Settings, bundle: Bundle | None) -> Pages:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        # The pages' JSON blocks keep their text as UTF-8 (still escaped for HTML).
        env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
        # Each render passes its language's gettext; this is only the extension's default.
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]  # added to the environment by jinja2.ext.i18n, which mypy cannot see
        return cls(env=env, bundle=bundle, slots=sealed.SealingSlots(settings.nojs_concurrency))

    def render(
        self,
        language: Language,
        template: str,
        *,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        catalogue = language.catalogue
        html = self.env.get_template(template).render(
            bundle=self.bundle,
            gettext=_gettext(catalogue),
            ngettext=_ngettext(catalogue),
            lang=catalogue.lang,
            day=catalogue.day,
            kept_for=catalogue.retention,
            number=catalogue.number,
            dir=catalogue.direction,
            q=language.query,
            here=language.path,
            menu=[(lang, self.catalogue(lang).name) for lang in i18n.languages()],
            **values,
        )
        # With a bundle, its policy: PAGE_CSP plus the hash of the worker starter it inlines.
        csp = self.bundle.page_csp if self.bundle is not None else PAGE_CSP
        headers = {"Content-Security-Policy": csp, "Vary": "Accept-Encoding"}
        if not language.chosen:
            headers["Vary"] = "Accept-Encoding, Accept-Language"
        if language.gzip:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(html.encode("utf-8"), compresslevel=6, mtime=0)
            return HTMLResponse(body, status_code=status, headers=headers)
        return HTMLResponse(html, status_code=status, headers=headers)

    def catalogue(self, lang: str) -> Catalogue:
        """A shipped language's texts: the release bundle's copy where there is one."""
        if self.bundle is not None and lang in self.bundle.catalogues:
            return self.bundle.catalogues[lang]
        return Catalogue.load(lang)

    def message(
        self, language: Language, status: int, heading: str, *paragraphs: str
    ) -> HTMLResponse:
        t = language.catalogue
        response = self.render(
            language,
            "message.html",
            status=status,
            heading=t(heading),
            paragraphs=[t(p) for p in paragraphs],
        )
        if status in (503, 507):
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response

    def not_installed(self, language: Language) -> HTMLResponse:
        return self.message(
            language,
            503,
            N_("Please try again in a moment"),
            N_(
                "The reporter pages are not installed on this server yet. Please use the "
                "SafeVoice command-line client."
            ),
        )

    def not_accepting(self, request: Request) -> HTMLResponse:
        return self.message(choose_language(request), 503, *NOT_ACCEPTING)

    def error(self, status: int, request: Request) -> HTMLResponse:
        return self.explain(choose_language(request), status)

    def explain(self, language: Language, status: int) -> HTMLResponse:
        """The page that explains an error by its status, in the page's language."""
        heading, text = ERROR_TEXTS.get(
            status,
            (
                N_("Something went wrong"),
                N_("The request could not be handled. Nothing was stored."),
            ),
        )
        return self.message(language, status, heading, text)


# A page's data carries its channels in its own language only (the page size budget).
PAGE_DATA_EXCLUDE: dict[str, Any] = {"channels": {"__all__": {"translations"}}}


def _channels(session: Session, language: Language) -> list[ChannelOut]:
    """The channels with their texts in the page's language (the operator's default language
    where the configuration gives none)."""
    return [c.in_language(language.catalogue.lang) for c in intake.list_channels(session)]


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(
    language: LanguageDep,
    pages: PagesDep,
    database: DatabaseDep,
    session: SessionDep,
    snap: SnapshotDep,
    settings: SettingsDep,
) -> HTMLResponse:
    if database.unwritable() is not None:
        return pages.message(language, 503, *NOT_ACCEPTING)
    bundle = pages.bundle
    return pages.render(
        language,
        "landing.html",
        nojs=settings.nojs_enabled,
        channels=_channels(session, language),
        external=snap.external_channels,
        root_fingerprint=format_fingerprint(bundle.pin) if bundle else "",
        bundle_hash=format_digest(bundle.digest) if bundle else "",
        archive=snap.manifest is not None and snap.manifest.archive is not None,
    )


@router.get("/report/{channel}", response_class=HTMLResponse)
def report_page(
    language: LanguageDep,
    channel: str,
    pages: PagesDep,
    database: DatabaseDep,
    session: SessionDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    if pages.bundle is None:
        return pages.not_installed(language)
    if database.unwritable() is not None:
        return pages.message(language, 503, *NOT_ACCEPTING)
    channels = _channels(session, language)
    chosen = next((c for c in channels if c.name == channel), None)
    if chosen is None:
        return pages.message(
            language,
            404,
            N_("There is no such channel"),
            N_("Please choose a channel from the start page."),
        )
    manifest = snap.require_manifest()
    signed = snap.signed_manifest
    assert signed is not None  # noqa: S101 - require_manifest() above guarantees it
    data = IntakeOut.model_validate(
        {
            "manifest": signed.to_json(),
            "channels": [chosen],
            "challenge": intake.issue_challenge(
                snap, purpose="submit", now=now, ttl_seconds=settings.challenge_ttl_seconds
            ),
            "limits": {"max_plaintext_bytes": MAX_PLAINTEXT},
            "archive": manifest.archive is not None,
        }
    )
    return pages.render(
        language,
        "report.html",
        channel=chosen,
        members=manifest.members,
        archive=manifest.archive is not None,
        nojs=settings.nojs_enabled,
        max_text=sealed.MAX_TEXT_CHARS,
        form_token=sealed.new_form_token(),
        js_strings=language.catalogue.script_strings(),
        intake=data.model_dump(mode="json", exclude=PAGE_DATA_EXCLUDE),
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
    language: LanguageDep,
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
            language,
            403,
            N_("JavaScript or the command-line client is needed"),
            N_(
                "On this server, reports are encrypted only in your browser, with JavaScript, "
                "or in the SafeVoice command-line client. Nothing you sent was stored."
            ),
            N_(
                'Turn JavaScript on for this site (Tor Browser "Standard") and reload the '
                "report page, or use the command-line client."
            ),
        )
    try:
        report = sealed.parse_form(channel, await _read_form(request))
        answer = await run_in_threadpool(
            sealed.submit, database, snap, pages.slots, report=report, now=now
        )
    except TooLarge:
        return pages.explain(language, 413)
    except sealed.AlreadyReceived:
        return pages.message(
            language,
            409,
            N_("Your report was already received"),
            N_(
                "This form was sent again, for example by reloading the page; the report was "
                "stored only once. Its follow-up code was shown only once, on the page after "
                "you first sent it, and is kept nowhere, so it cannot be shown again. If you "
                "did not write it down, you can send a new report."
            ),
        )
    except NotFound:
        return pages.message(
            language,
            404,
            N_("There is no such channel"),
            N_("Please choose a channel from the start page."),
        )
    except Unavailable:
        return pages.explain(language, 503)
    except SafeVoiceError:
        return pages.message(
            language,
            400,
            N_("The form could not be read"),
            N_("Some answers were missing or not in the expected form. Nothing was stored."),
            N_("Your browser's Back button may bring back what you typed."),
        )
    with database.session(write=False) as session:
        chosen = next((c for c in _channels(session, language) if c.name == channel), None)
    return pages.render(
        language,
        "sealed_code.html",
        code=answer.code,
        received_on=language.catalogue.day(answer.received_on),
        ack_due_on=language.catalogue.day(answer.ack_due_on),
        feedback_due_on=language.catalogue.day(answer.feedback_due_on),
        retention=chosen.retention if chosen is not None else None,
    )


@router.get("/follow-up", response_class=HTMLResponse)
def follow_up_page(
    language: LanguageDep,
    pages: PagesDep,
    reader: ReaderDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    """The follow-up page: log in with the code, read the thread, answer (in the browser)."""
    if pages.bundle is None:
        return pages.not_installed(language)
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
            "channels": _channels(reader, language),
        }
    )
    return pages.render(
        language,
        "followup.html",
        nojs=settings.nojs_enabled,
        with_reply=False,
        max_text=sealed.MAX_TEXT_CHARS,
        js_strings=language.catalogue.script_strings(),
        follow_up=data.model_dump(mode="json", exclude=PAGE_DATA_EXCLUDE),
    )


@router.post("/follow-up", response_class=HTMLResponse)
async def follow_up_sealed(
    language: LanguageDep,
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
            language,
            403,
            N_("JavaScript or the command-line client is needed"),
            N_(
                "On this server, cases are opened only in your browser, with JavaScript, or in "
                "the SafeVoice command-line client. Nothing you sent was used or stored."
            ),
            N_(
                'Turn JavaScript on for this site (Tor Browser "Standard") and reload the '
                "follow-up page, or use the command-line client."
            ),
        )
    try:
        form = sealed_follow_up.parse_form(await _read_form(request))
        thread = await run_in_threadpool(
            sealed_follow_up.follow_up, database, snap, pages.slots, form=form, now=now
        )
        with database.session(write=False) as session:
            channels = _channels(session, language)
    except TooLarge:
        return pages.explain(language, 413)
    except BadCode:
        return pages.message(
            language,
            400,
            N_("The code has a typo"),
            N_(
                "A follow-up code has 25 characters in five groups; letters I, L, O and U "
                "never appear. Please compare it with what you wrote down. Nothing was sent "
                "to anyone."
            ),
        )
    except sealed_follow_up.EmptyReply:
        return pages.message(
            language,
            400,
            N_("Your answer is empty"),
            N_(
                "Please write your answer before sending; an empty message cannot be sent. "
                "Nothing was stored."
            ),
        )
    except Unauthorized:
        return pages.message(
            language,
            401,
            N_("No case opens with this code"),
            N_(
                "Check the code character by character. If it is right, the case may have "
                "been closed and deleted. Nothing was stored."
            ),
        )
    except Unavailable:
        return pages.explain(language, 503)
    except (NotFound, CryptoError):
        return pages.message(
            language,
            400,
            N_("Something went wrong"),
            N_("The request could not be handled. Nothing was stored."),
        )
    except SafeVoiceError:
        return pages.message(
            language,
            400,
            N_("The form could not be read"),
            N_("Some answers were missing or not in the expected form. Nothing was stored."),
            N_("Your browser's Back button may bring back what you typed."),
        )
    return pages.render(
        language,
        "followup_sealed.html",
        with_reply=True,
        max_text=sealed.MAX_TEXT_CHARS,
        form_token=sealed.new_form_token(),
        **_sealed_thread(language.catalogue, thread, channels),
    )


def _size(t: Catalogue, size: int) -> str:
    if size < 1024:
        return t("%(n)s bytes", n=t.number(size))
    if size < 1024 * 1024:
        return t("%(n)s KB", n=t.number(size / 1024, decimals=1))
    return t("%(n)s MB", n=t.number(size / (1024 * 1024), decimals=1))


def _word(t: Catalogue, words: dict[str, str], value: object) -> str:
    """The catalogue's word for a status or outcome; an unknown one is shown as it is."""
    word = words.get(str(value))
    return t(word) if word is not None else str(value)


def _heading(t: Catalogue, o: ReadObject) -> str:
    if o.kind == "report":
        return t("Your report")
    if o.kind == "status":
        status = _word(t, STATUS_WORDS, o.body.get("status"))
        outcome = o.body.get("outcome")
        if outcome:
            outcome_word = _word(t, OUTCOME_WORDS, outcome)
            return t("Status: %(status)s (%(outcome)s)", status=status, outcome=outcome_word)
        return t("Status: %(status)s", status=status)
    if o.kind == "epoch":
        return t("Change of who can read your case")
    return t("Message")


def _files(t: Catalogue, o: ReadObject) -> list[str]:
    described = o.body.get("attachments") if o.verified else None
    files = []
    for item in described if isinstance(described, list) else []:
        if (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("size"), int)
        ):
            files.append(t("%(name)s (%(size)s)", name=item["name"], size=_size(t, item["size"])))
        else:
            files.append(t("A file whose description cannot be read."))
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
        (t("Status"), _word(t, STATUS_WORDS, signed.status)),
        (t("Received on"), t.day(signed.received_on or case.received_on)),
    ]
    if signed.acknowledged_on is not None:
        facts.append(
            (t("Acknowledged on (signed by the committee)"), t.day(signed.acknowledged_on))
        )
    else:
        facts.append((t("Acknowledgement due by"), t.day(case.ack_due_on)))
    if signed.status == "closed":
        facts.append((t("Closed on"), t.day(signed.changed_on)))
    else:
        facts.append(
            (
                t("Feedback due by"),
                t.day(signed.feedback_due or case.feedback_due_on),
            )
        )
    items = []
    for o in read.thread():
        if o.sender == REPORTER:
            sender = t("from you")
        else:
            kind, _, ident = o.sender.partition(":")
            member = thread.manifest.member(ident) if kind == "member" else None
            sender = (
                t("from %(name)s (committee)", name=member.name)
                if member is not None
                else t("from someone who is not on the committee")
            )
        answers = read.report.answers if o.kind == "report" and read.report is not None else {}
        items.append(
            {
                "seq": o.seq,
                "kind": o.kind,
                "mine": o.sender == REPORTER,
                "verified": o.verified,
                "heading": _heading(t, o),
                "meta": t("#%(n)s · %(from)s", n=o.seq, **{"from": sender}),
                "text": o.text if o.kind != "epoch" else None,
                "explained": t(
                    "The committee changed the keys of your case, for example because someone"
                    " stepped aside, left the committee or replaced their key. Only the "
                    "members you chose who still serve can read it from now on."
                )
                if o.kind == "epoch"
                else "",
                "answers": [(labels.get(k, k), str(v)) for k, v in answers.items()],
                "files": _files(t, o),
                "redacted": t(
                    "Part of this message was removed by the committee on %(day)s.",
                    day=t.day(o.redacted.on),
                )
                if o.redacted is not None
                else "",
                "files_removed": t(
                    "%(count)s attached file(s) removed by the committee on %(day)s.",
                    count=len(o.redacted.files),
                    day=t.day(o.redacted.on),
                )
                if o.redacted is not None and o.redacted.files
                else "",
            }
        )
    # As on the JavaScript page: a deadline that passed is said plainly.
    ack_passed = not acknowledged and case.today > case.ack_due_on
    feedback_passed = not ack_passed and case.feedback_overdue and signed.status != "closed"
    passed = ""
    if ack_passed:
        passed = t(
            "The acknowledgement was due by %(day)s and no committee member has signed one. "
            "You may now report to the competent authorities listed on the start page; you "
            "can still write here too.",
            day=t.day(case.ack_due_on),
        )
    elif feedback_passed:
        passed = t(
            "Feedback was due by %(day)s and the committee has not yet told you what it is "
            "doing about your report. You may ask here, and you may report to the competent "
            "authorities listed on the start page.",
            day=t.day(case.feedback_due_on),
        )
    return {
        "facts": facts,
        "ack_advice": ""
        if acknowledged or ack_passed
        else t(
            "No committee member has signed an acknowledgement of your report yet. It is due "
            "by %(day)s; if none arrives by then, you may report to the competent authorities"
            " listed on the start page.",
            day=t.day(case.ack_due_on),
        ),
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
