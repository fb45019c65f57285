"""A committee member's work on cases, shared by the CLI and the desk.

One implementation of every member step: logging in with the trust checks, opening a case
(unwrap, verify, decrypt, compare with the head seen before), and composing each workflow
record (reply, note, triage, action, status, closure, re-key) on this machine. The command line
and the desk only gather input and show results. Before anything is written a case is read and
must verify, so nobody builds on a history the server may have altered; only verified heads are
remembered, so evidence of tampering is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from safevoice.client.api import Api
from safevoice.client.audit import LoginCheck, check_at_login
from safevoice.client.files import Attachment, upload_stream
from safevoice.client.state import ServerState, State, default_home, normalise, page_size
from safevoice.client.trust import verify_for
from safevoice.clock import aware, utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import (
    ACTION_FORMAT,
    CLOSURE_FORMAT,
    NOTE_FORMAT,
    STATUS_FORMAT,
    TRIAGE_FORMAT,
    body_plaintext,
    message_plaintext,
)
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import GENESIS, Envelope
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.login import random_id, sign_login
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.redaction import REDACTABLE_KINDS
from safevoice.errors import (
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    NotFound,
    SafeVoiceError,
)
from safevoice.protocol import deadlines
from safevoice.protocol.listing import marks_digest
from safevoice.protocol.reader import (
    ReadCase,
    SignedState,
    compare_with_seen,
    heads_to_state,
    read_case,
)
from safevoice.protocol.wire import ActionOut, CaseDetail, CaseSummary, ReadableSet
from safevoice.protocol.workflow import next_object, redaction_body, rekey_body

STATUSES = ("acknowledged", "investigating", "action_planned", "closed")
OUTCOMES = ("substantiated", "not_substantiated", "out_of_scope", "no_action_needed")
RISKS = ("low", "medium", "high")
ACTION_STATES = ("planned", "in_progress", "done", "dropped")
DEFAULT_STATUS_TEXT = {
    "acknowledged": (
        "Thank you for your report. The ethics committee has received it and is looking into "
        "it. We will tell you what we are doing about it by {feedback_due} at the latest. You "
        "can read our messages and answer them here with your follow-up code."
    ),
    "investigating": "The committee is now investigating what you reported.",
    "action_planned": "The committee has decided on corrective actions and is following them up.",
    "closed": "The committee has finished its work on your report. Thank you for speaking up.",
}


class UntrustworthyCase(Conflict):
    """The case's record does not verify, so nothing may be written to it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "The case's record does not verify, so nothing was written: " + "; ".join(problems)
        )
        self.problems = problems


@dataclass
class LoginOutcome:
    keys: KeyPair
    manifest: Manifest
    pin: str
    audit: LoginCheck


def login(
    state: State,
    server: str,
    keys: KeyPair,
    *,
    pin: str | None,
    key_file: Path | None,
    repin: bool = False,
) -> LoginOutcome:
    """Log in with ``keys`` after verifying the manifest against the pin and the past.

    The same checks for the CLI and the desk: the manifest must verify against the given or
    remembered pin, the key must be the one the manifest lists, and the audit log must extend
    the checkpoint seen before (a problem is returned, for the caller to warn or refuse). The
    state is saved; the caller decides what a problem means for its role.
    """
    if keys.public.kind not in ("member", "auditor", "archive"):
        raise Forbidden("Only member, auditor and archive keys can log in.")
    remembered = state.server(server)
    with Api(server) as api:
        verified = verify_for(
            api.manifest().model_dump(),
            pin=pin,
            remembered=remembered,
            now=utcnow(),
            handovers=api.manifest_handovers,
            repin=repin,
        )
        manifest = verified.manifest
        if keys.public.kind == "member":
            enrolled = manifest.member(keys.public.id)
        elif keys.public.kind == "auditor":
            enrolled = manifest.auditor(keys.public.id)
        else:
            archive = manifest.archive
            enrolled = archive if archive is not None and archive.id == keys.public.id else None
        if enrolled is None or enrolled.sign_key != keys.public.sign_key:
            raise Forbidden(
                f"The key {keys.public.id} is not enrolled in this instance's manifest "
                f"(version {manifest.version})."
            )
        challenge = api.challenge("member-login")
        signature = sign_login(
            keys.sign_seed, manifest.instance_id, powmod.parse(challenge.challenge)
        )
        token = api.login(
            role=keys.public.kind,
            member_id=keys.public.id,
            challenge=challenge.challenge,
            signature=b64e(signature),
        )
        api.set_token(token.token)
        # The archive recipient reads cases back after a loss; it has no audit-log role.
        audit = (
            check_at_login(api, manifest, remembered.checkpoint)
            if keys.public.kind in ("member", "auditor")
            else LoginCheck(checkpoint=None)
        )
    remembered.token = token.token
    remembered.token_expires_at = token.expires_at.isoformat()
    remembered.role, remembered.subject = keys.public.kind, keys.public.id
    if key_file is not None:
        remembered.key_file = str(key_file.resolve())
    if audit.checkpoint is not None:
        remembered.checkpoint = audit.checkpoint.to_json()
    state.current = normalise(server)
    state.save()
    return LoginOutcome(keys=keys, manifest=manifest, pin=verified.pin, audit=audit)


@dataclass
class MemberSession:
    """A logged-in member or auditor: the local state, the server and an API client."""

    state: State
    url: str
    remembered: ServerState
    api: Api

    def manifest(self) -> Manifest:
        """The current manifest, verified against the pin and the newest version seen."""
        verified = verify_for(
            self.api.manifest().model_dump(),
            pin=None,
            remembered=self.remembered,
            now=utcnow(),
            handovers=self.api.manifest_handovers,
        )
        self.state.save()
        return verified.manifest

    @property
    def label(self) -> str:
        return f"{self.remembered.role}:{self.remembered.subject}"

    def listed_actions(self) -> list[ActionOut]:
        """The server's list of corrective actions of the readable cases.

        The archive recipient may only read cases back and re-key them: the server lists no
        actions to it, and it is shown none of their clear-text metadata, so there is nothing
        of the server's to compare with the signed action records.
        """
        if self.remembered.role == "archive":
            return []
        return self.api.actions()

    def check_owner(self, keys: KeyPair) -> None:
        if keys.public.id != self.remembered.subject:
            raise Forbidden("This key file belongs to someone else than the logged-in member.")

    def case_id(self, given: str) -> str:
        """The full id of the readable case whose id is ``given`` or starts with it (lists
        print ids cut short at 80 columns); a prefix must name exactly one case."""
        if len(given) == CASE_ID_LENGTH:
            return given
        return unique_match(given, (c.id for c in self.api.cases()), what="case")

    def remember_head(self, case_id: str, chain: str, seq: int, digest: str) -> None:
        heads = self.remembered.heads.setdefault(case_id, {})
        heads[chain] = [seq, digest]
        self.state.save()

    def seen_thread(self, case_id: str) -> int:
        """The last thread message this member has read (-1: none)."""
        return int(self.remembered.heads.get(case_id, {}).get("thread", [-1])[0])


def session_for(server: str | None, *, home: Path | None = None) -> MemberSession:
    """The logged-in session for ``server`` (default: the last one used), or a sentence why not."""
    state = State.load(home or default_home())
    url = normalise(server) if server else state.current
    if url is None:
        raise ClientError(
            "You are not logged in; run `safevoice login --server URL --key FILE` first."
        )
    remembered = state.server(url)
    if not remembered.token:
        raise ClientError(f"You are not logged in to {url}; run `safevoice login` first.")
    expires = remembered.token_expires_at
    if expires and aware(datetime.fromisoformat(expires)) <= utcnow():
        raise ClientError("Your session has expired; run `safevoice login` again.")
    api = Api(url, token=remembered.token, page_size=page_size())
    return MemberSession(state=state, url=url, remembered=remembered, api=api)


@dataclass
class Opened:
    """A case read and verified on this machine, with the member's own keys."""

    detail: CaseDetail
    read: ReadCase
    manifest: Manifest
    warnings: list[str]
    keys: KeyPair

    @property
    def trustworthy(self) -> bool:
        return not self.read.problems and not self.warnings

    @property
    def problems(self) -> list[str]:
        return self.read.problems + self.warnings


def read_detail(
    session: MemberSession,
    detail: CaseDetail,
    *,
    keys: KeyPair,
    manifest: Manifest,
    remember: bool = True,
) -> Opened:
    """Verify and decrypt a fetched case; remember its heads (what the member has read) only
    if it verified and ``remember`` is set. The caller saves the state."""
    case_id = detail.case.id
    read = read_case(detail, keys=keys, label=session.label, manifest=manifest)
    warnings = compare_with_seen(read, session.remembered.heads.get(case_id))
    if remember and not read.problems and not warnings:
        session.remembered.heads[case_id] = heads_to_state(read)
    return Opened(detail=detail, read=read, manifest=manifest, warnings=warnings, keys=keys)


@dataclass
class Checked:
    """One case a sync fetched, verified and decrypted (or tried to)."""

    id: str
    problems: list[str]
    messages: int


@dataclass
class Synced:
    """What a sync did: the cases it fetched and checked, those the server no longer lists,
    and how many are readable."""

    checked: list[Checked]
    gone: list[str]
    readable: int
    full: bool

    @property
    def failing(self) -> list[Checked]:
        """Cases that did not verify, and those gone from the list."""
        return [c for c in self.checked if c.problems] + [
            Checked(id=case_id, problems=[GONE], messages=0) for case_id in self.gone
        ]


GONE = (
    "The server no longer lists this case, which you verified before: it was purged under "
    "its retention policy, re-keyed without you (a recusal or a key change), or withheld by "
    "the server. The committee's audit log says which."
)
UNMARKED = (
    "The server showed this case with other contents than at your last sync under the same "
    "change marker: it changed without being marked as changed."
)
# Asking for the changes from the day before the last sync started leaves room for a change
# made just before midnight that committed after the sync had passed its case.
MARGIN = timedelta(days=1)


def _check(
    session: MemberSession, detail: CaseDetail, *, keys: KeyPair, manifest: Manifest
) -> Checked:
    """Verify and decrypt one fetched case. Its mark is kept whatever the outcome (a case that
    failed is fetched again through ``ServerState.failing``); its heads only if it verified."""
    case_id = detail.case.id
    session.remembered.marks[case_id] = [detail.case.version, len(detail.objects)]
    try:
        opened = read_detail(session, detail, keys=keys, manifest=manifest)
    except SafeVoiceError as exc:
        # One case that cannot be opened (a wrapped key that is not for this key, a malformed
        # object) is reported with the others, never stops the check.
        return Checked(id=case_id, problems=[exc.message], messages=0)
    return Checked(id=case_id, problems=opened.problems, messages=len(opened.read.objects))


def _mark(summary: CaseSummary) -> list[int]:
    return [summary.version, summary.objects]


def sync(
    session: MemberSession,
    keys: KeyPair,
    *,
    manifest: Manifest,
    full: bool = False,
    advance: Callable[[], None] = lambda: None,
) -> Synced:
    """Fetch, verify and decrypt what changed since the last sync (everything the first time,
    or with ``full``), remembering each verified case's heads and change marker.

    Only cases whose marker moved are fetched; each is still compared with the heads seen
    before, so a rewritten history is reported. The server's digest of every readable case's
    marker (``protocol.listing``) must then equal the one of the markers kept here: otherwise
    the whole list is read again, and a case the server no longer lists, or one that changed
    without its marker advancing, is reported. ``advance`` is called once per case checked.
    The caller saves the state.
    """
    remembered = session.remembered
    since = remembered.synced_since
    if full or since is None:
        checked, gone = _sync_everything(session, keys, manifest=manifest, advance=advance)
    else:
        checked, gone = _sync_changes(
            session, keys, manifest=manifest, since=date.fromisoformat(since), advance=advance
        )
    remembered.failing = sorted(c.id for c in checked if c.problems)
    return Synced(
        checked=checked,
        gone=gone,
        readable=len(remembered.marks),
        full=full or since is None,
    )


def _sync_changes(
    session: MemberSession,
    keys: KeyPair,
    *,
    manifest: Manifest,
    since: date,
    advance: Callable[[], None],
) -> tuple[list[Checked], list[str]]:
    remembered = session.remembered
    known = dict(remembered.marks)
    # The cases to fetch, each with the notes to report beside what verifying it finds.
    wanted: dict[str, list[str]] = {case_id: [] for case_id in remembered.failing}
    today: date | None = None
    readable: ReadableSet | None = None
    expected = dict(known)
    for page in session.api.case_pages(changed_since=since):
        today = today or page.today
        readable = readable or page.readable
        for summary in page.cases:
            _compare(summary, known, wanted)
            expected[summary.id] = _mark(summary)
    gone: set[str] = set()
    if readable is None or readable != ReadableSet(
        count=len(expected),
        digest=marks_digest((case_id, (m[0], m[1])) for case_id, m in expected.items()),
    ):
        # Something changed that the day's listing did not show: read the whole list.
        listed = {summary.id: summary for summary in session.api.cases()}
        gone = set(known) - set(listed)
        for summary in listed.values():
            _compare(summary, known, wanted)
    checked = []
    for case_id, notes in sorted(wanted.items()):
        try:
            detail = session.api.case(case_id)
        except NotFound:
            gone |= {case_id} & set(known)
            continue
        result = _check(session, detail, keys=keys, manifest=manifest)
        result.problems[:0] = notes
        checked.append(result)
        advance()
    for case_id in gone:
        remembered.marks.pop(case_id, None)
    if today is not None:
        remembered.synced_since = (today - MARGIN).isoformat()
    return checked, sorted(gone)


def _compare(
    summary: CaseSummary, known: dict[str, list[int]], wanted: dict[str, list[str]]
) -> None:
    """Note a listed case for fetching when its marker is not the one kept; a note of its own
    when only its contents moved, under the same version."""
    seen = known.get(summary.id)
    mark = _mark(summary)
    if seen == mark:
        return
    notes = wanted.setdefault(summary.id, [])
    if seen is not None and seen[0] == mark[0] and UNMARKED not in notes:
        notes.append(UNMARKED)


def _sync_everything(
    session: MemberSession, keys: KeyPair, *, manifest: Manifest, advance: Callable[[], None]
) -> tuple[list[Checked], list[str]]:
    remembered = session.remembered
    start = session.api.case_page(limit=1).today
    known = set(remembered.marks)
    remembered.marks = {}
    checked = []
    for detail in session.api.export_cases():
        checked.append(_check(session, detail, keys=keys, manifest=manifest))
        advance()
    remembered.synced_since = (start - MARGIN).isoformat()
    return checked, sorted(known - set(remembered.marks))


def open_case(
    session: MemberSession, case_id: str, keys: KeyPair, *, manifest: Manifest | None = None
) -> Opened:
    manifest = manifest or session.manifest()
    opened = read_detail(session, session.api.case(case_id), keys=keys, manifest=manifest)
    session.state.save()
    return opened


def open_for_writing(session: MemberSession, case_id: str, keys: KeyPair) -> Opened:
    opened = open_case(session, case_id, keys)
    if not opened.trustworthy:
        raise UntrustworthyCase(opened.problems)
    return opened


def redactable_text(read: ReadCase, *, chain: str, seq: int) -> str:
    """The text of a verified report, message or note, as a member starts editing it."""
    shown = next((o for o in read.objects if o.chain == chain and o.seq == seq), None)
    if shown is None or shown.kind not in REDACTABLE_KINDS:
        raise NotFound(f"The case has no report, message or note at {chain} #{seq}.")
    if shown.kind == "report" and read.report is not None:
        return read.report.text
    return shown.text or ""


def redact(
    session: MemberSession,
    case_id: str,
    keys: KeyPair,
    *,
    chain: str,
    seq: int,
    text: str,
    answers: dict[str, str] | None = None,
    remove_files: Sequence[int] = (),
) -> date:
    """Replace an object by a version whose text is ``text`` (and a report's answers
    ``answers``; COMPLIANCE.md D9) and which drops the files numbered ``remove_files`` as
    ``attachments_of`` lists them (from 1): encrypted and signed here, with the signed
    redaction record; returns the day it carries."""
    opened = open_for_writing(session, case_id, keys)
    today = opened.detail.case.today
    upload_ids = files_to_remove(opened.read, chain=chain, seq=seq, numbers=remove_files)
    body = redaction_body(
        opened.read,
        opened.detail,
        chain=chain,
        seq=seq,
        text=text,
        keys=keys,
        manifest=opened.manifest,
        on=today.isoformat(),
        answers=answers,
        remove_files=upload_ids,
    )
    session.api.redact(case_id, body)
    return today


def files_to_remove(read: ReadCase, *, chain: str, seq: int, numbers: Sequence[int]) -> list[str]:
    """The upload ids of the files numbered ``numbers`` (from 1, as ``cases files`` lists
    them), each of which must be attached to the object being redacted."""
    listed = attachments_of(read)
    chosen = []
    for number in numbers:
        if not 1 <= number <= len(listed):
            raise BadRequest(
                f"The case has no file {number}; `safevoice cases files` numbers them from 1 "
                f"to {len(listed)}."
            )
        attachment = listed[number - 1]
        if chain != "thread" or attachment.seq != seq:
            raise BadRequest(
                f"File {number} is attached to thread #{attachment.seq}, not to {chain} #{seq}; "
                "a redaction removes only the files of the object it redacts."
            )
        chosen.append(attachment.upload_id)
    if len(set(chosen)) != len(chosen):
        raise BadRequest("The same file is named twice to be removed.")
    return chosen


def attachments_of(read: ReadCase) -> list[Attachment]:
    """Files described inside verified objects of the thread (report and messages)."""
    found: list[Attachment] = []
    for o in read.thread():
        if not o.verified:
            continue
        described = (
            read.report.attachments
            if o.kind == "report" and read.report is not None
            else o.body.get("attachments", [])
        )
        found += [Attachment.from_descriptor(d, seq=o.seq) for d in described or []]
    return found


@dataclass(frozen=True)
class Upload:
    """A file to attach: its name and an open binary stream of its contents."""

    name: str
    stream: BinaryIO
    size: int


def reply(
    session: MemberSession,
    case_id: str,
    keys: KeyPair,
    *,
    text: str,
    files: list[Upload] | None = None,
    feedback: bool = False,
) -> int:
    """Write to the reporter: encrypted here, signed, appended to the thread; return its seq."""
    message_plaintext(text)  # refuses an empty message before anything is sent
    opened = open_for_writing(session, case_id, keys)
    descriptors = [
        upload_stream(
            session.api,
            f.stream,
            name=f.name,
            size=f.size,
            start=lambda: session.api.start_upload(case_id).id,
        )
        for f in files or []
    ]
    envelope = next_object(
        opened.read,
        opened.detail,
        kind="message",
        keys=keys,
        plaintext=message_plaintext(text, attachments=descriptors),
    )
    posted = session.api.post_case_object(
        case_id,
        envelope.to_json(),
        feedback=feedback,
        uploads=[d["upload_id"] for d in descriptors],
    )
    session.remember_head(case_id, "thread", posted.seq, posted.hash)
    return posted.seq


def add_note(
    session: MemberSession,
    case_id: str,
    keys: KeyPair,
    *,
    text: str,
    triage_risk: str | None = None,
) -> None:
    """An internal note, or with ``triage_risk`` the triage record (ISO 37002 8.3)."""
    if not text.strip():
        raise BadRequest("The note is empty; please write something.")
    if triage_risk is not None and triage_risk not in RISKS:
        raise BadRequest("A triage record needs a risk of low, medium or high.")
    triage = triage_risk is not None
    plaintext = (
        body_plaintext(TRIAGE_FORMAT, decision=text, risk_of_detriment=triage_risk)
        if triage
        else body_plaintext(NOTE_FORMAT, text=text)
    )
    opened = open_for_writing(session, case_id, keys)
    envelope = next_object(
        opened.read,
        opened.detail,
        kind="triage" if triage else "note",
        plaintext=plaintext,
        keys=keys,
    )
    posted = session.api.post_case_object(case_id, envelope.to_json())
    session.remember_head(case_id, "committee", posted.seq, posted.hash)


@dataclass(frozen=True)
class Closure:
    outcome: str
    actions_taken: str = ""
    lessons: str = ""
    protection: str = ""


def default_status_text(case: CaseSummary, status: str) -> str:
    """The standard sentence for a status change, promising the very feedback day the server
    will store (computed by the same function, on the instance's day)."""
    feedback_due = deadlines.feedback_due_after(
        status=status,
        received_on=case.received_on,
        current_due=case.feedback_due_on,
        today=case.today,
    )
    return DEFAULT_STATUS_TEXT[status].format(feedback_due=feedback_due.isoformat())


def status_plaintext(
    opened: Opened, *, status: str, outcome: str | None, on: str, text: str
) -> bytes:
    """A status object that also signs what the member's client verified: the day of receipt
    and intake mode (the first signed status fixes them; the reader refuses a later one that
    differs), the feedback deadline it promises, and the committee chain's head, so that
    deleting the committee's internal records is noticed by anyone who reads the thread
    afterwards (protocol 7.5)."""
    case = opened.detail.case
    signed = opened.read.signed or SignedState()
    seq, head = opened.read.heads.get("committee", (-1, GENESIS))
    received_on = signed.received_on or case.received_on.isoformat()
    promised = signed.feedback_due
    # The deadline the server will store (the same function computes both), from what is
    # signed where something is: the reader then flags any other day the server shows.
    try:
        feedback_due = deadlines.feedback_due_after(
            status=status,
            received_on=date.fromisoformat(received_on),
            current_due=date.fromisoformat(promised) if promised else case.feedback_due_on,
            today=case.today,
        )
    except ValueError as exc:
        raise Conflict(
            "A signed status of this case names a malformed day, so nothing was written."
        ) from exc
    return body_plaintext(
        STATUS_FORMAT,
        status=status,
        outcome=outcome,
        on=on,
        text=text,
        received_on=received_on,
        intake_mode=signed.intake_mode or case.intake_mode,
        feedback_due=feedback_due.isoformat(),
        committee_head=[seq, b64e(head)],
    )


def status_body(
    opened: Opened, *, status: str, text: str | None, closure: Closure | None
) -> dict[str, Any]:
    """The request that moves a case on: a signed status record the reporter sees and, when
    closing, the committee's closure record."""
    if status not in STATUSES:
        raise BadRequest(f"The status must be one of: {', '.join(STATUSES)}.")
    closing = status == "closed"
    if closing and (closure is None or closure.outcome not in OUTCOMES):
        raise BadRequest(f"Closing needs an outcome, one of: {', '.join(OUTCOMES)}.")
    if not closing and closure is not None:
        raise BadRequest("An outcome is only for closing a case.")
    # The instance's day, as the server counts it, so the reporter is promised the very
    # feedback day the server stores.
    today = opened.detail.case.today.isoformat()
    message = text if text and text.strip() else default_status_text(opened.detail.case, status)
    outcome = closure.outcome if closure is not None else None
    status_object = next_object(
        opened.read,
        opened.detail,
        kind="status",
        keys=opened.keys,
        plaintext=status_plaintext(opened, status=status, outcome=outcome, on=today, text=message),
    )
    body: dict[str, Any] = {"status": status, "envelope": status_object.to_json(), "on": today}
    if closure is not None:
        record = next_object(
            opened.read,
            opened.detail,
            kind="closure",
            keys=opened.keys,
            plaintext=body_plaintext(
                CLOSURE_FORMAT,
                outcome=closure.outcome,
                approver=opened.keys.public.id,
                on=today,
                actions_taken=closure.actions_taken.strip(),
                lessons=closure.lessons.strip(),
                protection=closure.protection.strip(),
            ),
        )
        body.update(outcome=closure.outcome, closure=record.to_json())
    return body


def change_status(
    session: MemberSession,
    case_id: str,
    keys: KeyPair,
    *,
    status: str,
    text: str | None = None,
    closure: Closure | None = None,
    confirm_open_actions: bool = False,
    confirm: Callable[[], bool] = lambda: False,
) -> None:
    """Move a case on; the reporter receives the change signed by this member.

    Closing a case with open corrective actions asks ``confirm`` first (unless already
    confirmed); a refusal leaves the case as it was.
    """
    opened = open_for_writing(session, case_id, keys)
    body = status_body(opened, status=status, text=text, closure=closure)
    if closure is not None:
        body["confirm_open_actions"] = confirm_open_actions
    try:
        posted = session.api.change_status(case_id, body)
    except Conflict as exc:
        if closure is None or "open corrective actions" not in exc.message:
            raise
        if confirm_open_actions or not confirm():
            raise
        body["confirm_open_actions"] = True
        posted = session.api.change_status(case_id, body)
    for item in posted:
        session.remember_head(case_id, item.chain, item.seq, item.hash)
    # The status this member just signed is the one the listing may show as verified.
    session.remembered.heads[case_id]["status"] = [status, closure.outcome if closure else ""]
    session.state.save()


def _action_object(session: MemberSession, case_id: str, keys: KeyPair, **fields: Any) -> Envelope:
    """The case's next committee object about a corrective action, encrypted and signed."""
    opened = open_for_writing(session, case_id, keys)
    return next_object(
        opened.read,
        opened.detail,
        kind="action",
        keys=keys,
        plaintext=body_plaintext(ACTION_FORMAT, **fields),
    )


def add_action(
    session: MemberSession,
    case_id: str,
    keys: KeyPair,
    *,
    owner: str,
    due_on: date,
    description: str,
) -> ActionOut:
    """Plan a corrective action: owner and due day in the clear, the description encrypted."""
    if not description.strip():
        raise BadRequest("The description is empty; say what is to be done.")
    if not owner.strip():
        raise BadRequest("A corrective action needs an owner.")
    action_id = random_id()
    envelope = _action_object(
        session,
        case_id,
        keys,
        action_id=action_id,
        owner=owner,
        due_on=due_on.isoformat(),
        description=description,
    )
    action = session.api.add_action(
        case_id,
        {
            "id": action_id,
            "owner": owner,
            "due_on": due_on.isoformat(),
            "envelope": envelope.to_json(),
        },
    )
    session.remember_head(case_id, "committee", envelope.seq, b64e(envelope.transcript_hash()))
    return action


def update_action(
    session: MemberSession,
    action: ActionOut,
    keys: KeyPair | None,
    *,
    state: str,
    reason: str | None = None,
) -> ActionOut:
    """Move a corrective action on; a reason (required to drop one) is encrypted and signed."""
    if state not in ACTION_STATES[1:]:
        raise BadRequest("The state must be in_progress, done or dropped.")
    if state == "dropped" and not (reason and reason.strip()):
        raise BadRequest("Dropping an action needs a reason.")
    body: dict[str, object] = {"state": state}
    envelope = None
    if reason is not None and reason.strip():
        if keys is None:
            raise BadRequest("A reason is encrypted with your key; give your key file.")
        envelope = _action_object(
            session, action.case_id, keys, action_id=action.id, state=state, reason=reason
        )
        body["envelope"] = envelope.to_json()
    updated = session.api.update_action(action.id, body)
    if envelope is not None:
        session.remember_head(
            action.case_id, "committee", envelope.seq, b64e(envelope.transcript_hash())
        )
    return updated


def find_action(session: MemberSession, action_id: str) -> ActionOut:
    """The action whose id is ``action_id`` or starts with it, among the readable cases'."""
    actions = session.api.actions()
    try:
        full = unique_match(action_id, (a.id for a in actions), what="action")
    except NotFound:
        raise BadRequest("There is no such action among the cases you can read.") from None
    return next(a for a in actions if a.id == full)


CASE_ID_LENGTH = 22


def unique_match(given: str, ids: Iterable[str], *, what: str) -> str:
    """The one id equal to ``given`` or starting with it; a sentence when none or several."""
    if not given:
        raise BadRequest(f"Give the {what} id (or the first characters of it).")
    candidates = set(ids)
    if given in candidates:
        return given
    matches = sorted(i for i in candidates if i.startswith(given))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"No {what} you can read has an id starting with {given}.")
    shown = ", ".join(matches[:4]) + (", …" if len(matches) > 4 else "")
    raise BadRequest(
        f"{len(matches)} {what}s have an id starting with {given} ({shown}); give more characters."
    )


def rekey_one(
    session: MemberSession,
    detail: CaseDetail,
    read: ReadCase,
    *,
    manifest: Manifest,
    keys: KeyPair,
) -> int:
    """Move a verified case to the next epoch, signed with ``keys``; return how many members
    hold the new keys. The caller saves the state."""
    warnings = compare_with_seen(read, session.remembered.heads.get(detail.case.id))
    if read.problems or warnings:
        raise Conflict(
            "The case's record does not verify, so it was not re-keyed: "
            + "; ".join(read.problems + warnings)
        )
    body, recipients = rekey_body(read, detail, keys=keys, manifest=manifest)
    posted = session.api.rekey(detail.case.id, body)
    heads = heads_to_state(read)
    heads["thread"] = [posted.seq, posted.hash]
    session.remembered.heads[detail.case.id] = heads
    return sum(1 for label in recipients if label.startswith("member:"))


def signing_keys(session: MemberSession, manifest: Manifest, keys: KeyPair) -> KeyPair:
    """The logged-in recipient's own key, which must be the one the manifest lists now."""
    session.check_owner(keys)
    listed = manifest.current_keys().get(session.label)
    if listed is None or listed.sign_key != keys.public.sign_key:
        raise Forbidden(
            "Your key file is not the key the manifest lists for you now. If the committee "
            "rotated your key, log in with the new key and give the old one with --old-key."
        )
    return keys
