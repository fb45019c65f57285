"""The desk's pages: unlock and lock, inbox, cases, case, metrics, key and session.

Routes only gather the form and call the shared member code (``client.member``): every record is
composed, encrypted and signed by the same functions the CLI uses. A step that fails shows the
page again with the sentence and a 4xx status; a step that worked redirects to the case page
(so reloading never repeats it). Reporter-controlled text reaches templates only as data and is
escaped there (autoescape); file names are cleaned before they become a download name.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from safevoice.client import digest, member, surveys
from safevoice.client import stats_html as charts
from safevoice.client.files import Attachment, decrypt_chunks, safe_name
from safevoice.client.member import OUTCOMES, RISKS, Closure, Upload
from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.keys import format_fingerprint
from safevoice.desk import queries
from safevoice.desk.forms import FormDep, files, numbers, text
from safevoice.desk.security import DOWNLOAD_CSP, Admission
from safevoice.desk.state import CaseEntry, Desk, today
from safevoice.errors import BadRequest, ClientError, NotFound, SafeVoiceError
from safevoice.protocol import deadlines
from safevoice.protocol.reader import sealed_by_server

router = APIRouter(include_in_schema=False)
INBOX_ROWS = 100
CASE_ID = re.compile(r"[A-Za-z0-9_-]{22}")

# Bidirectional overrides and isolates can make text read differently from what it is (a file
# "gpj.exe" shown as "exe.jpg"); other control characters can hide text. Both are shown as
# visible marks wherever reporter-controlled text appears.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


class Locked(Exception):
    """A page that needs the unlocked key was asked for while the desk is locked."""


def plain(value: object) -> str:
    """Untrusted text made visible: controls and bidi marks shown as ``\\u`` escapes."""
    out = []
    for ch in str(value):
        if ch in "\n\t":
            out.append(ch)
        elif ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def status_of(exc: SafeVoiceError) -> int:
    status = int(getattr(exc, "status", 400))
    if isinstance(exc, ClientError) or status >= 500:
        return 502 if status < 500 else status
    return status


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


def unlocked_desk(request: Request) -> Desk:
    desk = get_desk(request)
    if not desk.touch():
        raise Locked
    return desk


DeskDep = Annotated[Desk, Depends(get_desk)]
UnlockedDep = Annotated[Desk, Depends(unlocked_desk)]


def page(request: Request, template: str, **values: Any) -> str:
    desk = get_desk(request)
    admission: Admission = request.app.state.admission
    env = request.app.state.templates
    return str(
        env.get_template(template).render(
            csrf=admission.csrf,
            unlocked=desk.unlocked,
            me=desk.subject,
            path=request.url.path,
            **values,
        )
    )


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(page(request, template, **values), status_code=status)


# -- unlock and lock --------------------------------------------------------------------------


def unlock_values(desk: Desk) -> dict[str, Any]:
    server = desk.configured_server() or ""
    return {
        "server": server,
        "key_file": desk.configured_key_file() or "",
        "ask_pin": not server or desk.needs_pin(server),
        "notice": desk.notice,
    }


@router.get("/unlock", response_class=HTMLResponse)
def unlock_page(request: Request, desk: DeskDep) -> Response:
    if desk.touch():
        return RedirectResponse("/", status_code=303)
    return render(request, "unlock.html", error=None, **unlock_values(desk))


@router.post("/unlock", response_class=HTMLResponse)
def unlock(request: Request, desk: DeskDep, form: FormDep) -> Response:
    try:
        desk.unlock(
            server=text(form, "server") or desk.configured_server() or "",
            key_file=text(form, "key_file"),
            passphrase=text(form, "passphrase"),
            pin=text(form, "pin").strip() or None,
        )
    except SafeVoiceError as exc:
        desk.lock()
        return render(
            request, "unlock.html", status=status_of(exc), error=exc.message, **unlock_values(desk)
        )
    desk.notice = None
    return RedirectResponse("/", status_code=303)


@router.post("/lock")
def lock(desk: DeskDep, _form: FormDep) -> Response:
    desk.lock(notice="The desk is locked. Your key is no longer in memory.")
    return RedirectResponse("/unlock", status_code=303)


@router.post("/sync")
def sync(desk: UnlockedDep, _form: FormDep) -> Response:
    desk.sync()
    return RedirectResponse("/", status_code=303)


# -- inbox and table --------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def inbox(request: Request, desk: DeskDep) -> Response:
    if not desk.touch():
        return RedirectResponse("/unlock", status_code=303)
    with desk.guard:
        entries = list(desk.cases.values())
        actions = list(desk.actions)
    box = queries.inbox(entries, actions, today=today(), unread=desk.unread)
    problems = [e for e in entries if e.problem or (e.opened and not e.opened.trustworthy)]
    # The most urgent first; the rest are one click away in the case table, and a page of ten
    # thousand rows would help nobody (and take seconds to render).
    return render(
        request,
        "inbox.html",
        inbox=box,
        items=box.items[:INBOX_ROWS],
        flash=desk.take_flash(""),
        more=max(0, len(box.items) - INBOX_ROWS),
        problems=problems,
        audit=_audit_problem(desk),
    )


@router.get("/cases", response_class=HTMLResponse)
def cases(
    request: Request,
    desk: UnlockedDep,
    status: str = "",
    channel: str = "",
    risk: str = "",
    mine: bool = False,
    overdue: bool = False,
    q: Annotated[str, Query(max_length=500)] = "",
    sort: str = "received",
    order: str = "desc",
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    filters = queries.Filters(
        status=status,
        channel=channel,
        risk=risk,
        mine=mine,
        overdue=overdue,
        q=q,
        sort=sort if sort in queries.SORTS else "received",
        descending=order != "asc",
        page=page_number,
    )
    with desk.guard:
        entries = list(desk.cases.values())
    result = queries.table(entries, filters, me=desk.subject)
    channels = sorted({e.summary.channel for e in entries})
    return render(
        request,
        "cases.html",
        result=result,
        filters=filters,
        channels=channels,
        statuses=[*queries.OPEN_STATUSES, "closed"],
        risks=RISKS,
        unread=desk.unread,
        query=_query(filters),
    )


def _query(filters: queries.Filters) -> Callable[..., str]:
    """A link to the table with the current filters, some of them changed."""

    def link(**changes: Any) -> str:
        values = {
            "status": filters.status,
            "channel": filters.channel,
            "risk": filters.risk,
            "mine": "true" if filters.mine else "",
            "overdue": "true" if filters.overdue else "",
            "q": filters.q,
            "sort": filters.sort,
            "order": "desc" if filters.descending else "asc",
            "page": str(filters.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return "/cases?" + "&".join(f"{k}={quote(v)}" for k, v in values.items() if v)

    return link


# -- one case ---------------------------------------------------------------------------------


def _entry(desk: Desk, case_id: str) -> CaseEntry:
    """The case fetched afresh (a case that arrived after the last sync is found too)."""
    if not CASE_ID.fullmatch(case_id):
        raise NotFound("There is no such case among the cases you can read.")
    return desk.open(case_id)


def case_values(desk: Desk, entry: CaseEntry) -> dict[str, Any]:
    opened = entry.opened
    manifest = desk.manifest
    members = [m.id for m in manifest.members] if manifest is not None else []
    attachments: list[Attachment] = []
    questions: dict[str, str] = {}
    if opened is not None:
        attachments = member.attachments_of(opened.read)
        questions = desk.questions.get(entry.summary.channel, {})
    actions = [a for a in desk.actions if a.case_id == entry.id]
    received = entry.summary.received_on
    return {
        "entry": entry,
        "case": entry.summary,
        "opened": opened,
        "attachments": attachments,
        "questions": questions,
        "members": members,
        "actions": actions,
        "outcomes": OUTCOMES,
        "checklist": digest.CHECKLIST,
        "risks": RISKS,
        "name": lambda sender: _sender_name(desk, sender),
        "ack_feedback_due": deadlines.feedback_due(received, today()),
        "today": today(),
        "flash": desk.take_flash(entry.id),
        "epochs": _epochs(opened),
        # The reporter's own signed records decide; the server's flag counts too, as a warning.
        "server_sealed": entry.summary.intake_mode == "server_sealed"
        or (opened is not None and sealed_by_server(opened.read) is not None),
    }


def _sender_name(desk: Desk, sender: str) -> str:
    if sender == REPORTER:
        return "the reporter"
    kind, _, ident = sender.partition(":")
    listed = desk.manifest.member(ident) if desk.manifest and kind == "member" else None
    return f"{listed.name} (committee)" if listed is not None else sender


def _epochs(opened: member.Opened | None) -> list[tuple[int, list[str]]]:
    """Who could read the case in each key epoch, as far as this machine verified it."""
    if opened is None:
        return []
    read = opened.read
    found: list[tuple[int, list[str]]] = []
    if read.report is not None:
        found.append((0, [*read.report.recipients, REPORTER]))
    for o in read.thread():
        if o.kind == "epoch" and o.verified and o.record is not None:
            found.append((o.epoch, list(o.record.labels)))
    return found


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, desk: UnlockedDep, case_id: str) -> Response:
    entry = _entry(desk, case_id)
    return render(request, "case.html", error=None, **case_values(desk, entry))


@router.get("/cases/{case_id}/files/{index}")
def download(desk: UnlockedDep, case_id: str, index: int) -> Response:
    """An attachment as a download: never shown inline, whatever its type claims."""
    entry = _entry(desk, case_id)
    if entry.opened is None or not entry.opened.trustworthy:
        raise BadRequest("This case's record does not verify, so its files are not offered.")
    found = member.attachments_of(entry.opened.read)
    if not 0 <= index < len(found):
        raise NotFound("There is no such file in this case.")
    attachment = found[index]
    session, _keys = desk.require()
    chunks: Iterator[bytes] = decrypt_chunks(session.api, attachment)
    # safe_name drops control and bidi characters and any folder part.
    name = safe_name(attachment.name)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
            "Content-Security-Policy": DOWNLOAD_CSP,
        },
    )


def _act(
    request: Request, desk: Desk, case_id: str, step: Callable[[], object], done: str
) -> Response:
    """Run one workflow step for a case: on success back to the case page with a note saying
    what was done; on failure the case page with the sentence and a 4xx status."""
    if not CASE_ID.fullmatch(case_id):
        raise NotFound("There is no such case among the cases you can read.")
    try:
        step()
    except SafeVoiceError as exc:
        entry = desk.open(case_id)
        return render(
            request,
            "case.html",
            status=status_of(exc),
            error=exc.message,
            **case_values(desk, entry),
        )
    desk.refresh_actions()
    try:
        desk.open(case_id)
    except SafeVoiceError:
        # The step ended this member's access (a recusal): back to the inbox, saying so.
        desk.forget(case_id)
        desk.flash("", done)
        return RedirectResponse("/", status_code=303)
    desk.flash(case_id, done)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, keys = desk.require()
    uploads = []
    for upload in files(form, "files"):
        data = await upload.read()
        uploads.append(
            Upload(name=upload.filename or "attachment", stream=io.BytesIO(data), size=len(data))
        )
    message = text(form, "text")
    feedback = text(form, "feedback") == "yes"

    def step() -> object:
        if not message.strip():
            raise BadRequest("The message is empty; please write something.")
        return member.reply(session, case_id, keys, text=message, files=uploads, feedback=feedback)

    return await run_in_threadpool(
        _act, request, desk, case_id, step, "Your message was encrypted, signed and sent."
    )


def _status(
    request: Request,
    desk: Desk,
    case_id: str,
    status: str,
    message: str,
    done: str,
    closure: Closure | None = None,
    confirm: bool = False,
) -> Response:
    session, keys = desk.require()
    return _act(
        request,
        desk,
        case_id,
        lambda: member.change_status(
            session,
            case_id,
            keys,
            status=status,
            text=message or None,
            closure=closure,
            confirm_open_actions=confirm,
        ),
        done,
    )


@router.post("/cases/{case_id}/acknowledge")
def acknowledge(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    return _status(
        request,
        desk,
        case_id,
        "acknowledged",
        text(form, "text"),
        "The reporter will see your signed acknowledgement.",
    )


@router.post("/cases/{case_id}/status")
def change_status(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    status = text(form, "status")
    if status not in ("investigating", "action_planned"):
        raise BadRequest("Choose investigating or action planned.")
    return _status(request, desk, case_id, status, text(form, "text"), f"The case is now {status}.")


@router.post("/cases/{case_id}/close")
def close(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    """Close a case; with a publishable summary, also propose it for the digest (it is
    published only once a second member approves it)."""
    closure = Closure(
        outcome=text(form, "outcome"),
        actions_taken=text(form, "actions_taken"),
        lessons=text(form, "lessons"),
        protection=text(form, "protection"),
    )
    summary = text(form, "publishable_summary")
    if not summary.strip():
        return _status(
            request,
            desk,
            case_id,
            "closed",
            text(form, "text"),
            "The case is closed.",
            closure=closure,
            confirm=text(form, "confirm_open_actions") == "yes",
        )
    session, keys = desk.require()

    def step() -> object:
        # Checked before the case is closed, so that a refused summary leaves it as it was.
        checked = digest.checked_summary(
            summary,
            reviewed=text(form, "reviewed") == "yes",
            allow_dates=text(form, "allow_dates") == "yes",
        )
        member.change_status(
            session,
            case_id,
            keys,
            status="closed",
            text=text(form, "text") or None,
            closure=closure,
            confirm_open_actions=text(form, "confirm_open_actions") == "yes",
        )
        try:
            return digest.propose(session, keys, case_id, checked)
        except SafeVoiceError as exc:
            raise ClientError(
                f"The case is closed, but its summary was not proposed: {exc.message} "
                "Propose it again on the learning page."
            ) from exc

    return _act(
        request,
        desk,
        case_id,
        step,
        "The case is closed. Its summary waits on the learning page for a second member's "
        "approval.",
    )


@router.post("/cases/{case_id}/reopen")
def reopen(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    return _status(
        request, desk, case_id, "investigating", text(form, "text"), "The case is open again."
    )


@router.post("/cases/{case_id}/claim")
def claim(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, _keys = desk.require()
    offer_to = text(form, "offer_to") or None
    done = f"You offered the case to {offer_to}." if offer_to else "You now handle this case."
    return _act(
        request,
        desk,
        case_id,
        lambda: session.api.claim(case_id, offer_to=offer_to),
        done,
    )


@router.post("/cases/{case_id}/note")
def note(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, keys = desk.require()
    return _act(
        request,
        desk,
        case_id,
        lambda: member.add_note(session, case_id, keys, text=text(form, "text")),
        "Your note was added (only the committee can read it).",
    )


@router.post("/cases/{case_id}/redact")
def redact(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    """Remove personal data that is manifestly irrelevant from a report, message or note
    (COMPLIANCE.md D9): the text kept is sealed and signed here, the original deleted."""
    session, keys = desk.require()
    chain, seq = text(form, "chain"), text(form, "seq")

    def step() -> object:
        if chain not in ("thread", "committee") or not seq.isdigit():
            raise BadRequest("Choose the report, message or note to redact on the case page.")
        if text(form, "confirm") != "yes":
            raise BadRequest("Confirm that the original is deleted for good; nothing was removed.")
        answers = {
            name.removeprefix("answer:"): text(form, name)
            for name in form
            if name.startswith("answer:")
        }
        return member.redact(
            session,
            case_id,
            keys,
            chain=chain,
            seq=int(seq),
            text=text(form, "text"),
            answers=answers or None,
            remove_files=numbers(form, "remove_file"),
        )

    removed = len(form.getlist("remove_file"))
    where = "note" if chain == "committee" else "message"
    files_gone = f" and {removed} attached file(s) were" if removed else " was"
    return _act(
        request,
        desk,
        case_id,
        step,
        f"Part of {where} #{seq} was removed: every reader now sees the text you kept, marked "
        f"as redacted; the original{files_gone} deleted and the audit log records the removal.",
    )


@router.post("/cases/{case_id}/triage")
def triage(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, keys = desk.require()
    risk = text(form, "risk")
    return _act(
        request,
        desk,
        case_id,
        lambda: member.add_note(session, case_id, keys, text=text(form, "text"), triage_risk=risk),
        "The triage decision was recorded.",
    )


@router.post("/cases/{case_id}/actions")
def add_action(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, keys = desk.require()

    def step() -> object:
        try:
            due = date.fromisoformat(text(form, "due_on"))
        except ValueError as exc:
            raise BadRequest("Give the due day as a date, like 2027-03-31.") from exc
        return member.add_action(
            session,
            case_id,
            keys,
            owner=text(form, "owner"),
            due_on=due,
            description=text(form, "description"),
        )

    return _act(request, desk, case_id, step, "The corrective action was planned.")


@router.post("/cases/{case_id}/actions/{action_id}")
def update_action(
    request: Request, desk: UnlockedDep, case_id: str, action_id: str, form: FormDep
) -> Response:
    session, keys = desk.require()
    action = next((a for a in desk.actions if a.id == action_id and a.case_id == case_id), None)
    if action is None:
        raise NotFound("There is no such corrective action in this case.")
    reason = text(form, "reason")
    return _act(
        request,
        desk,
        case_id,
        lambda: member.update_action(
            session, action, keys, state=text(form, "state"), reason=reason or None
        ),
        "The corrective action was updated.",
    )


@router.post("/cases/{case_id}/recuse")
def recuse(request: Request, desk: UnlockedDep, case_id: str, form: FormDep) -> Response:
    session, _keys = desk.require()
    if text(form, "confirm") != "yes":
        raise BadRequest("Tick the box to confirm that you recuse from this case.")
    return _act(
        request,
        desk,
        case_id,
        lambda: session.api.recuse(case_id),
        "You recused. Another member must now re-key the case; you will read nothing new.",
    )


@router.post("/cases/{case_id}/rekey")
def rekey(request: Request, desk: UnlockedDep, case_id: str, _form: FormDep) -> Response:
    session, keys = desk.require()

    def step() -> object:
        manifest = session.manifest()
        signing = member.signing_keys(session, manifest, keys)
        opened = member.open_case(session, case_id, signing, manifest=manifest)
        try:
            return member.rekey_one(
                session, opened.detail, opened.read, manifest=manifest, keys=signing
            )
        finally:
            session.state.save()

    return _act(request, desk, case_id, step, "The case moved to a new key epoch.")


# -- metrics and session ----------------------------------------------------------------------


@router.get("/metrics", response_class=HTMLResponse)
def metrics(request: Request, desk: UnlockedDep) -> Response:
    session, keys = desk.require()
    stats = session.api.stats()
    trends = surveys.trends(session, keys, session.manifest())
    months = [
        charts.Bar(m.month, charts.bar_value(m.count), charts.count_text(m.count))
        for m in stats.received_per_month
    ]
    shares = charts.labelled_shares(stats)
    # The chart helpers escape every label and value themselves.
    return render(
        request,
        "metrics.html",
        stats=stats,
        shares=[(label, charts.percent_text(v)) for label, v in shares],
        days=charts.days_text,
        count=charts.count_text,
        month_chart=Markup(charts.column_chart("Reports received per month", months)),  # noqa: S704  # escaped by the chart helper
        outcomes=Markup(charts.shares_section(stats)),  # noqa: S704  # escaped by the chart helper
        times=Markup(charts.times_section(stats)),  # noqa: S704  # escaped by the chart helper
        willingness=Markup(charts.willingness_section(stats)),  # noqa: S704  # escaped by the chart helper
        survey_trends=Markup(charts.survey_section(trends)),  # noqa: S704  # escaped by the chart helper
    )


@router.get("/session", response_class=HTMLResponse)
def session_page(request: Request, desk: UnlockedDep) -> Response:
    session, keys = desk.require()
    login = desk.login
    return render(
        request,
        "session.html",
        keys=keys,
        fingerprint=format_fingerprint(keys.public.fingerprint),
        manifest=desk.manifest,
        pin=format_fingerprint(login.pin) if login is not None else "",
        server=session.url,
        token_expires=session.remembered.token_expires_at,
        checkpoint=login.audit.checkpoint if login is not None else None,
        audit_problem=_audit_problem(desk),
        idle_minutes=round(desk.idle_seconds / 60, 1),
    )


def _audit_problem(desk: Desk) -> str | None:
    login = desk.login
    return login.audit.problem if login is not None else None
