"""The code reproduces every known-answer vector in ``tests/vectors/crypto-v1.json``.

Each value is recomputed from the vector's inputs with the public functions of
``safevoice.crypto``; where a group's description states a formula, the value is also rebuilt
from that formula with hashlib or libsodium directly, so the descriptions the browser's
implementation relies on are checked too. Randomness drawn inside ``seal`` and ``issue`` is
fixed by patching ``random_bytes`` in the module that draws it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.pwhash
import nacl.signing
import pytest

from safevoice.crypto import code, envelope, hashing, keys, login, manifest, receipt, redaction
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64d, b64e, canonical_json, lp, split_lp, u32, u64
from safevoice.crypto.envelope import CaseKeys
from safevoice.errors import BadCode, BadEncoding
from safevoice.protocol.reader import ReadCase, ReadObject, server_field_problems, signed_state

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "crypto-v1.json"
GROUPS = {
    "base64url",
    "lp",
    "fingerprint",
    "signature",
    "follow_up_code",
    "padding",
    "key_commitment",
    "envelope",
    "wrapped_key",
    "manifest",
    "proof_of_work",
    "login",
    "receipt",
    "audit_hash",
    "signed_status",
    "redaction",
}


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def blake2b(data: bytes, size: int = 32, key: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key).digest()


def fake_random(value: bytes) -> Any:
    def draw(size: int) -> bytes:
        assert size == len(value)
        return value

    return draw


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


def test_vector_file_has_every_group_each_with_a_description(vectors: dict[str, Any]) -> None:
    assert vectors["format"] == "safevoice-crypto-vectors-v1"
    assert set(vectors) == GROUPS | {"format", "description"}
    for group in GROUPS:
        assert vectors[group]["description"]


def test_base64url_vectors_encode_and_decode(vectors: dict[str, Any]) -> None:
    for v in vectors["base64url"]["valid"]:
        assert b64e(h(v["bytes_hex"])) == v["text"]
        assert b64d(v["text"]) == h(v["bytes_hex"])


def test_base64url_invalid_vectors_are_refused(vectors: dict[str, Any]) -> None:
    for v in vectors["base64url"]["invalid"]:
        with pytest.raises(BadEncoding):
            b64d(v["text"])


def test_lp_vectors_encode_and_split(vectors: dict[str, Any]) -> None:
    for v in vectors["lp"]["vectors"]:
        fields = [h(f) for f in v["fields_hex"]]
        assert lp(*fields).hex() == v["encoded_hex"]
        assert split_lp(h(v["encoded_hex"])) == fields


def test_fingerprint_vectors_match(vectors: dict[str, Any]) -> None:
    for v in vectors["fingerprint"]["vectors"]:
        box = h(v["box_key_hex"]) if v["box_key_hex"] is not None else None
        sign_key = h(v["sign_key_hex"])
        fp = keys.fingerprint(v["kind"], box, sign_key)
        assert fp == v["fingerprint"]
        assert keys.format_fingerprint(fp) == v["display"]
        assert keys.parse_fingerprint(v["display"]) == fp
        assert lp(keys.FINGERPRINT_CONTEXT, v["kind"], box or b"", sign_key).hex() == v["input_hex"]
        assert blake2b(h(v["input_hex"]), size=20).hex() == fp


def test_signature_vectors_match(vectors: dict[str, Any]) -> None:
    for v in vectors["signature"]["vectors"]:
        seed, fields = h(v["seed_hex"]), [h(f) for f in v["fields_hex"]]
        assert keys.sign_public_key(seed).hex() == v["public_key_hex"]
        assert lp(v["context"], *fields).hex() == v["message_hex"]
        signature = keys.sign(seed, v["context"], *fields)
        assert signature.hex() == v["signature_hex"]
        keys.verify(h(v["public_key_hex"]), signature, v["context"], *fields)


def test_follow_up_code_generation_vectors_match(vectors: dict[str, Any]) -> None:
    group = vectors["follow_up_code"]
    assert group["alphabet"] == code.ALPHABET
    for v in group["generate"]:
        display = code.generate_code(v["version"], randomness=h(v["randomness_hex"]))
        assert display == v["display"]
        assert display.replace("-", "") == v["canonical"] == v["body"] + v["canonical"][-2:]
        # The checksum is a position-weighted sum of the body's symbol values modulo 1021.
        value = sum((i + 1) * code.ALPHABET.index(c) for i, c in enumerate(v["body"])) % 1021
        assert value == v["checksum_value"]
        assert v["canonical"][-2:] == code.ALPHABET[value // 32] + code.ALPHABET[value % 32]


def test_follow_up_code_normalisation_vectors_match(vectors: dict[str, Any]) -> None:
    for v in vectors["follow_up_code"]["normalise"]:
        parsed = code.parse_code(v["input"])
        assert (parsed.canonical, parsed.version) == (v["canonical"], v["version"])


def test_follow_up_code_rejection_vectors_are_refused(vectors: dict[str, Any]) -> None:
    reasons = {"checksum": "typo", "length": "characters", "alphabet": "never use"}
    for v in vectors["follow_up_code"]["reject"]:
        with pytest.raises(BadCode, match=reasons[v["reason"]]):
            code.parse_code(v["input"])


def test_follow_up_code_derivation_vector_matches(vectors: dict[str, Any]) -> None:
    (v,) = vectors["follow_up_code"]["derive"]
    salt = h(v["salt_hex"])
    derived = code.derive_reporter_keys(
        code.parse_code(v["code"]), salt=salt, opslimit=v["opslimit"], memlimit=v["memlimit"]
    )
    assert derived.reply_secret.hex() == v["reply_secret_hex"]
    assert derived.reply_public.hex() == v["reply_public_hex"]
    assert derived.sign_seed.hex() == v["sign_seed_hex"]
    assert derived.sign_public.hex() == v["sign_public_hex"]

    # The intermediate values, rebuilt from the description with libsodium directly.
    stretched = nacl.pwhash.argon2id.kdf(
        32, v["canonical"].encode(), salt, opslimit=v["opslimit"], memlimit=v["memlimit"]
    )
    assert stretched.hex() == v["stretched_hex"]
    reply_seed = blake2b(b"safevoice-reply-key-v1", key=stretched)
    assert reply_seed.hex() == v["reply_seed_hex"]
    public, secret = nacl.bindings.crypto_box_seed_keypair(reply_seed)
    assert (public.hex(), secret.hex()) == (v["reply_public_hex"], v["reply_secret_hex"])
    assert blake2b(b"safevoice-reporter-sign-v1", key=stretched).hex() == v["sign_seed_hex"]


def test_padding_vectors_match(vectors: dict[str, Any], fixed: Any) -> None:
    group = vectors["padding"]
    assert tuple(group["buckets"]) == envelope.PAD_BUCKETS
    assert group["max_plaintext"] == envelope.MAX_PLAINTEXT
    key = fixed("padding key")
    for v in group["vectors"]:
        plaintext = bytes(v["plaintext_length"])
        assert envelope.bucket_for(len(plaintext)) == v["padded_length"]
        assert len(envelope.pad(plaintext)) == v["padded_length"]
        sealed = envelope.seal(
            key,
            plaintext,
            case_id=bytes(16),
            kind="message",
            sender="reporter",
            seq=1,
            prev=bytes(32),
            epoch=0,
            sign_seed=fixed("padding sign"),
        )
        assert len(sealed.ct) == v["ciphertext_length"]
    example = group["example"]
    padded = envelope.pad(h(example["plaintext_hex"]))
    assert len(padded) == example["padded_length"]
    assert padded.hex().startswith(example["padded_hex_prefix"])
    assert padded[len(h(example["padded_hex_prefix"])) :] == bytes(len(padded) - 8)


def test_key_commitment_vectors_match(vectors: dict[str, Any]) -> None:
    for v in vectors["key_commitment"]["vectors"]:
        key, nonce = h(v["key_hex"]), h(v["nonce_hex"])
        assert envelope.key_commitment(key, nonce).hex() == v["commitment_hex"]
        assert blake2b(lp(b"safevoice-key-commit-v1", key, nonce)).hex() == v["commitment_hex"]


def test_envelope_vectors_match(vectors: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    group = vectors["envelope"]
    assert group["suite"] == envelope.SUITE
    previous_hash = envelope.GENESIS
    for v in group["vectors"]:
        key, nonce, sign_public = h(v["key_hex"]), h(v["nonce_hex"]), h(v["sign_public_hex"])
        monkeypatch.setattr(envelope, "random_bytes", fake_random(nonce))
        env = envelope.seal(
            key,
            v["plaintext"].encode(),
            case_id=h(v["case_id_hex"]),
            kind=v["kind"],
            sender=v["sender"],
            seq=v["seq"],
            prev=h(v["prev_hex"]),
            epoch=v["epoch"],
            sign_seed=h(v["sign_seed_hex"]),
        )
        assert keys.sign_public_key(h(v["sign_seed_hex"])) == sign_public
        assert h(v["prev_hex"]) == previous_hash
        expected_ad = lp(
            envelope.SUITE,
            h(v["case_id_hex"]),
            v["kind"],
            v["sender"],
            u32(v["seq"]),
            h(v["prev_hex"]),
            u32(v["epoch"]),
        )
        assert env.associated_data() == expected_ad == h(v["associated_data_hex"])
        assert env.key_commit.hex() == v["key_commit_hex"]
        assert env.ct.hex() == v["ciphertext_hex"]
        assert len(env.ct) == v["padded_length"] + envelope.TAG_BYTES
        assert env.sig.hex() == v["signature_hex"]
        assert env.transcript_hash().hex() == v["transcript_hash_hex"]
        assert env.to_json() == v["wire"]

        # The primitives, from the description, with libsodium directly.
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            h(v["ciphertext_hex"]), expected_ad, nonce, key
        )
        assert nacl.bindings.sodium_unpad(padded, len(padded)) == v["plaintext"].encode()
        signed = lp(b"safevoice-message-v1", expected_ad, env.key_commit, nonce, env.ct)
        nacl.signing.VerifyKey(sign_public).verify(signed, env.sig)
        transcript = lp(
            b"safevoice-transcript-v1", expected_ad, env.key_commit, nonce, env.ct, env.sig
        )
        assert blake2b(transcript).hex() == v["transcript_hash_hex"]

        parsed = envelope.Envelope.from_json(v["wire"])
        assert envelope.open_envelope(key, parsed, sign_key=sign_public) == v["plaintext"].encode()
        previous_hash = parsed.transcript_hash()


def test_wrapped_key_vectors_open_to_their_plaintext(vectors: dict[str, Any]) -> None:
    for v in vectors["wrapped_key"]["vectors"]:
        secret, public = h(v["recipient_box_secret_hex"]), h(v["recipient_box_public_hex"])
        case_id, thread = h(v["case_id_hex"]), h(v["thread_key_hex"])
        committee = h(v["committee_key_hex"]) if v["committee_key_hex"] else None
        assert keys.box_public_key(secret) == public
        plaintext = lp(
            envelope.WRAP_CONTEXT,
            case_id,
            u32(v["epoch"]),
            v["recipient"],
            thread,
            committee or b"",
        )
        assert plaintext.hex() == v["plaintext_hex"]
        sealed = h(v["sealed_hex"])
        assert sealed[:32] == keys.box_public_key(h(v["ephemeral_secret_hex"]))
        assert nacl.bindings.crypto_box_seal_open(sealed, public, secret) == plaintext
        assert len(sealed) == v["sealed_size"]
        assert envelope.wrapped_size(v["recipient"], with_committee=committee is not None) == len(
            sealed
        )
        opened = envelope.unwrap_case_keys(
            secret, sealed, case_id=case_id, epoch=v["epoch"], recipient=v["recipient"]
        )
        assert opened == envelope.CaseKeys(thread=thread, committee=committee)
        # A fresh (randomised) wrap of the same keys opens to the same plaintext.
        fresh = envelope.wrap_case_keys(
            public,
            case_id=case_id,
            epoch=v["epoch"],
            recipient=v["recipient"],
            keys=envelope.CaseKeys(thread=thread, committee=committee),
        )
        assert nacl.bindings.crypto_box_seal_open(fresh, public, secret) == plaintext


def test_manifest_vectors_match_and_verify(vectors: dict[str, Any]) -> None:
    for v in vectors["manifest"]["vectors"]:
        roots = [
            keys.keypair_from_secrets("root", "root", "root", sign_seed=h(s), box_secret=None)
            for s in v["root_seeds_hex"]
        ]
        assert [r.public.sign_key.hex() for r in roots] == v["root_public_hex"]
        assert [r.public.fingerprint for r in roots] == v["root_fingerprints"]
        assert [manifest.root_fingerprint(r.public.sign_key) for r in roots] == v[
            "root_fingerprints"
        ]
        payload = v["payload_text"].encode()
        assert canonical_json(json.loads(payload)) == payload
        signed = manifest.sign_manifest(manifest.parse_payload(payload), roots)
        assert signed.payload == payload
        assert [s.sig.hex() for s in signed.signatures] == v["signatures_hex"]
        assert signed.to_json() == v["wire"]
        assert signed.digest == v["digest"] == b64e(blake2b(payload))
        for root, sig in zip(roots, v["signatures_hex"], strict=True):
            message = lp(b"safevoice-manifest-v1", payload)
            nacl.signing.VerifyKey(root.public.sign_key).verify(message, h(sig))

        now = datetime.strptime(v["verify_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        verified = manifest.verify_manifest(
            manifest.SignedManifest.from_json(v["wire"]), pin=v["verify_with_pin"], now=now
        )
        assert verified.pin == v["pin_after"]


def test_proof_of_work_vectors_match(
    vectors: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    group = vectors["proof_of_work"]
    assert group["purpose_codes"] == powmod.PURPOSES
    for v in group["vectors"]:
        key, nonce = h(v["key_hex"]), h(v["nonce_hex"])
        monkeypatch.setattr(powmod, "random_bytes", fake_random(nonce))
        challenge = powmod.issue(
            key, purpose=v["purpose"], difficulty=v["difficulty"], expires=v["expires"]
        )
        header = bytes([1, powmod.PURPOSES[v["purpose"]], v["difficulty"]])
        body = header + u64(v["expires"]) + nonce
        assert body.hex() == v["body_hex"]
        assert challenge.raw == body + h(v["mac_hex"])
        assert blake2b(lp(b"safevoice-challenge-v1", body), size=16, key=key).hex() == v["mac_hex"]
        assert challenge.token == v["token"]
        assert challenge.digest.hex() == v["digest_hex"] == blake2b(challenge.raw).hex()
        powmod.authenticate(key, v["token"], purpose=v["purpose"], now=v["expires"] - 1)

        for example in (v["solution"], v["not_a_solution"], v["bad_stamp"]):
            counter, stamp = u64(example["counter"]), u64(example["stamp"])
            assert b64d(example["solution"]) == counter + stamp
            work_input = lp(b"safevoice-pow-v1", challenge.raw, counter)
            assert work_input.hex() == example["work_input_hex"]
            work = nacl.pwhash.argon2id.kdf(32, work_input, nonce, opslimit=1, memlimit=1024 * 1024)
            assert work.hex() == example["work_output_hex"]
            stamp_input = lp(b"safevoice-pow-stamp-v1", challenge.raw, counter, stamp)
            assert stamp_input.hex() == example["stamp_input_hex"]
            stamp_digest = blake2b(stamp_input)
            assert stamp_digest.hex() == example["stamp_digest_hex"]
            leading = 256 - int.from_bytes(work, "big").bit_length()
            stamp_leading = 256 - int.from_bytes(stamp_digest, "big").bit_length()
            assert (leading >= v["difficulty"] and stamp_leading >= group["stamp_bits"]) is example[
                "solves"
            ]
            assert powmod.solves(challenge, example["solution"]) is example["solves"]
        assert group["stamp_bits"] == powmod.STAMP_BITS
        # 'solution' is the smallest solving counter, with the smallest stamp for it.
        stamp = u64(v["solution"]["stamp"])
        for smaller in range(v["solution"]["counter"]):
            assert not powmod.worked(challenge, b64e(u64(smaller) + stamp))


def test_login_vectors_match(vectors: dict[str, Any]) -> None:
    group = vectors["login"]
    for v in group["vectors"]:
        challenge = powmod.parse(v["challenge_token"])
        assert challenge.expires == v["expires"]
        seed = h(v["seed_hex"])
        assert keys.sign_public_key(seed).hex() == v["public_key_hex"]
        message = lp(b"safevoice-login-v1", v["instance_id"], challenge.raw, u64(v["expires"]))
        assert message.hex() == v["message_hex"]
        signature = login.sign_login(seed, v["instance_id"], challenge)
        assert signature.hex() == v["signature_hex"]
        login.verify_login(h(v["public_key_hex"]), signature, v["instance_id"], challenge)
    for v in group["token_digests"]:
        assert login.token_digest(v["token"]).hex() == v["digest_hex"]
        assert blake2b(lp(b"safevoice-token-v1", v["token"])).hex() == v["digest_hex"]


def test_receipt_vectors_match(vectors: dict[str, Any]) -> None:
    report = vectors["envelope"]["vectors"][0]
    for v in vectors["receipt"]["vectors"]:
        wire = v["wire"]
        assert wire["report_hash"] == b64e(h(report["transcript_hash_hex"]))
        assert wire["case_id"] == b64e(h(report["case_id_hex"]))
        issued = receipt.issue_receipt(
            h(v["instance_seed_hex"]),
            instance_id=wire["instance_id"],
            case_id=wire["case_id"],
            report_hash=b64d(wire["report_hash"]),
            day=wire["day"],
        )
        assert issued.to_json() == wire
        message = lp(
            b"safevoice-receipt-v1",
            wire["instance_id"],
            wire["case_id"],
            b64d(wire["report_hash"]),
            wire["day"],
        )
        assert message.hex() == v["message_hex"]
        receipt.Receipt.from_json(wire).verify(h(v["instance_public_hex"]))


def test_audit_hash_vectors_form_a_chain(vectors: dict[str, Any]) -> None:
    prev = bytes(32)
    for v in vectors["audit_hash"]["vectors"]:
        assert h(v["prev_hex"]) == prev
        digest = hashing.audit_hash(prev, h(v["body_hex"]))
        assert digest.hex() == v["hash_hex"]
        assert blake2b(b"safevoice-audit-v1" + prev + h(v["body_hex"])) == digest
        prev = digest


# The Python reader's sentences for the problem codes of the signed-status vectors (the browser
# reports the codes themselves; tests/web/vectors.mjs checks it against the same vectors).
SIGNED_STATUS_PROBLEMS = [
    (r"thread message (\d+): it names no status of the workflow", "status_invalid"),
    (r"thread message (\d+): it attests another day of receipt", "received_conflict"),
    (r"thread message (\d+): it attests another intake mode", "intake_conflict"),
    (r"the server says the case is \w+, but", "status_unsigned"),
    (r"the server says the case was acknowledged, but", "unsigned_ack"),
    (r"the server says the report was received on [\d-]+, but", "received_unsigned"),
    (r"the server says feedback is due by [\d-]+, but", "feedback_unsigned"),
]


def _signed_status_code(problem: str) -> list[Any]:
    for pattern, name in SIGNED_STATUS_PROBLEMS:
        found = re.match(pattern, problem)
        if found:
            return [name, int(found.group(1)) if found.groups() else None]
    raise AssertionError(f"no code for {problem!r}")


def test_signed_status_vectors_match_the_python_reader(vectors: dict[str, Any]) -> None:
    for v in vectors["signed_status"]["vectors"]:
        read = ReadCase(
            report=None,
            objects=[
                ReadObject(
                    chain="thread",
                    seq=item["seq"],
                    kind="status",
                    sender="member:alice",
                    epoch=0,
                    verified=item["verified"],
                    body=item["body"],
                )
                for item in v["statuses"]
            ],
            problems=[],
            heads={},
            keys=CaseKeys(thread=bytes(32), committee=None),
        )
        state, problems = signed_state(read)
        server = v["server"]
        problems += server_field_problems(
            state,
            status=server["status"],
            outcome=None,
            acknowledged=server["acknowledged_on"] is not None,
            received_on=server["received_on"],
            intake_mode=None,
            feedback_due=server["feedback_due_on"],
        )

        assert dataclasses.asdict(state) == v["signed"], v["name"]
        assert [_signed_status_code(p) for p in problems] == v["problems"], v["name"]


def test_redaction_vectors_match(vectors: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for v in vectors["redaction"]["vectors"]:
        original = envelope.Envelope.from_json(v["original"])
        monkeypatch.setattr(envelope, "random_bytes", fake_random(h(v["nonce_hex"])))
        redacted, record = redaction.redact(
            original,
            original_hash=original.transcript_hash(),
            key=h(v["key_hex"]),
            plaintext=v["plaintext"].encode(),
            by=v["record"]["by"],
            on=v["record"]["on"],
            sign_seed=h(v["sign_seed_hex"]),
            removed=v["removed"],
        )
        assert redacted.to_json() == v["redacted"]
        assert record.to_json() == v["record"]
        assert redacted.associated_data() == original.associated_data()
        digests = [redaction.descriptor_digest(d) for d in v["removed"]]
        assert [d.hex() for d in digests] == v["descriptor_digests_hex"]
        assert all(
            d
            == hashlib.blake2b(
                b"safevoice-file-descriptor-v1" + canonical_json(descriptor), digest_size=32
            ).digest()
            for d, descriptor in zip(digests, v["removed"], strict=True)
        )
        files: list[bytes | str] = [u32(len(digests))] if digests else []
        for descriptor, digest in zip(v["removed"], digests, strict=True):
            files += [descriptor["upload_id"], digest]
        assert v["context"] == ("safevoice-redaction-v2" if digests else "safevoice-redaction-v1")
        message = lp(
            v["context"].encode(),
            original.case_id,
            v["chain"],
            u32(original.seq),
            original.transcript_hash(),
            redacted.transcript_hash(),
            v["record"]["on"],
            v["record"]["by"],
            *files,
        )
        assert message.hex() == v["message_hex"]
        nacl.signing.VerifyKey(h(v["sign_public_hex"])).verify(message, b64d(v["record"]["sig"]))
        redaction.check_redacted(
            redacted,
            redaction.Redaction.from_json(v["record"]),
            sign_keys=[h(v["sign_public_hex"])],
            chain=v["chain"],
            seq=original.seq,
        )
