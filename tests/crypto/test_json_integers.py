"""The reference parser reads an integer only from a JSON integer, wherever the protocol says
"integer": ``true``, ``"3"`` and ``3.0`` are refused, not converted (int() would take all three).

Covered: the manifest payload, the key file, the report's signed recipient list, an attachment
descriptor, and the answers of the server that the clients parse (``safevoice.protocol.wire``).
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from safevoice.client.files import Attachment
from safevoice.crypto import keys, manifest
from safevoice.crypto.casefile import NewCase, create_case, parse_report
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64e, canonical_json
from safevoice.crypto.envelope import decrypt
from safevoice.errors import BadEncoding, BadEnvelope, ManifestError, VerificationFailed
from safevoice.protocol import wire
from tests.crypto.test_casefile import make_manifest
from tests.crypto.test_keys import FAST, PASSPHRASE

NOT_INTEGERS = [True, "3", 3.0]


@pytest.fixture(scope="module")
def payload(root: keys.KeyPair, alice: keys.KeyPair) -> dict[str, Any]:
    data = make_manifest(root, (alice,)).to_payload()
    data["code_kdf"][0]["opslimit"] = 3
    data["retired"] = [
        {"label": "member:zoe", "sign_key": data["members"][0]["sign_key"], "until_version": 3}
    ]
    manifest.parse_payload(canonical_json(data))  # the unchanged payload is valid
    return data


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize(
    "where",
    [
        ("version",),
        ("code_kdf", 0, "version"),
        ("code_kdf", 0, "opslimit"),
        ("code_kdf", 0, "memlimit"),
        ("audit_keys", 0, "from_seq"),
        ("envelope_versions", 0),
        ("retired", 0, "until_version"),
    ],
)
def test_a_manifest_integer_that_is_not_a_json_integer_is_refused(
    payload: dict[str, Any], where: tuple[str | int, ...], value: Any
) -> None:
    data = json.loads(json.dumps(payload))
    node: Any = data
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value

    with pytest.raises(ManifestError):
        manifest.parse_payload(canonical_json(data))


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize("name", ["opslimit", "memlimit"])
def test_a_key_file_whose_cost_is_not_a_json_integer_is_refused(
    alice: keys.KeyPair, name: str, value: Any
) -> None:
    keyfile = keys.seal_keyfile(alice, PASSPHRASE, **FAST)
    keys.open_keyfile(keyfile, PASSPHRASE)  # as sealed, it opens
    keyfile["sealed"][name] = value

    with pytest.raises(BadEncoding):
        keys.open_keyfile(keyfile, PASSPHRASE)


@pytest.fixture(scope="module")
def case(root: keys.KeyPair, alice: keys.KeyPair, fixed: Any) -> NewCase:
    reply_secret, sign_seed = fixed("reporter reply"), fixed("reporter sign")
    reporter = ReporterKeys(
        reply_secret=reply_secret,
        reply_public=keys.box_public_key(reply_secret),
        sign_seed=sign_seed,
        sign_public=keys.sign_public_key(sign_seed),
    )
    return create_case(make_manifest(root, (alice,)), reporter, channel="safety", text="x")


@pytest.mark.parametrize("value", [*NOT_INTEGERS, 0, -1, 2**32, 2**64])
def test_a_report_whose_signed_manifest_version_is_not_a_u32_integer_is_refused(
    case: NewCase, value: Any
) -> None:
    report = json.loads(decrypt(case.keys.thread, case.report))
    parse_report(canonical_json(report), case_id=case.case_id)  # as sealed, it parses
    report["recipients"]["manifest_version"] = value

    # Refused as malformed before the signature is checked; 2^32 used to escape as struct.error.
    with pytest.raises(BadEnvelope):
        parse_report(canonical_json(report), case_id=case.case_id)


DESCRIPTOR = {
    "upload_id": "A" * 22,
    "key": b64e(bytes(32)),
    "header": b64e(bytes(24)),
    "name": "a.txt",
    "type": "text/plain",
    "size": 3,
    "chunks": 1,
}


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize("name", ["size", "chunks"])
def test_an_attachment_descriptor_size_that_is_not_a_json_integer_is_refused(
    name: str, value: Any
) -> None:
    assert Attachment.from_descriptor(DESCRIPTOR, seq=1).size == 3

    with pytest.raises(VerificationFailed):
        Attachment.from_descriptor({**DESCRIPTOR, name: value}, seq=1)


@pytest.mark.parametrize("value", NOT_INTEGERS)
@pytest.mark.parametrize(
    ("model", "answer", "name"),
    [
        (
            wire.ChallengeOut,
            {"challenge": "x", "purpose": "submit", "difficulty": 8, "expires": 1},
            "difficulty",
        ),
        (wire.ObjectOut, {"chain": "thread", "seq": 1, "hash": "x"}, "seq"),
        (wire.WrappedKeyOut, {"epoch": 0, "recipient": "reporter", "sealed": "x"}, "epoch"),
    ],
)
def test_an_answer_integer_that_is_not_a_json_integer_is_refused_by_the_client(
    model: type[pydantic.BaseModel], answer: dict[str, Any], name: str, value: Any
) -> None:
    model.model_validate_json(json.dumps(answer))  # as the server sends it

    with pytest.raises(pydantic.ValidationError):
        model.model_validate_json(json.dumps({**answer, name: value}))
