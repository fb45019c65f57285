"""Login by Ed25519 challenge-response, and the sessions it opens.

A member, an auditor or the archive recipient signs a fresh challenge with the key the manifest
lists for them; the server answers an unknown id and a wrong signature with the same refusal.
Tokens are random, stored only as a digest with a coarse expiry, and expire after a short time.
A reporter's session row names no case: the case id travels inside the reporter's token (which
the server stores only as a digest), so no row joins a case to the time of day its reporter
logged in.
Every login is an audit entry; failed logins are counted per day and only a burst (the day's
count reaching 10, 100, 1,000, …) becomes an audit entry, carrying the day and the threshold —
nothing about who tried, from where, or when in the day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.clock import aware, round_up
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64d
from safevoice.crypto.login import new_token, token_digest, verify_login
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, ChallengeRejected, Unauthorized, VerificationFailed
from safevoice.instance.challenges import spend_challenge
from safevoice.instance.models import ServerState
from safevoice.instance.service import Snapshot
from safevoice.members.models import LoginSession

ROLES = ("member", "auditor", "archive")
REPORTER = "reporter"
REPORTER_TOKEN_SEPARATOR = "."  # noqa: S105 - a separator inside tokens, not a secret
FAILED_LOGINS = "failed_logins"
BURSTS = (10, 100, 1_000, 10_000, 100_000)
SESSION_ENDED = "Your session has expired or is not valid; log in again."
LOGIN_FAILED = (
    "Login failed: the key is not enrolled in the current manifest, or the signature is wrong."
)


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str

    @property
    def label(self) -> str:
        return f"{self.role}:{self.subject}"


def reporter_token(case_id: str) -> str:
    """A reporter's session token: the case id, a dot, then 256 random bits.

    The digest stored for the session covers the whole token, so the case id in it cannot be
    changed without the session ending, and the session row needs no case id of its own.
    """
    return f"{case_id}{REPORTER_TOKEN_SEPARATOR}{new_token()}"


@dataclass(frozen=True)
class Token:
    token: str
    expires_at: datetime


def login(
    session: Session,
    snap: Snapshot,
    *,
    role: str,
    subject: str,
    challenge_token: str,
    signature: str,
    now: datetime,
    ttl_seconds: int,
) -> Token:
    manifest = snap.require_manifest()
    challenge = powmod.authenticate(
        snap.challenge_key, challenge_token, purpose="member-login", now=int(now.timestamp())
    )
    if role == "member":
        key = manifest.member(subject)
    elif role == "auditor":
        key = manifest.auditor(subject)
    else:
        # The archive recipient's key exists only as k-of-n shares; logging in with it means a
        # quorum rebuilt it, and the audit log shows it.
        key = manifest.archive if manifest.archive and manifest.archive.id == subject else None
    try:
        sig = b64d(signature, size=64, what="signature")
        if key is None:
            raise VerificationFailed(LOGIN_FAILED)
        verify_login(key.sign_key, sig, manifest.instance_id, challenge)
    except (BadEncoding, VerificationFailed):
        raise Unauthorized(LOGIN_FAILED) from None
    try:
        spend_challenge(session, challenge)
    except ChallengeRejected:
        raise ChallengeRejected(
            "This login challenge was already used; ask for a new one."
        ) from None
    token = new_token()
    expires_at = now + timedelta(seconds=ttl_seconds)
    session.add(
        LoginSession(
            token_digest=token_digest(token),
            role=role,
            subject=subject,
            expires_at=round_up(expires_at),
        )
    )
    audit.record(
        session, event="login", case_id=None, actor=f"{role}:{subject}", on=snap.today(now)
    )
    return Token(token=token, expires_at=expires_at)


def authenticate(
    session: Session, token: str, *, now: datetime, manifest: Manifest | None = None
) -> Principal:
    """The principal behind a token; a member, auditor or archive session ends as soon as the
    current manifest no longer lists its id (publishing also deletes such sessions, but a login
    racing the publication could otherwise keep one)."""
    row = session.get(LoginSession, token_digest(token))
    if row is None or aware(row.expires_at) <= now:
        raise Unauthorized(SESSION_ENDED)
    subject = row.subject
    if row.role == REPORTER:
        subject, separator, _ = token.partition(REPORTER_TOKEN_SEPARATOR)
        if not separator or not subject:
            raise Unauthorized(SESSION_ENDED)
    principal = Principal(role=row.role, subject=subject)
    if (
        manifest is not None
        and principal.role in ROLES
        and principal.label not in manifest.current_keys()
    ):
        raise Unauthorized(SESSION_ENDED)
    return principal


def logout(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.token_digest == token_digest(token)))


def end_sessions_of(session: Session, labels: Iterable[str]) -> None:
    """End every session opened with one of these keys (``role:subject`` labels): a removed,
    lost or stolen key must not keep a session open."""
    for label in labels:
        role, _, subject = label.partition(":")
        session.execute(
            delete(LoginSession).where(LoginSession.role == role, LoginSession.subject == subject)
        )


def note_failed_login(session: Session, *, today: date) -> None:
    """Count a failed member, auditor or archive login; record a burst when a threshold is hit.

    Runs in a transaction of its own (the refused login's own transaction rolls back).
    """
    row = session.get(ServerState, FAILED_LOGINS, with_for_update=True)
    count = 0
    if row is not None:
        data = json.loads(row.value)
        count = int(data["count"]) if data.get("on") == today.isoformat() else 0
    count += 1
    value = json.dumps({"on": today.isoformat(), "count": count}).encode()
    if row is None:
        session.add(ServerState(name=FAILED_LOGINS, value=value))
    else:
        row.value = value
    if count in BURSTS:
        audit.record(
            session,
            event="login.failures",
            case_id=None,
            actor="server",
            on=today,
            detail={"at_least": count},
        )
