"""Rules of uploads: who may start one, chunks strictly in order, limits, binding, expiry.

A chunk is stored in the blob store before the upload's counter moves on, and the counter moves
only from exactly the chunk's index, so a retried or concurrent chunk never leaves a gap or a
duplicate and a dropped connection resumes from what the server reports. The server never
holds more than one chunk in memory. Limits are checked at the first chunk that would cross
them; the upload is then deleted entirely, so nothing of it remains.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from safevoice.attachments.models import Attachment, Upload
from safevoice.attachments.schemas import UploadCreateIn
from safevoice.cases import service as cases
from safevoice.cases.models import Case, CaseObject
from safevoice.clock import DAY, aware, round_up
from safevoice.crypto import pow as powmod
from safevoice.crypto.login import digest, random_id
from safevoice.crypto.stream import CHUNK_CIPHERTEXT, chunk_count
from safevoice.errors import (
    BadRequest,
    ChallengeRejected,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from safevoice.instance.challenges import check_work, spend_challenge
from safevoice.instance.service import Snapshot
from safevoice.members.service import Principal
from safevoice.protocol.wire import UploadOut
from safevoice.storage.blobs import BlobStore, ChunkData, chunk_size, delete_uploads
from safevoice.storage.db import Database
from safevoice.storage.dialect import single_statement_reader
from safevoice.storage.idempotency import IdempotencyKey, earlier_answer

UPLOAD_TTL = timedelta(hours=24)
MAX_ATTACHMENTS = 20
NO_UPLOAD = "There is no such upload, or it has expired."
WRONG_SIZE = f"Every chunk is exactly {CHUNK_CIPHERTEXT} bytes."


def _gib(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size / 1024**2:g} MiB"


def _open(
    now: datetime | ColumnElement[datetime], upload: type[Upload] = Upload
) -> ColumnElement[bool]:
    """Uploads not attached to anything yet and not expired: what a flood can pile up."""
    return and_(
        upload.expires_at > now,
        ~select(Attachment.upload_id).where(Attachment.upload_id == upload.id).exists(),
    )


def create_upload(
    session: Session,
    snap: Snapshot,
    *,
    body: UploadCreateIn,
    principal: Principal | None,
    now: datetime,
    max_file_bytes: int,
    max_open_uploads: int,
    idempotency_key: str | None = None,
) -> UploadOut:
    """Start an upload for a case: a reporter or member session of that case, or, for a report
    not yet submitted, a solved proof-of-work challenge.

    The client picks the case id of a report not yet submitted, so per-case limits alone bind
    nothing: the instance caps how many uploads are open at once, and a case holds at most as
    many open uploads as a report or message may carry.

    With an ``idempotency_key`` a resent start (its answer was lost) gets the first answer
    again, even once its challenge is spent or expired, and no second upload; the same key with
    another body, or from another session, is refused.
    """
    key = _StartKey(idempotency_key, body, principal) if idempotency_key else None
    challenge = None
    if principal is None:
        try:
            challenge = _proven(snap, body=body, now=now)
        except ChallengeRejected:
            # A resend may come after its challenge expired: the same request (the same proof)
            # that was answered before gets that answer again.
            earlier = key.earlier(session) if key is not None else None
            if earlier is None:
                raise
            return earlier
    if key is not None and (earlier := key.earlier(session)) is not None:
        return earlier
    _check_room(session, case_id=body.case_id, now=now, max_open_uploads=max_open_uploads)
    _check_right(session, case_id=body.case_id, principal=principal)
    upload = Upload(
        id=random_id(),
        case_id=body.case_id,
        received=0,
        total=None,
        # An upload names its case: its expiry is a whole day (midnight UTC) so that neither it
        # nor the attachment it becomes tells when in the day the file came.
        expires_at=round_up(now + UPLOAD_TTL, DAY),
    )
    answer = _out(upload, max_file_bytes)
    if key is not None and (earlier := key.claim(session, answer, upload.expires_at)) is not None:
        return earlier  # a copy of this request sent at the same moment got there first
    if challenge is not None:
        spend_challenge(session, challenge)
    session.add(upload)
    return answer


def _check_room(session: Session, *, case_id: str, now: datetime, max_open_uploads: int) -> None:
    """Refuse a start beyond the open uploads of the instance or of one case id."""
    open_count = session.scalar(select(func.count()).select_from(Upload).where(_open(now))) or 0
    if open_count >= max_open_uploads:
        raise RateLimited(
            "Too many files are being uploaded to this server right now; try again in a few "
            "minutes."
        )
    case_open = (
        session.scalar(
            select(func.count()).select_from(Upload).where(_open(now), Upload.case_id == case_id)
        )
        or 0
    )
    if case_open >= MAX_ATTACHMENTS:
        raise TooLarge(
            f"This case already has {MAX_ATTACHMENTS} files being uploaded, as many as a report "
            "or message carries; send them first."
        )


def _check_right(session: Session, *, case_id: str, principal: Principal | None) -> None:
    """Refuse a start by someone who may not add files to the case (a proof of work only
    starts files for a case that does not exist yet)."""
    if principal is None:
        if session.get(Case, case_id) is not None:
            raise Unauthorized("Files for an existing case need the case's session.")
    elif principal.role == "reporter":
        if principal.subject != case_id:
            raise NotFound(cases.NOT_FOUND)
    elif principal.role == "member":
        cases.readable_case(session, label=principal.label, case_id=case_id)
    else:
        raise Forbidden("Only reporters and committee members add files to cases.")


class _StartKey:
    """The idempotency record of an upload start: its key, and the request it stands for."""

    def __init__(self, key: str, body: UploadCreateIn, principal: Principal | None) -> None:
        # A namespace of its own: a key a client also used for a submission stays apart.
        self.key_digest = digest("safevoice-upload-idempotency-v1", key)
        # The session is part of the request: a stored upload id (the capability to add to the
        # upload) goes back only to whoever started it.
        self.request_digest = digest(
            "safevoice-upload-request-v1",
            body.model_dump_json(),
            principal.label if principal is not None else "",
        )

    def earlier(self, session: Session) -> UploadOut | None:
        stored = earlier_answer(
            session,
            key_digest=self.key_digest,
            request_digest=self.request_digest,
            what="upload",
        )
        return None if stored is None else UploadOut.model_validate_json(stored)

    def claim(self, session: Session, answer: UploadOut, expires_at: datetime) -> UploadOut | None:
        """Record ``answer`` under the key; or, when a copy of the request recorded its own in
        the meantime (PostgreSQL: the insert waits for it, then conflicts), return that one."""
        record = IdempotencyKey(
            key_digest=self.key_digest,
            request_digest=self.request_digest,
            response=answer.model_dump_json().encode(),
            expires_at=expires_at,
        )
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:
            return self.earlier(session)
        return None


def _proven(snap: Snapshot, *, body: UploadCreateIn, now: datetime) -> powmod.Challenge:
    """The upload challenge a start without a session solved, checked but not yet spent."""
    if body.proof is None:
        raise Unauthorized("Starting an upload needs a session or a proof of work.")
    challenge = powmod.authenticate(
        snap.challenge_key, body.proof.challenge, purpose="upload", now=int(now.timestamp())
    )
    check_work(challenge, body.proof.solution)
    return challenge


def _out(upload: Upload, max_file_bytes: int) -> UploadOut:
    return UploadOut(
        id=upload.id,
        received=upload.received,
        total=upload.total,
        chunk_bytes=CHUNK_CIPHERTEXT,
        max_chunks=chunk_count(max_file_bytes),
    )


def _live(session: Session, upload_id: str, now: datetime) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(NO_UPLOAD)
    bound = session.get(Attachment, upload_id) is not None
    if not bound and aware(upload.expires_at) <= now:
        raise NotFound(NO_UPLOAD)
    return upload


def status(session: Session, *, upload_id: str, now: datetime, max_file_bytes: int) -> UploadOut:
    return _out(_live(session, upload_id, now), max_file_bytes)


def _chunk_state_query() -> Select[Any]:
    """The upload a chunk is for, whether it is bound, the chunks its case holds and the
    chunks of all open uploads: one statement, built once, as it runs before every chunk."""
    same_case, pending = aliased(Upload), aliased(Upload)
    return select(
        Upload.case_id,
        Upload.received,
        Upload.total,
        Upload.expires_at,
        select(Attachment.upload_id).where(Attachment.upload_id == Upload.id).exists(),
        select(func.coalesce(func.sum(same_case.received), 0))
        .where(same_case.case_id == Upload.case_id)
        .scalar_subquery(),
        select(func.coalesce(func.sum(pending.received), 0))
        .where(_open(bindparam("now", type_=Upload.expires_at.type), pending))
        .scalar_subquery(),
    ).where(Upload.id == bindparam("upload_id"))


_CHUNK_STATE = _chunk_state_query()
# The write that counts a stored chunk: the case's uploads locked (PostgreSQL; SQLite
# serialises writers) and counted again, then the counter moved from exactly ``index``.
_LOCK_CASE = select(Upload.received).where(Upload.case_id == bindparam("case_id")).with_for_update()
_MOVE = (
    update(Upload)
    .where(
        Upload.id == bindparam("upload_id"),
        Upload.received == bindparam("index"),
        Upload.total.is_(None),
    )
    .values(received=bindparam("next"))
)


def _chunk_state(database: Database, upload_id: str, now: datetime) -> tuple[Upload, int, int]:
    """The live upload a chunk is for (detached), the chunks its case holds and the chunks of
    all open uploads."""
    with single_statement_reader(database) as connection:
        row = connection.execute(_CHUNK_STATE, {"upload_id": upload_id, "now": now}).one_or_none()
    if row is None:
        raise NotFound(NO_UPLOAD)
    case_id, received, total, expires_at, bound, in_case, in_pending = row
    if not bound and aware(expires_at) <= now:
        raise NotFound(NO_UPLOAD)
    upload = Upload(
        id=upload_id, case_id=case_id, received=received, total=total, expires_at=expires_at
    )
    return upload, int(in_case), int(in_pending)


def _count_chunk(database: Database, upload: Upload, index: int, max_case_chunks: int) -> bool:
    """Move the upload's counter past chunk ``index`` (stored already); False, and nothing
    written, when the case would hold more than ``max_case_chunks``."""
    with database.writer.begin() as connection:
        locked = connection.execute(_LOCK_CASE, {"case_id": upload.case_id}).scalars().all()
        if sum(locked) + 1 > max_case_chunks:
            return False
        moved = connection.execute(
            _MOVE, {"upload_id": upload.id, "index": index, "next": index + 1}
        )
        if moved.rowcount == 1:
            upload.received = index + 1
    return True


def put_chunk(
    database: Database,
    store: BlobStore,
    *,
    upload_id: str,
    index: int,
    data: ChunkData,
    now: datetime,
    max_file_bytes: int,
    max_case_bytes: int,
    max_pending_bytes: int,
) -> UploadOut:
    """Store chunk ``index`` if it is the next one; a chunk already stored is acknowledged.

    ``data`` may be the pieces in which the request body arrived: they go to the blob store as
    they are. Per chunk the server makes one lookup, one blob write (synced) and one short
    write transaction (the counter), so an acknowledged chunk is on the disk and counted.

    A chunk that would take the open uploads of the whole instance past ``max_pending_bytes``
    is refused before it is written (the upload stays, to resume later), so a flood of uploads
    cannot fill the disk.
    """
    upload, case_chunks, pending_chunks = _chunk_state(database, upload_id, now)
    if index < upload.received:
        return _out(upload, max_file_bytes)  # a resend after a lost answer
    if upload.total is not None:
        raise Conflict("This upload is finished; it takes no more chunks.")
    if index > upload.received:
        raise Conflict(f"The server expects chunk {upload.received} next; resume from there.")
    if chunk_size(data) != CHUNK_CIPHERTEXT:
        raise BadRequest(WRONG_SIZE)
    if index + 1 > chunk_count(max_file_bytes):
        discard(database, store, upload_id)
        raise TooLarge(
            f"The file is larger than this server accepts ({_gib(max_file_bytes)} per file); "
            "nothing of it was kept."
        )
    if case_chunks + 1 > max_case_bytes // CHUNK_CIPHERTEXT:
        discard(database, store, upload_id)
        raise TooLarge(
            f"The files of this case are larger than this server accepts "
            f"({_gib(max_case_bytes)} per case); nothing of this file was kept."
        )
    if (pending_chunks + 1) * CHUNK_CIPHERTEXT > max_pending_bytes:
        raise RateLimited(
            "This server holds as many unsent files as it has room for; try again later (the "
            "upload resumes from where it stopped)."
        )
    store.put_chunk(upload_id, index, data)
    if not _count_chunk(database, upload, index, max_case_bytes // CHUNK_CIPHERTEXT):
        # Chunks sent in parallel for other uploads of the case got there first.
        discard(database, store, upload_id)
        raise TooLarge(
            f"The files of this case are larger than this server accepts "
            f"({_gib(max_case_bytes)} per case); nothing of this file was kept."
        )
    return _out(upload, max_file_bytes)


def finish(
    session: Session, *, upload_id: str, chunks: int, now: datetime, max_file_bytes: int
) -> UploadOut:
    upload = _live(session, upload_id, now)
    if chunks < 1 or chunks != upload.received:
        raise Conflict(
            f"The server holds {upload.received} chunk(s) of this upload, not {chunks}; send the "
            "missing ones first."
        )
    upload.total = chunks
    return _out(upload, max_file_bytes)


def check_bindable(session: Session, *, case_id: str, upload_ids: list[str], now: datetime) -> None:
    """Refuse to write a report or message that names an upload it cannot own."""
    if len(upload_ids) > MAX_ATTACHMENTS:
        raise BadRequest(f"A report or message carries at most {MAX_ATTACHMENTS} files.")
    if len(set(upload_ids)) != len(upload_ids):
        raise BadRequest("The same file is attached twice.")
    for upload_id in upload_ids:
        upload = _live(session, upload_id, now)
        if upload.case_id != case_id:
            raise BadRequest("A file was uploaded for another case.")
        if upload.total is None:
            raise Conflict("A file has not been uploaded completely yet.")
        if session.get(Attachment, upload_id) is not None:
            raise Conflict("A file is already attached.")


def attachment_rows(case_id: str, upload_ids: list[str], *, seq: int) -> list[dict[str, object]]:
    """The attachments of the thread object at ``seq`` (the report is 0)."""
    return [{"upload_id": upload_id, "case_id": case_id, "seq": seq} for upload_id in upload_ids]


def bind(session: Session, *, case_id: str, upload_ids: list[str], seq: int, now: datetime) -> None:
    check_bindable(session, case_id=case_id, upload_ids=upload_ids, now=now)
    for row in attachment_rows(case_id, upload_ids, seq=seq):
        session.add(Attachment(**row))


def read_chunk(
    session: Session,
    store: BlobStore,
    *,
    principal: Principal,
    upload_id: str,
    index: int,
) -> bytes:
    """A stored chunk, for the reporter of its case or a member who can read the case."""
    if principal.role not in ("reporter", "member", "archive"):
        raise Forbidden("Only reporters and committee members read files.")
    attachment = session.get(Attachment, upload_id)
    if attachment is None:
        raise NotFound(NO_UPLOAD)
    if principal.role == "reporter":
        if principal.subject != attachment.case_id:
            raise NotFound(NO_UPLOAD)
    elif principal.role in ("member", "archive"):
        # The archive recipient reads the files of the cases it holds, like their messages.
        try:
            cases.readable_case(session, label=principal.label, case_id=attachment.case_id)
        except NotFound:
            raise NotFound(NO_UPLOAD) from None
    else:
        raise Forbidden("Only reporters and committee members read files.")
    upload = session.get(Upload, upload_id)
    if upload is None or not 0 <= index < (upload.total or 0):
        raise NotFound("There is no such chunk.")
    return store.get_chunk(upload_id, index)


def remove_from_object(
    session: Session, obj: CaseObject, upload_ids: list[str], *, store: BlobStore
) -> None:
    """A redaction removes files of the object it redacts (cases/redaction.py): refuse any
    that is not attached to ``obj`` (files attached before their position was recorded belong
    to any object of the case), then delete their chunks and rows in the caller's transaction
    (a folder's or S3's chunks go at once, as in a purge)."""
    if obj.chain != "thread":
        raise BadRequest("Files go with the report and messages; a note has none to remove.")
    rows = session.execute(
        select(Attachment.upload_id, Attachment.seq).where(
            Attachment.case_id == obj.case_id, Attachment.upload_id.in_(upload_ids)
        )
    ).all()
    positions: dict[str, int | None] = dict(rows)
    for upload_id in upload_ids:
        if upload_id not in positions:
            raise BadRequest("A file to remove is not attached to this case; nothing was changed.")
        seq = positions[upload_id]
        if seq is not None and seq != obj.seq:
            raise BadRequest(
                f"A file to remove is attached to thread #{seq}, not to thread #{obj.seq}; "
                "redact that message to remove it. Nothing was changed."
            )
    delete_uploads(store, session, upload_ids)
    session.execute(delete(Attachment).where(Attachment.upload_id.in_(upload_ids)))
    session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))


def discard(database: Database, store: BlobStore, upload_id: str) -> None:
    store.delete(upload_id)
    with database.unit_of_work() as session:
        upload = session.get(Upload, upload_id)
        if upload is not None:
            session.delete(upload)


def sweep_expired(database: Database, store: BlobStore, *, now: datetime, limit: int = 100) -> int:
    """Delete uploads that never became attachments and have expired; returns how many."""
    with database.session(write=False) as reader:
        expired = list(
            reader.scalars(
                select(Upload.id)
                .where(
                    Upload.expires_at < now,
                    ~select(Attachment.upload_id).where(Attachment.upload_id == Upload.id).exists(),
                )
                .limit(limit)
            )
        )
    for upload_id in expired:
        discard(database, store, upload_id)
    return len(expired)


def delete_for_case(database: Database, store: BlobStore, case_id: str) -> int:
    """Every upload and chunk of a case (used when a case is purged)."""
    with database.session(write=False) as reader:
        ids = list(reader.scalars(select(Upload.id).where(Upload.case_id == case_id)))
    for upload_id in ids:
        discard(database, store, upload_id)
    return len(ids)
