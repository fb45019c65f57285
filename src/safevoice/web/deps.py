"""Request dependencies: the transaction, the instance snapshot, the clock and the caller.

The request owns the transaction: ``SessionDep`` commits after the route returns and before
the response is sent (``scope="function"``), so a client never sees an answer for something
that was not committed (invariant 8). GET requests use the reader engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from safevoice.clock import utcnow
from safevoice.errors import Forbidden, Unauthorized
from safevoice.instance.service import Snapshot, snapshot
from safevoice.members.service import Principal, authenticate
from safevoice.settings import Settings
from safevoice.storage.db import Database


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    database = get_database(request)
    session = database.session(write=request.method not in ("GET", "HEAD"))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_snapshot(request: Request) -> Snapshot:
    with get_database(request).session(write=False) as session:
        return snapshot(session)


def get_now() -> datetime:
    return utcnow()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("This needs a session token; log in first.")
    return authorization.removeprefix("Bearer ").strip()


TokenDep = Annotated[str, Depends(bearer_token)]


def current_principal(session: SessionDep, token: TokenDep, now: NowDep) -> Principal:
    return authenticate(session, token, now=now)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def current_member(principal: PrincipalDep) -> Principal:
    if principal.role != "member":
        raise Forbidden("Only committee members may do this.")
    return principal


MemberDep = Annotated[Principal, Depends(current_member)]
