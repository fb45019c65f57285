"""Every decoder of untrusted input either returns or refuses with a SafeVoice error.

Hypothesis feeds arbitrary text, bytes and JSON-shaped values to the decoders the server and
the clients run on what arrives over the wire: a crash with any other exception would be a 500
on the server or a traceback in a client.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from safevoice.crypto import pow as powmod
from safevoice.crypto.backup import BACKUP_FORMAT, BackupHeader
from safevoice.crypto.casefile import EPOCH_FORMAT, REPORT_FORMAT, parse_epoch, parse_report
from safevoice.crypto.code import parse_code
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import Envelope, unpad
from safevoice.crypto.keys import PublicKey, parse_fingerprint
from safevoice.crypto.manifest import SignedManifest, parse_payload
from safevoice.crypto.receipt import Receipt
from safevoice.errors import SafeVoiceError

# A short run by default, so the suite stays fast; SAFEVOICE_FUZZ_EXAMPLES=20000 for a long one.
EXAMPLES = settings(
    max_examples=int(os.environ.get("SAFEVOICE_FUZZ_EXAMPLES", "100")), deadline=None
)

# Text as JSON can carry it: any code point, lone surrogates included ("\ud800" is valid JSON).
# (st.text never draws surrogates, hence the list of characters.)
SURROGATES = st.sampled_from([chr(0xD800), chr(0xDBFF), chr(0xDC00), chr(0xDFFF)])
ANY_TEXT = st.lists(st.characters() | SURROGATES, max_size=40).map("".join)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ANY_TEXT, inner, max_size=6),
    max_leaves=20,
)
B64_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ", max_size=80
)


def refused_or_decoded(decode: Any, value: Any) -> None:
    with contextlib.suppress(SafeVoiceError):
        decode(value)


def envelope_like(fields: dict[str, Any]) -> dict[str, Any]:
    """A mostly well-shaped envelope, so that the deeper checks are reached too."""
    base: dict[str, Any] = {
        "v": 1,
        "case_id": b64e(bytes(16)),
        "kind": "report",
        "sender": "reporter",
        "seq": 0,
        "prev": b64e(bytes(32)),
        "epoch": 0,
        "key_commit": b64e(bytes(32)),
        "nonce": b64e(bytes(24)),
        "ct": b64e(bytes(64)),
        "sig": b64e(bytes(64)),
    }
    return {**base, **fields}


@EXAMPLES
@given(json_values)
def test_the_envelope_decoder_never_crashes_on_any_json(value: Any) -> None:
    refused_or_decoded(Envelope.from_json, value)


@EXAMPLES
@given(st.dictionaries(st.sampled_from(sorted(envelope_like({}))), json_values | B64_TEXT))
def test_the_envelope_decoder_never_crashes_on_a_nearly_valid_envelope(
    fields: dict[str, Any],
) -> None:
    refused_or_decoded(Envelope.from_json, envelope_like(fields))


@EXAMPLES
@given(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_the_manifest_payload_decoder_never_crashes_on_any_bytes(payload: bytes) -> None:
    refused_or_decoded(parse_payload, payload)


@EXAMPLES
@given(json_values)
def test_the_manifest_payload_decoder_never_crashes_on_any_json_document(value: Any) -> None:
    refused_or_decoded(parse_payload, json.dumps(value).encode())


@EXAMPLES
@given(json_values | st.fixed_dictionaries({"payload": B64_TEXT, "signatures": json_values}))
def test_the_signed_manifest_decoder_never_crashes_on_any_json(value: Any) -> None:
    refused_or_decoded(SignedManifest.from_json, value)


@EXAMPLES
@given(B64_TEXT | st.text(max_size=80))
def test_the_challenge_decoder_never_crashes_on_any_text(token: str) -> None:
    refused_or_decoded(powmod.parse, token)


@EXAMPLES
@given(B64_TEXT | st.text(max_size=40))
def test_a_solution_of_any_text_is_refused_or_checked_without_crashing(solution: str) -> None:
    challenge = powmod.issue(bytes(32), purpose="submit", difficulty=1, expires=2**40)
    assert powmod.solves(challenge, solution) in (True, False)


@EXAMPLES
@given(st.binary(max_size=300))
def test_unpadding_any_bytes_never_crashes(padded: bytes) -> None:
    refused_or_decoded(unpad, padded)


def receipt_like(fields: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "instance_id": "instance",
        "case_id": b64e(bytes(16)),
        "report_hash": b64e(bytes(32)),
        "day": "2026-03-01",
        "sig": b64e(bytes(64)),
    }
    return {**base, **fields}


def parsed_and_verified(value: Any) -> None:
    """What the reporter's client does with a receipt it kept: read it, check its signature."""
    with contextlib.suppress(SafeVoiceError):
        Receipt.from_json(value).verify(bytes(32))


@EXAMPLES
@given(json_values)
def test_a_receipt_of_any_json_is_refused_without_crashing(value: Any) -> None:
    parsed_and_verified(value)


@EXAMPLES
@given(
    st.dictionaries(st.sampled_from(sorted(receipt_like({}))), json_values | ANY_TEXT)
    | st.dictionaries(st.sampled_from(["instance_id", "case_id", "day"]), ANY_TEXT, min_size=1)
)
def test_a_nearly_valid_receipt_is_refused_without_crashing(fields: dict[str, Any]) -> None:
    parsed_and_verified(receipt_like(fields))


@EXAMPLES
@given(
    json_values
    | st.dictionaries(
        st.sampled_from(["format", "kind", "id", "name", "sign_key", "box_key", "fingerprint"]),
        json_values | ANY_TEXT,
    )
)
def test_a_public_key_file_of_any_json_is_refused_without_crashing(value: Any) -> None:
    with contextlib.suppress(SafeVoiceError):
        PublicKey.from_json(value).fingerprint  # noqa: B018 - computing it is the point


@EXAMPLES
@given(ANY_TEXT)
def test_any_typed_code_or_fingerprint_is_refused_without_crashing(text: str) -> None:
    refused_or_decoded(parse_code, text)
    refused_or_decoded(parse_fingerprint, text)


@EXAMPLES
@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_a_backup_header_of_any_bytes_is_refused_without_crashing(raw: bytes) -> None:
    refused_or_decoded(BackupHeader.from_bytes, raw)


@EXAMPLES
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "backup_id",
                "instance_id",
                "created_on",
                "key_id",
                "revision",
                "audit_seq",
                "audit_head",
            ]
        ),
        json_values | ANY_TEXT,
    )
)
def test_a_nearly_valid_backup_header_is_refused_without_crashing(fields: dict[str, Any]) -> None:
    header = {
        "format": BACKUP_FORMAT,
        "backup_id": b64e(bytes(16)),
        "instance_id": None,
        "created_on": "2026-03-01",
        "key_id": b64e(bytes(16)),
        "revision": None,
        "audit_seq": -1,
        "audit_head": b64e(bytes(32)),
        **fields,
    }
    refused_or_decoded(BackupHeader.from_bytes, json.dumps(header).encode())


def report_like(fields: dict[str, Any], recipients: dict[str, Any]) -> bytes:
    """A decrypted report as a member's client reads it: the reporter chose every byte."""
    data: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "channel": "general",
        "text": "text",
        "answers": {},
        "reply_key": b64e(bytes(32)),
        "sign_key": b64e(bytes(32)),
        "recipients": {
            "labels": ["member:alice"],
            "manifest_version": 1,
            "sig": b64e(bytes(64)),
            **recipients,
        },
        **fields,
    }
    return json.dumps(data).encode()


@EXAMPLES
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "format",
                "channel",
                "text",
                "answers",
                "reply_key",
                "sign_key",
                "recipients",
                "attachments",
                "intake",
            ]
        ),
        json_values | ANY_TEXT,
    ),
    st.dictionaries(
        st.sampled_from(["labels", "manifest_version", "sig"]),
        json_values | st.lists(ANY_TEXT, max_size=3),
    ),
)
def test_a_decrypted_report_of_any_shape_is_refused_without_crashing(
    fields: dict[str, Any], recipients: dict[str, Any]
) -> None:
    refused_or_decoded(
        lambda plaintext: parse_report(plaintext, case_id=bytes(16)),
        report_like(fields, recipients),
    )


@EXAMPLES
@given(
    st.binary(max_size=200)
    | st.dictionaries(
        st.sampled_from(
            ["format", "epoch", "recipients", "thread_keys", "committee_keys", "heads"]
        ),
        json_values | ANY_TEXT,
    ).map(lambda f: json.dumps({"format": EPOCH_FORMAT, "epoch": 1, **f}).encode())
)
def test_a_decrypted_epoch_record_of_any_shape_is_refused_without_crashing(
    plaintext: bytes,
) -> None:
    refused_or_decoded(
        lambda p: parse_epoch(p, case_id=bytes(16), epoch=1, committee_key=bytes(32)), plaintext
    )
