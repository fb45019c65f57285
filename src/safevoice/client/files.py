"""Encrypted attachments on the client: upload with resume, download with verification.

A file is read and encrypted one chunk at a time, so no client ever holds a whole file in
memory. After a dropped connection the client asks the server how many chunks it holds and
continues from there; with a state folder it can also continue after a restart, because it
keeps the stream's state (secret, like the key) next to the progress. A download writes to a
temporary file and only renames it once the last chunk, with its end-of-stream tag, verified.
"""

from __future__ import annotations

import json
import mimetypes
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from safevoice.client.api import Api
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.stream import (
    CHUNK_PLAINTEXT,
    Decryptor,
    Encryptor,
    FileKey,
    chunk_count,
)
from safevoice.errors import ClientError, SafeVoiceError, Unavailable, VerificationFailed
from safevoice.private_files import private_dir

Progress = Callable[[int], None]
T = TypeVar("T")
RETRIES = 8


@dataclass
class PendingUpload:
    """What a client needs to continue an upload (kept only with a state folder)."""

    path: str
    upload_id: str
    key: str
    header: str
    state: str
    chunks_done: int
    size: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class UploadJournal:
    """Progress of uploads in a state folder, readable only by its owner; or nowhere at all."""

    def __init__(self, folder: Path | None) -> None:
        self.path = folder / "uploads.json" if folder is not None else None

    def load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def save(self, data: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        temp.replace(self.path)

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _with_retries(action: Callable[[], Any], *, sleep: Callable[[float], None]) -> Any:
    for attempt in range(RETRIES):
        try:
            return action()
        except (ClientError, Unavailable):
            if attempt == RETRIES - 1:
                raise
            sleep(min(0.5 * 2**attempt, 10.0))
    raise AssertionError("unreachable")


def upload_file(
    api: Api,
    path: Path,
    *,
    case_id: str,
    start: Callable[[], str],
    pending: PendingUpload | None = None,
    remember: Callable[[PendingUpload], None] = lambda _p: None,
    progress: Progress = lambda _n: None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Encrypt and upload one file; return its descriptor for the report or message.

    ``start`` creates the upload on the server and returns its id (it proves the right to do
    so). The descriptor (id, key, header, name, type, size, chunks) travels only inside the
    encrypted report or message.
    """
    size = path.stat().st_size
    if pending is not None and (pending.path != str(path) or pending.size != size):
        pending = None
    with path.open("rb") as handle:
        return upload_stream(
            api,
            handle,
            name=path.name,
            size=size,
            start=start,
            pending=pending,
            remember=remember,
            progress=progress,
            sleep=sleep,
            label=str(path),
        )


@dataclass(frozen=True)
class _Sealed:
    """An encrypted chunk, and the stream state right after it (what resuming needs)."""

    index: int
    chunk: bytes
    state: bytes
    plaintext_bytes: int


def _sealed_chunks(
    handle: BinaryIO, encryptor: Encryptor, *, size: int, chunks: int
) -> Iterator[_Sealed]:
    """The chunks the encryptor has not pushed yet, read from ``handle`` and encrypted."""
    while encryptor.chunks_done < chunks:
        index = encryptor.chunks_done
        handle.seek(index * CHUNK_PLAINTEXT)
        last = index == chunks - 1
        data = handle.read(size - index * CHUNK_PLAINTEXT if last else CHUNK_PLAINTEXT)
        chunk = encryptor.push(data, last=last)
        yield _Sealed(index, chunk, encryptor.checkpoint(), len(data))


def _made_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items`` in order, each next one made on a thread while the caller uses the current
    one: at most two are held at once."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = pool.submit(next, items, None)
        while (item := upcoming.result()) is not None:
            upcoming = pool.submit(next, items, None)
            yield item


def upload_stream(
    api: Api,
    handle: BinaryIO,
    *,
    name: str,
    size: int,
    start: Callable[[], str],
    pending: PendingUpload | None = None,
    remember: Callable[[PendingUpload], None] = lambda _p: None,
    progress: Progress = lambda _n: None,
    sleep: Callable[[float], None] = time.sleep,
    label: str = "",
) -> dict[str, Any]:
    """Encrypt and upload ``size`` bytes from a seekable binary stream (see ``upload_file``)."""
    chunks = chunk_count(size)
    if pending is None:
        upload_id = start()
        encryptor = Encryptor(upload_id)
    else:
        upload_id = pending.upload_id
        encryptor = Encryptor.resume(
            upload_id,
            FileKey(key=b64d(pending.key), header=b64d(pending.header)),
            state=b64d(pending.state),
            chunks_done=pending.chunks_done,
        )
    # The next chunk is read and encrypted while the current one is on its way: the two
    # overlap instead of adding up (libsodium and file reads release the GIL).
    for sealed in _made_ahead(_sealed_chunks(handle, encryptor, size=size, chunks=chunks)):
        # Encryption is deterministic from the saved stream state, so a chunk the server
        # already holds (its answer was lost) is resent byte for byte and acknowledged.
        _with_retries(partial(api.put_chunk, upload_id, sealed.index, sealed.chunk), sleep=sleep)
        remember(
            PendingUpload(
                path=label,
                upload_id=upload_id,
                key=b64e(encryptor.key),
                header=b64e(encryptor.header),
                state=b64e(sealed.state),
                chunks_done=sealed.index + 1,
                size=size,
            )
        )
        progress(sealed.plaintext_bytes)
    _with_retries(partial(api.finish_upload, upload_id, chunks), sleep=sleep)
    return {
        "upload_id": upload_id,
        "key": b64e(encryptor.key),
        "header": b64e(encryptor.header),
        "name": name,
        "type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "size": size,
        "chunks": chunks,
    }


@dataclass(frozen=True)
class Attachment:
    upload_id: str
    file_key: FileKey
    name: str
    type: str
    size: int
    chunks: int
    seq: int

    @classmethod
    def from_descriptor(cls, data: Any, *, seq: int) -> Attachment:
        try:
            chunks, size = data["chunks"], data["size"]
            # JSON integers, as the protocol says (11.12): int() would take "3", 3.0 and true.
            if type(chunks) is not int or type(size) is not int or size < 0:
                raise TypeError("an attachment's size and chunk count are integers")
            if chunks != chunk_count(size):
                raise VerificationFailed("The attachment's size and chunk count disagree.")
            return cls(
                upload_id=str(data["upload_id"]),
                file_key=FileKey(
                    key=b64d(data["key"], size=32, what="file key"),
                    header=b64d(data["header"], size=24, what="stream header"),
                ),
                name=str(data["name"]),
                type=str(data["type"]),
                size=size,
                chunks=chunks,
                seq=seq,
            )
        except (KeyError, TypeError, ValueError, SafeVoiceError) as exc:
            raise VerificationFailed("An attachment's description is malformed.") from exc


def safe_name(name: str) -> str:
    """A file name that cannot leave the download folder or hide as a dot-file."""
    cleaned = "".join(ch for ch in Path(name).name if ch.isprintable() and ch not in "/\\")
    cleaned = cleaned.lstrip(".") or "attachment"
    return cleaned[:200]


def download(
    api: Api,
    attachment: Attachment,
    folder: Path,
    *,
    progress: Progress = lambda _n: None,
) -> Path:
    """Fetch, verify and decrypt an attachment into ``folder``; never leaves a partial file."""
    private_dir(folder)
    target = folder / safe_name(attachment.name)
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as handle:
            for plaintext in decrypt_chunks(api, attachment):
                handle.write(plaintext)
                progress(len(plaintext))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def decrypt_chunks(api: Api, attachment: Attachment) -> Iterator[bytes]:
    """Fetch and decrypt an attachment a chunk at a time, verifying each chunk as it comes.

    The last chunk is yielded only after the end-of-stream tag and the described size check
    out, so a consumer that stops at an exception never holds a complete forged file.
    """
    decryptor = Decryptor(attachment.upload_id, attachment.file_key, chunks=attachment.chunks)
    total = 0
    for index in range(attachment.chunks):
        plaintext = decryptor.update(api.get_chunk(attachment.upload_id, index))
        total += len(plaintext)
        if index == attachment.chunks - 1 and (not decryptor.finished or total != attachment.size):
            raise VerificationFailed("The attachment is shorter or longer than described.")
        yield plaintext
    if not decryptor.finished or total != attachment.size:
        raise VerificationFailed("The attachment is shorter or longer than described.")
