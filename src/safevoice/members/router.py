"""HTTP routes for member and auditor login."""

from __future__ import annotations

from fastapi import APIRouter, status

from safevoice.errors import Unauthorized
from safevoice.members import service
from safevoice.members.schemas import LoginIn
from safevoice.protocol.wire import TokenOut
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    DatabaseDep,
    NowDep,
    SessionDep,
    SettingsDep,
    SnapshotDep,
    TokenDep,
)

router = APIRouter(prefix="/api/v1", tags=["members"], route_class=DeclaredRoute)


@router.post("/login", responses=refusals(401), response_model=TokenOut)
def post_login(
    body: LoginIn,
    session: SessionDep,
    database: DatabaseDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenOut:
    """Exchange a signed member-login challenge for a short-lived bearer token."""
    try:
        token = service.login(
            session,
            snap,
            role=body.role,
            subject=body.id,
            challenge_token=body.challenge,
            signature=body.signature,
            now=now,
            ttl_seconds=settings.session_ttl_seconds,
        )
    except Unauthorized:
        with database.unit_of_work() as counter:
            service.note_failed_login(counter, today=snap.today(now))
        raise
    return TokenOut(token=token.token, expires_at=token.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def post_logout(session: SessionDep, token: TokenDep) -> None:
    service.logout(session, token)
