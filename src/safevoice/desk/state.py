"""The desk's unlocked state: the member's private key and the decrypted cases, in memory only.

Unlocking opens the key file with the passphrase typed into the desk page and logs in with the
same checks and the same local state as ``safevoice login`` (``client.member.login``); the
private key and everything decrypted live only in this process's memory and are dropped on
Lock, after the idle time and when the process ends. Nothing decrypted is ever written to disk:
the only file the desk writes is the shared ``state.json`` (pin, token, verified heads), as the
CLI does. (Python cannot overwrite the memory an immutable ``bytes`` object held; dropping every
reference releases it, which is the most a Python process can do. SECURITY.md says so.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from safevoice.client import member
from safevoice.client.member import LoginOutcome, MemberSession, Opened
from safevoice.client.state import State
from safevoice.clock import utcnow
from safevoice.crypto.keys import KeyPair, open_keyfile
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadRequest, SafeVoiceError, Unauthorized
from safevoice.protocol.reader import action_problems
from safevoice.protocol.wire import ActionOut, CaseDetail, CaseSummary

DEFAULT_IDLE_SECONDS = 15 * 60


@dataclass
class CaseEntry:
    """One case as the desk holds it: the server's metadata and what this machine decrypted."""

    summary: CaseSummary
    opened: Opened | None = None
    problem: str | None = None
    haystack: str = ""
    risk: str | None = None

    @property
    def id(self) -> str:
        return self.summary.id


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def entry_for(detail: CaseDetail, opened: Opened | None, problem: str | None) -> CaseEntry:
    """What the case table and search need, computed once when a case is decrypted."""
    entry = CaseEntry(summary=detail.case, opened=opened, problem=problem)
    if opened is None:
        return entry
    words: list[str] = []
    for o in opened.read.objects:
        if o.verified:
            words.extend(_texts(o.body))
            if o.kind == "triage" and isinstance(o.body.get("risk_of_detriment"), str):
                entry.risk = o.body["risk_of_detriment"]
    entry.haystack = "\n".join(words).casefold()
    return entry


@dataclass
class Desk:
    """One member's desk: locked (nothing secret held) or unlocked (key and cases in memory)."""

    home: Path
    server: str | None
    key_file: Path | None
    pin: str | None
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    clock: Callable[[], float] = time.monotonic
    keys: KeyPair | None = None
    session: MemberSession | None = None
    login: LoginOutcome | None = None
    manifest: Manifest | None = None
    cases: dict[str, CaseEntry] = field(default_factory=dict)
    actions: list[ActionOut] = field(default_factory=list)
    last_seen: float = 0.0
    notice: str | None = None
    questions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each channel's questions (id → label), to show the report's answers beside them."""
    flashes: dict[str, str] = field(default_factory=dict)
    guard: threading.RLock = field(default_factory=threading.RLock)

    # -- locking ----------------------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return self.keys is not None

    def touch(self) -> bool:
        """Note activity; lock first if the idle time has passed. True while unlocked."""
        with self.guard:
            if self.keys is None:
                return False
            if self.clock() - self.last_seen > self.idle_seconds:
                self.lock(notice="The desk locked itself after you were away; unlock it again.")
                return False
            self.last_seen = self.clock()
            return True

    def lock_if_idle(self) -> None:
        with self.guard:
            if self.keys is not None and self.clock() - self.last_seen > self.idle_seconds:
                self.lock(notice="The desk locked itself after you were away; unlock it again.")

    def lock(self, *, notice: str | None = None) -> None:
        """Drop the private key, the session and every decrypted case."""
        with self.guard:
            self.keys = None
            self.login = None
            self.manifest = None
            self.cases = {}
            self.actions = []
            self.flashes = {}
            if self.session is not None:
                self.session.api.close()
            self.session = None
            self.notice = notice

    # -- unlocking --------------------------------------------------------------------------

    def configured_server(self) -> str | None:
        return self.server or State.load(self.home).current

    def configured_key_file(self) -> str | None:
        if self.key_file is not None:
            return str(self.key_file)
        server = self.configured_server()
        if server is None:
            return None
        return State.load(self.home).server(server).key_file

    def needs_pin(self, server: str) -> bool:
        return self.pin is None and State.load(self.home).server(server).pin is None

    def unlock(self, *, server: str, key_file: str, passphrase: str, pin: str | None) -> None:
        """Open the key, log in with the CLI's checks, and decrypt every case into memory."""
        if not server.strip():
            raise BadRequest("Give the address of your SafeVoice server.")
        path = Path(key_file).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BadRequest(f"There is no key file {path}.") from exc
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BadRequest(f"{path} is not a SafeVoice key file.") from exc
        try:
            keys = open_keyfile(data, passphrase)
        except SafeVoiceError as exc:
            raise Unauthorized(
                "The passphrase does not open this key file (or the file is damaged)."
            ) from exc
        if keys.public.kind != "member" and keys.public.kind != "archive":
            raise BadRequest("The desk is for committee members; this is not a member's key.")
        state = State.load(self.home)
        outcome = member.login(
            state, server.strip(), keys, pin=pin or self.pin or None, key_file=path
        )
        session = member.session_for(server.strip(), home=self.home)
        with self.guard:
            self.lock()
            self.keys, self.login, self.session = keys, outcome, session
            self.last_seen = self.clock()
            self.sync()

    def require(self) -> tuple[MemberSession, KeyPair]:
        with self.guard:
            if self.session is None or self.keys is None:
                raise Unauthorized("The desk is locked; unlock it first.")
            return self.session, self.keys

    # -- cases ------------------------------------------------------------------------------

    def sync(self) -> None:
        """Fetch, verify and decrypt every readable case into memory.

        Heads are not remembered here: a case counts as read only once the member opened it.
        """
        session, keys = self.require()
        manifest = session.manifest()
        cases: dict[str, CaseEntry] = {}
        for detail in session.api.export_cases():
            try:
                opened = member.read_detail(
                    session, detail, keys=keys, manifest=manifest, remember=False
                )
                cases[detail.case.id] = entry_for(detail, opened, None)
            except SafeVoiceError as exc:
                cases[detail.case.id] = entry_for(detail, None, exc.message)
        actions = session.listed_actions()
        questions = {
            channel.name: {q.id: q.label for q in channel.questionnaire}
            for channel in session.api.intake().channels
        }
        with self.guard:
            self.manifest, self.cases, self.actions = manifest, cases, actions
            self.questions = questions

    def flash(self, case_id: str, message: str) -> None:
        with self.guard:
            self.flashes[case_id] = message

    def forget(self, case_id: str) -> None:
        """Drop a case this member can no longer read."""
        with self.guard:
            self.cases.pop(case_id, None)
            self.actions = [a for a in self.actions if a.case_id != case_id]

    def take_flash(self, case_id: str) -> str | None:
        with self.guard:
            return self.flashes.pop(case_id, None)

    def open(self, case_id: str) -> CaseEntry:
        """Fetch the case again, verify it and mark it read (its verified head is remembered)."""
        session, keys = self.require()
        manifest = self.manifest or session.manifest()
        detail = session.api.case(case_id)
        # The action list of every readable case is fetched at sync and after each workflow
        # step, not per page: with thousands of cases it costs more than the case itself.
        with self.guard:
            actions = list(self.actions)
        try:
            opened = member.read_detail(session, detail, keys=keys, manifest=manifest)
            session.state.save()
            # Owners, due days and states of corrective actions are metadata in the clear;
            # the signed action records say what they must be.
            opened.warnings.extend(
                action_problems(opened.read, [a for a in actions if a.case_id == case_id])
            )
            entry = entry_for(detail, opened, None)
        except SafeVoiceError as exc:
            entry = entry_for(detail, None, exc.message)
        with self.guard:
            if self.keys is not None:
                self.cases[case_id] = entry
        return entry

    def refresh_actions(self) -> None:
        session, _keys = self.require()
        actions = session.listed_actions()
        with self.guard:
            self.actions = actions

    def unread(self, entry: CaseEntry) -> bool:
        if self.session is None:
            return False
        # The report itself (seq 0) makes a case "new", not "unread"; an answer after it is
        # unread until the member opens the case.
        return entry.summary.last_reporter_seq > max(0, self.session.seen_thread(entry.id))

    @property
    def subject(self) -> str | None:
        return self.keys.public.id if self.keys is not None else None


def today() -> date:
    return utcnow().date()
