"""Request dependencies: the transaction, the instance snapshot, the clock and the caller.

The request owns the transaction: ``SessionDep`` commits after the route returns and before
the response is sent (``scope="function"``), so a client never sees an answer for something
that was not committed (invariant 8). GET requests use the reader engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from safevoice.clock import utcnow
from safevoice.errors import Forbidden, Unauthorized
from safevoice.instance.service import Snapshot, snapshot
from safevoice.members.service import Principal, authenticate
from safevoice.settings import Settings
from safevoice.storage.batch import RowWriter
from safevoice.storage.blobs import BlobStore
from safevoice.storage.db import Database


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    database: Database = request.app.state.database
    with database.unit_of_work(write=request.method not in ("GET", "HEAD")) as session:
        yield session


class SnapshotCache:
    """The instance snapshot, re-read from the database at most once per ``ttl`` seconds.

    Every worker converges on a change (a new manifest, a new difficulty) within ``ttl``; the
    database stays the only source of truth.
    """

    def __init__(self, database: Database, ttl: float) -> None:
        self._database = database
        self._ttl = ttl
        self._value: Snapshot | None = None
        self._loaded_at = 0.0

    def _load(self) -> Snapshot:
        with self._database.session(write=False) as session:
            return snapshot(session)

    async def get(self) -> Snapshot:
        now = time.monotonic()
        if self._value is None or now - self._loaded_at >= self._ttl:
            self._value = await run_in_threadpool(self._load)
            self._loaded_at = now
        return self._value


def get_reader(request: Request) -> Iterator[Session]:
    """A read-only session on the reader engine: never waits for writers, never writes."""
    database: Database = request.app.state.database
    session = database.session(write=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


async def get_snapshot(request: Request) -> Snapshot:
    cache: SnapshotCache = request.app.state.snapshots
    return await cache.get()


async def get_now() -> datetime:
    return utcnow()


def get_writer_session(request: Request) -> Iterator[Session]:
    """A writing transaction even for a GET: reads that leave an audit entry (a member
    fetching a case) or issue a checkpoint."""
    database: Database = request.app.state.database
    with database.unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriterSessionDep = Annotated[Session, Depends(get_writer_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
ReaderDep = Annotated[Session, Depends(get_reader, scope="function")]
SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


async def get_writer(request: Request) -> RowWriter:
    writer: RowWriter = request.app.state.writer
    return writer


WriterDep = Annotated[RowWriter, Depends(get_writer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("This needs a session token; log in first.")
    return token.strip()


TokenDep = Annotated[str, Depends(bearer_token)]


def current_principal(
    session: SessionDep, token: TokenDep, now: NowDep, snap: SnapshotDep
) -> Principal:
    return authenticate(session, token, now=now, manifest=snap.manifest)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def optional_principal(
    session: SessionDep,
    now: NowDep,
    snap: SnapshotDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal | None:
    if not authorization:
        return None
    return authenticate(session, bearer_token(authorization), now=now, manifest=snap.manifest)


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


async def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


BlobsDep = Annotated[BlobStore, Depends(get_blobs)]


def current_member(principal: PrincipalDep) -> Principal:
    if principal.role != "member":
        raise Forbidden("Only committee members may do this.")
    return principal


MemberDep = Annotated[Principal, Depends(current_member)]


def current_recipient(principal: PrincipalDep) -> Principal:
    """A member, or the archive recipient (which may only read its cases and re-key them)."""
    if principal.role not in ("member", "archive"):
        raise Forbidden("Only committee members may do this.")
    return principal


RecipientDep = Annotated[Principal, Depends(current_recipient)]


def current_member_or_auditor(principal: PrincipalDep) -> Principal:
    if principal.role not in ("member", "auditor"):
        raise Forbidden("Only committee members and auditors may do this.")
    return principal


MemberOrAuditorDep = Annotated[Principal, Depends(current_member_or_auditor)]


def current_reporter(principal: PrincipalDep) -> Principal:
    if principal.role != "reporter":
        raise Forbidden("This is for the reporter of a case, logged in with the follow-up code.")
    return principal


ReporterDep = Annotated[Principal, Depends(current_reporter)]


def current_auditor(principal: PrincipalDep) -> Principal:
    if principal.role != "auditor":
        raise Forbidden("Only auditors may do this.")
    return principal


AuditorDep = Annotated[Principal, Depends(current_auditor)]


async def refuse_auditor(
    request: Request,
    now: NowDep,
    snap: SnapshotDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Routes reached by an unguessable id rather than a session (an upload in progress) still
    refuse an auditor's token: auditors get no route to ciphertext at all (invariant 6).

    Without an Authorization header (the reporter's browser uploading) this costs nothing;
    with one, the token is looked up on the reader engine, so it never holds the writer that
    storing a chunk needs.
    """
    if not authorization:
        return
    database: Database = request.app.state.database
    token = bearer_token(authorization)

    def lookup() -> Principal | None:
        with database.session(write=False) as session:
            try:
                return authenticate(session, token, now=now, manifest=snap.manifest)
            except Unauthorized:
                return None  # such routes never needed a session; an old token changes nothing

    principal = await run_in_threadpool(lookup)
    if principal is not None and principal.role == "auditor":
        raise Forbidden("Auditors have no access to reports, messages or files.")


NotAuditorDep = Annotated[None, Depends(refuse_auditor)]
