"""HTTP routes of the intake: what a reporter's client talks to before and while submitting."""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from starlette.concurrency import run_in_threadpool

from safevoice.crypto.envelope import MAX_PLAINTEXT
from safevoice.dialogue import service as dialogue
from safevoice.errors import NotFound, Unavailable
from safevoice.instance.flood import raise_flood_surge
from safevoice.instance.service import Snapshot, root_handovers
from safevoice.intake import service
from safevoice.protocol.wire import (
    ChallengeOut,
    ChallengeRequest,
    ChannelOut,
    IntakeOut,
    ManifestOut,
    ReadyOut,
    SubmissionIn,
    SubmissionOut,
)
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    DatabaseDep,
    NowDep,
    ReaderDep,
    SessionDep,
    SettingsDep,
    SnapshotDep,
    WriterDep,
)

router = APIRouter(prefix="/api/v1", tags=["intake"], route_class=DeclaredRoute)
log = logging.getLogger("safevoice.intake")

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=16,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A random value chosen by the client; a retry reuses it.",
    ),
]


def _manifest(snap: Snapshot) -> ManifestOut:
    if snap.signed_manifest is None:
        raise NotFound(
            "This instance has no published manifest yet; reports cannot be sent until the "
            "committee publishes one."
        )
    return ManifestOut.model_validate(snap.signed_manifest.to_json())


NOT_READY = (
    "This server cannot accept reports at the moment: it cannot store them. Nothing was "
    "stored; please try again later."
)


@router.get("/ready", response_model=ReadyOut)
def get_ready(database: DatabaseDep) -> ReadyOut:
    """Whether the server can accept reports now; 503 when its database cannot store them
    (the reason, which names files, goes to the server's log, not to the client)."""
    problem = database.problem()
    if problem is not None:
        log.warning("not ready: %s", problem)
        raise Unavailable(NOT_READY)
    return ReadyOut(ready=True)


@router.get("/manifest", responses=refusals(404), response_model=ManifestOut)
def get_manifest(snap: SnapshotDep) -> ManifestOut:
    """The committee-signed manifest; clients verify it against their pinned root."""
    return _manifest(snap)


@router.get("/manifest/handovers", response_model=list[ManifestOut])
def get_manifest_handovers(session: SessionDep) -> list[ManifestOut]:
    """Every manifest that handed the committee to a new root, oldest first, each cross-signed
    by the root it replaced: a client pinned to an older root walks them to the current one."""
    return [ManifestOut.model_validate(signed.to_json()) for signed in root_handovers(session)]


@router.get("/channels", response_model=list[ChannelOut])
def get_channels(session: SessionDep) -> list[ChannelOut]:
    return service.list_channels(session)


@router.get("/intake", responses=refusals(404), response_model=IntakeOut)
def get_intake(
    session: SessionDep, snap: SnapshotDep, settings: SettingsDep, now: NowDep
) -> IntakeOut:
    """Everything a reporter's client needs in one round trip: manifest, channels, challenge."""
    return IntakeOut(
        manifest=_manifest(snap),
        channels=service.list_channels(session),
        challenge=service.issue_challenge(
            snap, purpose="submit", now=now, ttl_seconds=settings.challenge_ttl_seconds
        ),
        limits={"max_plaintext_bytes": MAX_PLAINTEXT},
        archive=snap.manifest is not None and snap.manifest.archive is not None,
    )


@router.post("/challenges", response_model=ChallengeOut)
def post_challenge(
    body: ChallengeRequest,
    reader: ReaderDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
) -> ChallengeOut:
    """A fresh stateless challenge for a purpose (submit, reporter-login, member-login)."""
    penalty = dialogue.login_penalty(reader, now=now) if body.purpose == "reporter-login" else 0
    return service.issue_challenge(
        snap,
        purpose=body.purpose,
        now=now,
        ttl_seconds=settings.challenge_ttl_seconds,
        extra_difficulty=penalty,
    )


@router.post(
    "/cases",
    responses=refusals(404, 409),
    response_model=SubmissionOut,
    status_code=status.HTTP_201_CREATED,
)
async def post_case(
    request: Request,
    body: SubmissionIn,
    idempotency_key: IdempotencyKey,
    writer: WriterDep,
    database: DatabaseDep,
    snap: SnapshotDep,
    now: NowDep,
) -> SubmissionOut:
    """Submit a new encrypted case. The answer carries the receipt signed by the instance."""
    # One hop to a worker thread for the whole submission (proof of work, lookups, write).
    answer = await run_in_threadpool(
        partial(
            service.submit,
            writer,
            database,
            snap,
            body=body,
            idempotency_key=idempotency_key,
            now=now,
        )
    )
    meter = request.app.state.flood
    if meter.accepted():
        await run_in_threadpool(
            partial(raise_flood_surge, database, now, seconds=meter.surge_seconds)
        )
    return answer
