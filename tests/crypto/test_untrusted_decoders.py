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
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import Envelope, unpad
from safevoice.crypto.manifest import SignedManifest, parse_payload
from safevoice.errors import SafeVoiceError

# A short run by default, so the suite stays fast; SAFEVOICE_FUZZ_EXAMPLES=20000 for a long one.
EXAMPLES = settings(
    max_examples=int(os.environ.get("SAFEVOICE_FUZZ_EXAMPLES", "100")), deadline=None
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
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
