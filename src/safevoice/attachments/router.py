"""HTTP routes of uploads: start, send chunks (raw bytes), finish, and read them back."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Path, Request, Response, status
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from safevoice.attachments import service
from safevoice.attachments.schemas import FinishIn, UploadCreateIn
from safevoice.crypto.stream import CHUNK_CIPHERTEXT
from safevoice.errors import BadRequest
from safevoice.instance.flood import raise_flood_surge
from safevoice.protocol.numbers import DECIMAL
from safevoice.protocol.wire import ID_PATTERN, UploadOut
from safevoice.web.answers import DeclaredRoute, refusals
from safevoice.web.deps import (
    BlobsDep,
    DatabaseDep,
    NotAuditorDep,
    NowDep,
    OptionalPrincipalDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    SnapshotDep,
)

router = APIRouter(prefix="/api/v1", tags=["attachments"], route_class=DeclaredRoute)

UploadId = Annotated[str, Path(min_length=22, max_length=22, pattern=ID_PATTERN)]
Index = Annotated[int, Field(ge=0, le=999_999), DECIMAL, Path()]
# Pieces of a chunk's body smaller than this are gathered into one buffer, so a body trickled
# in tiny pieces holds no more memory than one that came in large ones.
SMALL_PIECE = 16 * 1024


async def _chunk_body(request: Request) -> list[bytes | bytearray]:
    """The request body as the pieces it arrived in, never read past one chunk's size.

    The pieces go to the blob store as they are: joining them would copy every chunk once
    more for nothing.
    """
    pieces: list[bytes | bytearray] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > CHUNK_CIPHERTEXT:
            raise BadRequest(service.WRONG_SIZE)
        last = pieces[-1] if pieces else None
        if len(piece) >= SMALL_PIECE:
            pieces.append(piece)
        elif isinstance(last, bytearray) and len(last) < SMALL_PIECE:
            last += piece
        elif piece:
            pieces.append(bytearray(piece))
    return pieces


@router.post(
    "/uploads",
    responses=refusals(403, 404, 409, 429),
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
)
def post_upload(
    request: Request,
    background: BackgroundTasks,
    database: DatabaseDep,
    body: UploadCreateIn,
    principal: OptionalPrincipalDep,
    session: SessionDep,
    snap: SnapshotDep,
    settings: SettingsDep,
    now: NowDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=16,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="A random value chosen by the client; resending the start reuses it.",
        ),
    ] = None,
) -> UploadOut:
    """Start an upload of one encrypted file for a case."""
    answer = service.create_upload(
        session,
        snap,
        body=body,
        principal=principal,
        now=now,
        max_file_bytes=settings.max_file_bytes,
        max_open_uploads=settings.max_open_uploads,
        idempotency_key=idempotency_key,
    )
    # Started with a proof of work, for a report not yet sent: counted towards a flood. A raise
    # of the surge is written after the response, once this request's transaction committed.
    meter = request.app.state.flood
    if principal is None and meter.accepted():
        background.add_task(raise_flood_surge, database, now, seconds=meter.surge_seconds)
    return answer


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def get_upload(
    upload_id: UploadId,
    _not_auditor: NotAuditorDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> UploadOut:
    """How many chunks the server holds: where to resume after a dropped connection."""
    return service.status(
        session, upload_id=upload_id, now=now, max_file_bytes=settings.max_file_bytes
    )


@router.put(
    "/uploads/{upload_id}/chunks/{index}",
    responses=refusals(400, 409, 429),
    response_model=UploadOut,
)
async def put_chunk(
    upload_id: UploadId,
    index: Index,
    request: Request,
    _not_auditor: NotAuditorDep,
    database: DatabaseDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    now: NowDep,
) -> UploadOut:
    """Store the next encrypted chunk (the raw request body)."""
    data = await _chunk_body(request)
    return await run_in_threadpool(
        partial(
            service.put_chunk,
            database,
            blobs,
            upload_id=upload_id,
            index=index,
            data=data,
            now=now,
            max_file_bytes=settings.max_file_bytes,
            max_case_bytes=settings.max_case_bytes,
            max_pending_bytes=settings.max_pending_upload_bytes,
        )
    )


@router.post("/uploads/{upload_id}/finish", responses=refusals(409), response_model=UploadOut)
def post_finish(
    upload_id: UploadId,
    body: FinishIn,
    _not_auditor: NotAuditorDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> UploadOut:
    """Declare the upload complete with its number of chunks."""
    return service.finish(
        session,
        upload_id=upload_id,
        chunks=body.chunks,
        now=now,
        max_file_bytes=settings.max_file_bytes,
    )


@router.get("/uploads/{upload_id}/chunks/{index}", responses=refusals(403), response_class=Response)
def get_chunk(
    upload_id: UploadId,
    index: Index,
    principal: PrincipalDep,
    session: SessionDep,
    blobs: BlobsDep,
) -> Response:
    """An encrypted chunk of an attached file, for those who can read its case."""
    data = service.read_chunk(session, blobs, principal=principal, upload_id=upload_id, index=index)
    return Response(content=data, media_type="application/octet-stream")
