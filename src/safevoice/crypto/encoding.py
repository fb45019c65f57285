"""Byte encodings shared by every SafeVoice format.

Binary values travel as base64url without padding. Decoding is strict: padding, foreign
characters and non-canonical encodings (stray bits in the last character) are refused, so a
value has exactly one textual form and a flipped character can never decode to the same bytes.
Structured data that is signed or authenticated is length-prefixed, never concatenated raw.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from typing import Any

from safevoice.errors import BadEncoding

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64e(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, *, size: int | None = None, what: str = "value") -> bytes:
    """Decode canonical unpadded base64url, optionally requiring an exact decoded size."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise BadEncoding(f"The {what} is not valid base64url.")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadEncoding(f"The {what} is not valid base64url.") from exc
    if b64e(data) != text:
        raise BadEncoding(f"The {what} is not canonical base64url.")
    if size is not None and len(data) != size:
        raise BadEncoding(f"The {what} has the wrong length.")
    return data


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def lp(*fields: bytes | str) -> bytes:
    """Concatenate fields, each preceded by its length as a 32-bit big-endian integer."""
    out = bytearray()
    for field in fields:
        raw = field.encode("utf-8") if isinstance(field, str) else field
        out += u32(len(raw))
        out += raw
    return bytes(out)


def split_lp(data: bytes) -> list[bytes]:
    """Inverse of :func:`lp`; raises BadEncoding on any trailing or truncated bytes."""
    fields: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise BadEncoding("A length-prefixed field is truncated.")
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        pos += 4
        if pos + size > len(data):
            raise BadEncoding("A length-prefixed field is truncated.")
        fields.append(data[pos : pos + size])
        pos += size
    return fields


def loads(raw: bytes | str, **options: Any) -> Any:
    """``json.loads`` that also refuses lone surrogates (JSON's ``\\ud800`` escapes decode to
    strings no signature, hash or terminal can encode) with a ValueError, as it refuses any
    other malformed JSON; callers catch ValueError already."""
    value = json.loads(raw, **options)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError is a ValueError
    return value


def text(value: Any, *, what: str) -> str:
    """A string that UTF-8 can carry: JSON's ``\\ud800`` escapes decode to lone surrogates,
    which no signature, hash or canonical form can encode."""
    if not isinstance(value, str):
        raise BadEncoding(f"The {what} is not text.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadEncoding(f"The {what} is not valid Unicode text.") from None
    return value


def canonical_json(value: Any) -> bytes:
    """The one serialisation of JSON that SafeVoice signs: sorted keys, no spaces, UTF-8.

    Parsed input can hold lone surrogates (from ``\\ud800`` escapes), which have no UTF-8 form:
    such a value is refused as BadEncoding."""
    serialised = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return serialised.encode("utf-8")
    except UnicodeEncodeError:
        raise BadEncoding("The value holds text that is not valid Unicode.") from None
