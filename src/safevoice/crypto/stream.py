"""Attachment encryption: libsodium secretstream under a per-file key, in fixed-size chunks.

Each file gets its own key and stream header, which travel only inside the encrypted report or
message (so they follow the case's key epochs). The plaintext is padded ISO 7816-4 style
(``sodium_pad``) to a whole number of chunks of ``CHUNK_PLAINTEXT`` bytes, so every stored chunk
has exactly the same size and a file's size leaks only to the mebibyte. Each chunk's associated
data names the file and the chunk's position, and the last chunk carries the FINAL tag: a
missing, reordered, replayed or altered chunk, or a truncated stream, fails to decrypt instead
of yielding a silently different file.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions

# The state buffer of a secretstream is a cffi array; PyNaCl exposes no copy function for it.
from nacl._sodium import ffi

from safevoice.crypto.encoding import lp, u32
from safevoice.crypto.keys import random_bytes
from safevoice.errors import VerificationFailed

CHUNK_PLAINTEXT = 1024 * 1024
CHUNK_CIPHERTEXT = CHUNK_PLAINTEXT + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
KEY_BYTES = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
CHUNK_CONTEXT = "safevoice-file-chunk-v1"
_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def chunk_count(size: int) -> int:
    """Chunks needed for ``size`` bytes of plaintext (padding always adds at least one byte)."""
    return size // CHUNK_PLAINTEXT + 1


def _ad(file_id: str, index: int) -> bytes:
    return lp(CHUNK_CONTEXT, file_id, u32(index))


@dataclass(frozen=True)
class FileKey:
    key: bytes
    header: bytes


class Encryptor:
    """Push side: whole plaintext chunks in, encrypted chunks out; the caller says which is last.

    A file of ``size`` bytes is pushed as ``size // CHUNK_PLAINTEXT`` full chunks followed by
    the (possibly empty) rest as the last chunk, which is padded to a full chunk.
    """

    def __init__(self, file_id: str, key: bytes | None = None) -> None:
        self.file_id = file_id
        self.key = key if key is not None else random_bytes(KEY_BYTES)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, self.key)
        self.chunks_done = 0

    @property
    def file_key(self) -> FileKey:
        return FileKey(key=self.key, header=self.header)

    def push(self, plaintext: bytes, *, last: bool) -> bytes:
        if last:
            if len(plaintext) >= CHUNK_PLAINTEXT:
                raise ValueError("the last chunk holds less than a full chunk of plaintext")
            plaintext = sodium.sodium_pad(plaintext, CHUNK_PLAINTEXT)
        elif len(plaintext) != CHUNK_PLAINTEXT:
            raise ValueError("every chunk but the last holds exactly CHUNK_PLAINTEXT bytes")
        chunk = sodium.crypto_secretstream_xchacha20poly1305_push(
            self._state,
            plaintext,
            _ad(self.file_id, self.chunks_done),
            _FINAL if last else _MESSAGE,
        )
        self.chunks_done += 1
        return chunk

    def checkpoint(self) -> bytes:
        """The stream state after the chunks pushed so far (secret: it continues the stream).

        With the key and header it lets a client resume after a restart, from plaintext offset
        ``chunks_done * CHUNK_PLAINTEXT``, producing exactly the chunks it would have produced.
        """
        return bytes(ffi.buffer(self._state.statebuf))

    @classmethod
    def resume(
        cls, file_id: str, file_key: FileKey, *, state: bytes, chunks_done: int
    ) -> Encryptor:
        encryptor = cls.__new__(cls)
        encryptor.file_id = file_id
        encryptor.key = file_key.key
        encryptor.header = file_key.header
        encryptor._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        ffi.memmove(encryptor._state.statebuf, state, len(state))
        encryptor.chunks_done = chunks_done
        return encryptor


def encrypt_bytes(
    file_id: str, data: bytes, key: bytes | None = None
) -> tuple[FileKey, list[bytes]]:
    """Encrypt a whole (small) plaintext at once."""
    encryptor = Encryptor(file_id, key)
    full = len(data) // CHUNK_PLAINTEXT
    chunks = [
        encryptor.push(data[i * CHUNK_PLAINTEXT : (i + 1) * CHUNK_PLAINTEXT], last=False)
        for i in range(full)
    ]
    chunks.append(encryptor.push(data[full * CHUNK_PLAINTEXT :], last=True))
    return encryptor.file_key, chunks


class Decryptor:
    """Pull side: feed encrypted chunks in order; the last one must carry the FINAL tag."""

    def __init__(self, file_id: str, file_key: FileKey, *, chunks: int) -> None:
        if len(file_key.key) != KEY_BYTES or len(file_key.header) != HEADER_BYTES:
            raise VerificationFailed("The attachment's key is malformed.")
        self.file_id = file_id
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, file_key.header, file_key.key
        )
        self._expected = chunks
        self._index = 0
        self.finished = False

    def update(self, chunk: bytes) -> bytes:
        if self.finished:
            raise VerificationFailed("The attachment has chunks after its end.")
        if len(chunk) != CHUNK_CIPHERTEXT:
            raise VerificationFailed(f"Chunk {self._index} of the attachment has the wrong size.")
        try:
            plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, chunk, _ad(self.file_id, self._index)
            )
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as exc:
            raise VerificationFailed(
                f"Chunk {self._index} of the attachment was altered, replayed or reordered."
            ) from exc
        self._index += 1
        last = self._index == self._expected
        if (tag == _FINAL) != last:
            raise VerificationFailed("The attachment was cut short or extended.")
        if not last:
            return plaintext
        self.finished = True
        try:
            return sodium.sodium_unpad(plaintext, CHUNK_PLAINTEXT)
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise VerificationFailed("The attachment's padding is invalid.") from exc
