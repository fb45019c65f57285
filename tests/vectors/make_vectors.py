"""Generate ``crypto-v1.json``: known-answer vectors for every SafeVoice v1 format.

The vectors let an independent implementation (the reporter pages' JavaScript on libsodium.js)
check itself byte for byte against the Python reference in ``safevoice.crypto``. Every input is
fixed: secrets and nonces are BLAKE2b digests of readable labels, dates and counters are
constants, and the few places where the reference draws randomness internally
(``envelope.seal`` and ``powmod.issue`` draw their nonce through ``random_bytes``) are fed a fixed
value by patching that name in the module that uses it. ``crypto_box_seal`` draws its ephemeral
key inside libsodium, so the one sealed example is built from its definition with a fixed
ephemeral key instead (see ``_sealed_box``). Running the script twice gives identical bytes.

    .venv/bin/python tests/vectors/make_vectors.py           # (re)write crypto-v1.json
    .venv/bin/python tests/vectors/make_vectors.py --check   # exit 1 if the file is stale

``tests/crypto/test_vectors.py`` checks that the code still reproduces every value.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import nacl.bindings
import nacl.pwhash

from safevoice.crypto import code, envelope, hashing, keys, login, manifest, receipt, redaction
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e, lp, u32, u64

OUTPUT = Path(__file__).with_name("crypto-v1.json")
MIB = 1024 * 1024


def fixed(label: str, size: int = 32) -> bytes:
    """A fixed pseudo-random value: BLAKE2b of a readable label (only to make inputs)."""
    return hashlib.blake2b(f"safevoice-vectors/{label}".encode(), digest_size=size).digest()


@contextmanager
def fixed_random(module: Any, value: bytes) -> Iterator[None]:
    """Make ``module.random_bytes`` return ``value`` (and insist on the size asked for)."""

    def fake(size: int) -> bytes:
        if size != len(value):
            raise AssertionError(f"expected a draw of {len(value)} bytes, not {size}")
        return value

    with mock.patch.object(module, "random_bytes", fake):
        yield


def _sealed_box(message: bytes, recipient_public: bytes, ephemeral_secret: bytes) -> bytes:
    """``crypto_box_seal`` with a chosen ephemeral key, exactly as libsodium defines it:
    ``epk ‖ crypto_box_easy(message, BLAKE2b-192(epk ‖ pk), pk, esk)``."""
    ephemeral_public = keys.box_public_key(ephemeral_secret)
    nonce = hashlib.blake2b(ephemeral_public + recipient_public, digest_size=24).digest()
    boxed = nacl.bindings.crypto_box(message, nonce, recipient_public, ephemeral_secret)
    return ephemeral_public + boxed


def base64url_group() -> dict[str, Any]:
    samples = [b"", b"\x00", b"\xff\xfe", b"\xfb\xff\xbf", b"hello", bytes(range(16))]
    return {
        "description": (
            "base64url (RFC 4648 section 5) without padding. Decoders must refuse padding, "
            "characters outside A-Z a-z 0-9 - _, lengths of 4n+1 characters, and non-canonical "
            "text whose last character carries non-zero unused bits."
        ),
        "valid": [{"bytes_hex": raw.hex(), "text": b64e(raw)} for raw in samples],
        "invalid": [
            {"text": "AA==", "reason": "padding"},
            {"text": "AA=", "reason": "padding"},
            {"text": "AB", "reason": "non-canonical: unused bits set in the last character"},
            {"text": "AAB", "reason": "non-canonical: unused bits set in the last character"},
            {"text": "A", "reason": "length 4n+1"},
            {"text": "AAAAA", "reason": "length 4n+1"},
            {"text": "AA+/", "reason": "standard (not url-safe) alphabet"},
            {"text": "AA A", "reason": "whitespace"},
            {"text": "AAAA\n", "reason": "trailing newline"},
        ],
    }


def lp_group() -> dict[str, Any]:
    cases: list[list[bytes]] = [[], [b""], [b"safevoice-login-v1", b"ab", b""], [u32(7), b"\x00"]]
    return {
        "description": (
            "lp(fields...): each field preceded by its length as an unsigned 32-bit big-endian "
            "integer, then concatenated. Text fields are UTF-8. Every signature, MAC and "
            "derivation input in SafeVoice is built this way."
        ),
        "vectors": [
            {"fields_hex": [f.hex() for f in fields], "encoded_hex": lp(*fields).hex()}
            for fields in cases
        ],
    }


def fingerprint_group() -> dict[str, Any]:
    member = keys.keypair_from_secrets(
        "member",
        "alice",
        "Alice Example",
        sign_seed=fixed("member alice sign"),
        box_secret=fixed("member alice box"),
    )
    root = keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=fixed("root 1 sign"), box_secret=None
    )
    vectors = []
    for pair in (member, root):
        pub = pair.public
        vectors.append(
            {
                "kind": pub.kind,
                "box_key_hex": pub.box_key.hex() if pub.box_key is not None else None,
                "sign_key_hex": pub.sign_key.hex(),
                "input_hex": lp(
                    keys.FINGERPRINT_CONTEXT, pub.kind, pub.box_key or b"", pub.sign_key
                ).hex(),
                "fingerprint": pub.fingerprint,
                "display": keys.format_fingerprint(pub.fingerprint),
            }
        )
    return {
        "description": (
            "fingerprint = hex(BLAKE2b-160(lp('safevoice-fingerprint-v1', kind, box_key or "
            "empty, sign_key))), 40 lowercase hex digits; 'display' groups them by four with "
            "dashes. Keys without an X25519 half (root, auditor, instance) use an empty field."
        ),
        "vectors": vectors,
    }


def signature_group() -> dict[str, Any]:
    cases = [
        ("safevoice-login-v1", [b"instance", b"\x01\x02"]),
        ("safevoice-manifest-v1", [b""]),
        ("safevoice-receipt-v1", []),
    ]
    vectors = []
    for i, (context, fields) in enumerate(cases):
        seed = fixed(f"signature {i}")
        vectors.append(
            {
                "seed_hex": seed.hex(),
                "public_key_hex": keys.sign_public_key(seed).hex(),
                "context": context,
                "fields_hex": [f.hex() for f in fields],
                "message_hex": lp(context, *fields).hex(),
                "signature_hex": keys.sign(seed, context, *fields).hex(),
            }
        )
    return {
        "description": (
            "Ed25519 (RFC 8032, deterministic) over message = lp(context, fields...). "
            "seed_hex is the 32-byte Ed25519 seed (libsodium crypto_sign_seed_keypair)."
        ),
        "vectors": vectors,
    }


SAMPLE_CODE_RANDOMNESS = bytes(range(14))


def follow_up_code_group() -> dict[str, Any]:
    generate: list[dict[str, Any]] = []
    for randomness in (SAMPLE_CODE_RANDOMNESS, bytes(14), b"\xff" * 14, fixed("code 3", 14)):
        display = code.generate_code(1, randomness=randomness)
        canonical = display.replace("-", "")
        generate.append(
            {
                "version": 1,
                "randomness_hex": randomness.hex(),
                "body": canonical[:-2],
                "checksum_value": sum(
                    (i + 1) * code.ALPHABET.index(ch) for i, ch in enumerate(canonical[:-2])
                )
                % code.CHECK_MODULUS,
                "canonical": canonical,
                "display": display,
            }
        )
    sample = code.generate_code(1, randomness=SAMPLE_CODE_RANDOMNESS)
    canonical = sample.replace("-", "")
    normalise = [
        {"input": text, "canonical": canonical, "version": 1}
        for text in (
            sample,
            sample.lower(),
            canonical,
            " ".join(sample.split("-")),
            sample.replace("0", "O"),
            sample.replace("1", "I"),
            sample.replace("1", "l"),
            f"  {sample.lower().replace('0', 'o')}\n",
        )
    ]
    # A code with a V shows the one extra confusable (U is not in the alphabet; it reads as V).
    v_code = code.generate_code(1, randomness=fixed("code 3", 14))
    assert "V" in v_code
    normalise.append(
        {"input": v_code.replace("V", "u"), "canonical": v_code.replace("-", ""), "version": 1}
    )
    swapped = next(
        i for i in range(len(canonical) - 1) if canonical[i] != canonical[i + 1] and i > 0
    )
    last = "0" if canonical[-1] != "0" else "1"
    sixth = "Z" if canonical[5] != "Z" else "Y"
    transposed = (
        canonical[:swapped] + canonical[swapped + 1] + canonical[swapped] + canonical[swapped + 2 :]
    )
    reject = [
        {"input": canonical[:-1] + last, "reason": "checksum"},
        {"input": canonical[:5] + sixth + canonical[6:], "reason": "checksum"},
        {"input": transposed, "reason": "checksum"},
        {"input": canonical[:-1], "reason": "length"},
        {"input": canonical + "0", "reason": "length"},
        {"input": canonical[:-1] + "!", "reason": "alphabet"},
        {"input": "", "reason": "length"},
    ]

    salt = fixed("instance salt", 16)
    opslimit, memlimit = 2, 64 * MIB
    parsed = code.parse_code(sample)
    derived = code.derive_reporter_keys(parsed, salt=salt, opslimit=opslimit, memlimit=memlimit)
    stretched = nacl.pwhash.argon2id.kdf(
        32, parsed.canonical.encode("ascii"), salt, opslimit=opslimit, memlimit=memlimit
    )
    derive = {
        "code": sample,
        "canonical": parsed.canonical,
        "salt_hex": salt.hex(),
        "opslimit": opslimit,
        "memlimit": memlimit,
        "stretched_hex": stretched.hex(),
        "reply_seed_hex": keys.blake2b(code.REPLY_KEY_CONTEXT, key=stretched).hex(),
        "reply_secret_hex": derived.reply_secret.hex(),
        "reply_public_hex": derived.reply_public.hex(),
        "sign_seed_hex": derived.sign_seed.hex(),
        "sign_public_hex": derived.sign_public.hex(),
    }
    return {
        "description": (
            "Follow-up code: body = ALPHABET[version] followed by the top 110 bits of 14 "
            "random bytes as 22 characters (5 bits each, most significant first) of the "
            "alphabet '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; checksum_value = "
            "sum((i + 1) * index of body[i] in the alphabet) mod 1021, written as the 2 "
            "characters ALPHABET[value // 32] ALPHABET[value % 32]; "
            "canonical = body ‖ checksum (25 characters), display = groups of 5 joined by '-'. "
            "Normalisation: upper-case, drop whitespace and '-', map O→0, I→1, L→1, U→V, then "
            "require 25 alphabet characters and a matching checksum; version = index of the "
            "first character, which must not be 0. Derivation: S (stretched_hex) = "
            "Argon2id13(password = canonical as ASCII, salt, opslimit, memlimit, 32 bytes); "
            "reply_seed = BLAKE2b-256(message = "
            "'safevoice-reply-key-v1', key = S) → crypto_box_seed_keypair(reply_seed); "
            "sign_seed = BLAKE2b-256(message = 'safevoice-reporter-sign-v1', key = S) → "
            "Ed25519 seed."
        ),
        "alphabet": code.ALPHABET,
        "generate": generate,
        "normalise": normalise,
        "reject": reject,
        "derive": [derive],
    }


def padding_group() -> dict[str, Any]:
    lengths = [0, 1, 100, 511, 512, 2047, 2048, 8191, 8192, 32767, 131071, 524287]
    return {
        "description": (
            "Plaintext is padded with libsodium sodium_pad (ISO/IEC 7816-4: 0x80 then zero "
            "bytes) to the smallest bucket strictly larger than its length, so there is always "
            "at least one padding byte; XChaCha20-Poly1305 adds 16 bytes. A plaintext of "
            "max_plaintext + 1 bytes or more is refused."
        ),
        "buckets": list(envelope.PAD_BUCKETS),
        "max_plaintext": envelope.MAX_PLAINTEXT,
        "vectors": [
            {
                "plaintext_length": n,
                "padded_length": envelope.bucket_for(n),
                "ciphertext_length": envelope.bucket_for(n) + envelope.TAG_BYTES,
            }
            for n in lengths
        ],
        "example": {
            "plaintext_hex": b"abc".hex(),
            "padded_length": 512,
            "padded_hex_prefix": envelope.pad(b"abc")[:8].hex(),
            "rest": "zero bytes up to the padded length",
        },
    }


def key_commitment_group() -> dict[str, Any]:
    key, nonce = fixed("case key thread"), fixed("commit nonce", 24)
    return {
        "description": (
            "key_commit = BLAKE2b-256(lp('safevoice-key-commit-v1', key, nonce)); a reader "
            "compares it before decrypting, so an object opens under exactly one key."
        ),
        "vectors": [
            {
                "key_hex": key.hex(),
                "nonce_hex": nonce.hex(),
                "commitment_hex": envelope.key_commitment(key, nonce).hex(),
            }
        ],
    }


def _envelope_vector(
    *,
    key: bytes,
    nonce: bytes,
    case_id: bytes,
    kind: str,
    sender: str,
    seq: int,
    prev: bytes,
    epoch: int,
    plaintext: bytes,
    sign_seed: bytes,
) -> tuple[dict[str, Any], envelope.Envelope]:
    with fixed_random(envelope, nonce):
        env = envelope.seal(
            key,
            plaintext,
            case_id=case_id,
            kind=kind,
            sender=sender,
            seq=seq,
            prev=prev,
            epoch=epoch,
            sign_seed=sign_seed,
        )
    vector = {
        "key_hex": key.hex(),
        "nonce_hex": nonce.hex(),
        "case_id_hex": case_id.hex(),
        "kind": kind,
        "sender": sender,
        "seq": seq,
        "prev_hex": prev.hex(),
        "epoch": epoch,
        "plaintext": plaintext.decode("utf-8"),
        "sign_seed_hex": sign_seed.hex(),
        "sign_public_hex": keys.sign_public_key(sign_seed).hex(),
        "padded_length": envelope.bucket_for(len(plaintext)),
        "associated_data_hex": env.associated_data().hex(),
        "key_commit_hex": env.key_commit.hex(),
        "ciphertext_hex": env.ct.hex(),
        "signature_hex": env.sig.hex(),
        "transcript_hash_hex": env.transcript_hash().hex(),
        "wire": env.to_json(),
    }
    return vector, env


def envelope_group() -> tuple[dict[str, Any], envelope.Envelope, envelope.Envelope]:
    key = fixed("case key thread")
    case_id = fixed("case id", envelope.CASE_ID_BYTES)
    report, report_env = _envelope_vector(
        key=key,
        nonce=fixed("envelope nonce 0", 24),
        case_id=case_id,
        kind="report",
        sender="reporter",
        seq=0,
        prev=envelope.GENESIS,
        epoch=0,
        plaintext=b"The forklift brakes failed twice this week.",
        sign_seed=fixed("reporter sign seed"),
    )
    reply, reply_env = _envelope_vector(
        key=key,
        nonce=fixed("envelope nonce 1", 24),
        case_id=case_id,
        kind="message",
        sender="member:alice",
        seq=1,
        prev=report_env.transcript_hash(),
        epoch=0,
        plaintext=b"Thank you. Which shift were you on?",
        sign_seed=fixed("member alice sign"),
    )
    group = {
        "description": (
            "Envelope v1. suite = 'safevoice-xchacha20poly1305-ed25519-blake2b-v1'. "
            "associated_data = lp(suite, case_id, kind, sender, u32be(seq), prev, u32be(epoch)). "
            "key_commit = BLAKE2b-256(lp('safevoice-key-commit-v1', key, nonce)). "
            "ct = XChaCha20-Poly1305-IETF(key, nonce, sodium_pad(plaintext, bucket), "
            "associated_data). sig = Ed25519(sign_seed, lp('safevoice-message-v1', "
            "associated_data, key_commit, nonce, ct)). transcript_hash = BLAKE2b-256("
            "lp('safevoice-transcript-v1', associated_data, key_commit, nonce, ct, sig)); it "
            "is the prev of the next object of the same chain; the first object's prev is 32 "
            "zero bytes. 'wire' is the JSON form (binary as unpadded base64url); it is signed "
            "through its fields, and a reader parses it strictly (exact field set, canonical "
            "base64url, exact sizes). The second vector is the reply that follows the first."
        ),
        "suite": envelope.SUITE,
        "vectors": [report, reply],
    }
    return group, report_env, reply_env


def wrapped_key_group() -> dict[str, Any]:
    box_secret = fixed("member alice box")
    box_public = keys.box_public_key(box_secret)
    case_id = fixed("case id", envelope.CASE_ID_BYTES)
    thread, committee = fixed("case key thread"), fixed("case key committee")
    vectors = []
    for recipient, committee_key in (("member:alice", committee), ("reporter", None)):
        plaintext = lp(
            envelope.WRAP_CONTEXT, case_id, u32(0), recipient, thread, committee_key or b""
        )
        ephemeral = fixed(f"wrap ephemeral {recipient}")
        sealed = _sealed_box(plaintext, box_public, ephemeral)
        vectors.append(
            {
                "recipient_box_secret_hex": box_secret.hex(),
                "recipient_box_public_hex": box_public.hex(),
                "case_id_hex": case_id.hex(),
                "epoch": 0,
                "recipient": recipient,
                "thread_key_hex": thread.hex(),
                "committee_key_hex": committee_key.hex() if committee_key else None,
                "plaintext_hex": plaintext.hex(),
                "sealed_size": envelope.wrapped_size(
                    recipient, with_committee=committee_key is not None
                ),
                "ephemeral_secret_hex": ephemeral.hex(),
                "sealed_hex": sealed.hex(),
            }
        )
    return {
        "description": (
            "Wrapped case keys: crypto_box_seal(lp('safevoice-keys-v1', case_id, u32be(epoch), "
            "recipient label, K_thread, K_committee or empty), recipient X25519 public key). "
            "Sealing is randomised: an implementation must build plaintext_hex exactly and must "
            "open sealed_hex with the recipient secret key to that plaintext (then check case "
            "id, epoch and label). sealed_hex was made with the given ephemeral secret as "
            "libsodium defines crypto_box_seal: epk ‖ crypto_box_easy(plaintext, "
            "BLAKE2b-192(epk ‖ recipient public key), recipient public key, ephemeral secret)."
        ),
        "vectors": vectors,
    }


def _manifest(version: int, root_fp: str, issued: datetime, expires: datetime) -> manifest.Manifest:
    alice = keys.keypair_from_secrets(
        "member",
        "alice",
        "Alice Example",
        sign_seed=fixed("member alice sign"),
        box_secret=fixed("member alice box"),
    )
    bob = keys.keypair_from_secrets(
        "member",
        "bob",
        "Bob Example",
        sign_seed=fixed("member bob sign"),
        box_secret=fixed("member bob box"),
    )
    carol = keys.keypair_from_secrets(
        "auditor", "carol", "Carol Auditor", sign_seed=fixed("auditor carol"), box_secret=None
    )
    return manifest.Manifest(
        instance_id="vectors.example",
        version=version,
        issued_at=issued,
        expires_at=expires,
        root=root_fp,
        instance_salt=fixed("instance salt", 16),
        code_kdf=(manifest.CodeKdf(version=1, opslimit=2, memlimit=64 * MIB),),
        envelope_versions=(1,),
        members=(alice.public, bob.public),
        auditors=(carol.public,),
        audit_keys=(
            manifest.AuditKey(key=keys.sign_public_key(fixed("instance key")), from_seq=0),
        ),
    )


def manifest_group() -> dict[str, Any]:
    old_root = keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=fixed("root 1 sign"), box_secret=None
    )
    new_root = keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=fixed("root 2 sign"), box_secret=None
    )
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    expires = datetime(2030, 3, 1, tzinfo=UTC)
    vectors = []
    for label, version, named_root, signers in (
        ("signed by the root", 3, old_root, [old_root]),
        ("rotation cross-signed by old and new root", 4, new_root, [old_root, new_root]),
    ):
        m = _manifest(version, named_root.public.fingerprint, issued, expires)
        signed = manifest.sign_manifest(m, signers)
        vectors.append(
            {
                "case": label,
                "root_seeds_hex": [r.sign_seed.hex() for r in signers],
                "root_public_hex": [r.public.sign_key.hex() for r in signers],
                "root_fingerprints": [r.public.fingerprint for r in signers],
                "payload_text": signed.payload.decode("utf-8"),
                "signatures_hex": [s.sig.hex() for s in signed.signatures],
                "digest": signed.digest,
                "verify_with_pin": old_root.public.fingerprint,
                "verify_at": "2030-02-01T00:00:00Z",
                "pin_after": named_root.public.fingerprint,
                "wire": signed.to_json(),
            }
        )
    return {
        "description": (
            "Manifest: payload = canonical JSON (keys sorted, no spaces, UTF-8) of the manifest "
            "object; each signature = Ed25519(root seed, lp('safevoice-manifest-v1', payload)) "
            "and root_fp = fingerprint('root', none, root key). Wire form: {payload: "
            "b64url(payload), signatures: [{root_fp, root_key, sig}]}. digest = "
            "b64url(BLAKE2b-256(payload)), what a client remembers with the version. A client "
            "checks a signature from its pinned root before parsing, then that the payload is "
            "its own canonical serialisation, the named root signed it, it has not expired "
            "and is valid for at most 90 days, and the limits; pin_after is the root "
            "fingerprint to pin afterwards (the new root after a rotation)."
        ),
        "vectors": vectors,
    }


def proof_of_work_group() -> tuple[dict[str, Any], powmod.Challenge]:
    key, nonce = fixed("challenge key"), fixed("challenge nonce", powmod.NONCE_BYTES)
    purpose, difficulty, expires = "submit", 4, 1_893_456_000
    with fixed_random(powmod, nonce):
        challenge = powmod.issue(key, purpose=purpose, difficulty=difficulty, expires=expires)
    body = challenge.raw[: -powmod.MAC_BYTES]

    def work(counter: int) -> bytes:
        return powmod._work(challenge, u64(counter))

    def works(counter: int) -> bool:
        return powmod._leading_zero_bits(work(counter)) >= difficulty

    def stamps(counter: int, stamp: int) -> bool:
        digest = powmod.stamp_digest(challenge, u64(counter), u64(stamp))
        return powmod._leading_zero_bits(digest) >= powmod.STAMP_BITS

    def example(counter: int, stamp: int, solves: bool) -> dict[str, Any]:
        return {
            "counter": counter,
            "stamp": stamp,
            "solution": b64e(u64(counter) + u64(stamp)),
            "work_input_hex": lp(powmod.WORK_CONTEXT, challenge.raw, u64(counter)).hex(),
            "work_output_hex": work(counter).hex(),
            "stamp_input_hex": lp(
                powmod.STAMP_CONTEXT, challenge.raw, u64(counter), u64(stamp)
            ).hex(),
            "stamp_digest_hex": powmod.stamp_digest(challenge, u64(counter), u64(stamp)).hex(),
            "solves": solves,
        }

    def first_stamp(counter: int) -> int:
        return next(v for v in range(1 << 24) if stamps(counter, v))

    counter = next(c for c in range(1 << 16) if works(c))
    failing = next(c for c in range(1 << 16) if not works(c))
    unstamped = next(v for v in range(1 << 16) if not stamps(counter, v))
    solution = example(counter, first_stamp(counter), True)
    not_a_solution = example(failing, first_stamp(failing), False)
    bad_stamp = example(counter, unstamped, False)
    group = {
        "description": (
            "Challenge: body = u8 version (1) ‖ u8 purpose code ‖ u8 difficulty ‖ u64be expiry "
            "(Unix seconds) ‖ 16-byte nonce; mac = BLAKE2b-128(message = lp("
            "'safevoice-challenge-v1', body), key = server challenge key); token = "
            "b64url(body ‖ mac); digest = BLAKE2b-256(body ‖ mac) is what the server remembers "
            "once spent. A solution is 16 bytes (b64url): an 8-byte counter such that "
            "Argon2id13(password = lp('safevoice-pow-v1', body ‖ mac, counter), salt = nonce, "
            "opslimit 1, memlimit 1 MiB, 32 bytes) starts with 'difficulty' zero bits, then an "
            "8-byte stamp such that BLAKE2b-256(lp('safevoice-pow-stamp-v1', body ‖ mac, "
            "counter, stamp)) starts with 'stamp_bits' zero bits. 'solution' is the smallest "
            "counter from 0 that works with the smallest stamp from 0 for it; 'not_a_solution' "
            "the smallest counter that does not work (with a valid stamp); 'bad_stamp' the "
            "solving counter with the smallest stamp that fails."
        ),
        "purpose_codes": powmod.PURPOSES,
        "stamp_bits": powmod.STAMP_BITS,
        "vectors": [
            {
                "key_hex": key.hex(),
                "nonce_hex": nonce.hex(),
                "purpose": purpose,
                "difficulty": difficulty,
                "expires": expires,
                "body_hex": body.hex(),
                "mac_hex": challenge.raw[-powmod.MAC_BYTES :].hex(),
                "token": challenge.token,
                "digest_hex": challenge.digest.hex(),
                "solution": solution,
                "not_a_solution": not_a_solution,
                "bad_stamp": bad_stamp,
            }
        ],
    }
    return group, challenge


def login_group() -> dict[str, Any]:
    key, nonce = fixed("challenge key"), fixed("login challenge nonce", powmod.NONCE_BYTES)
    with fixed_random(powmod, nonce):
        challenge = powmod.issue(key, purpose="member-login", difficulty=0, expires=1_893_456_000)
    seed = fixed("member alice sign")
    instance_id = "vectors.example"
    token = b64e(fixed("session token"))
    return {
        "description": (
            "Login: signature = Ed25519(seed, lp('safevoice-login-v1', instance id, challenge "
            "bytes (body ‖ mac, the decoded token), u64be(expiry))). Session token digest "
            "(what the server stores) = BLAKE2b-256(lp('safevoice-token-v1', token text))."
        ),
        "vectors": [
            {
                "instance_id": instance_id,
                "challenge_token": challenge.token,
                "expires": challenge.expires,
                "seed_hex": seed.hex(),
                "public_key_hex": keys.sign_public_key(seed).hex(),
                "message_hex": lp(
                    login.LOGIN_CONTEXT, *login.login_fields(instance_id, challenge)
                ).hex(),
                "signature_hex": login.sign_login(seed, instance_id, challenge).hex(),
            }
        ],
        "token_digests": [{"token": token, "digest_hex": login.token_digest(token).hex()}],
    }


def redaction_group(reply: envelope.Envelope) -> dict[str, Any]:
    key = fixed("case key thread")
    seed = fixed("member bob sign")
    kept = {
        "upload_id": b64e(fixed("kept upload", 16)),
        "key": b64e(fixed("kept file key")),
        "header": b64e(fixed("kept file header", 24)),
        "name": "rota.pdf",
        "type": "application/pdf",
        "size": 1200,
        "chunks": 1,
    }
    removed = {**kept, "upload_id": b64e(fixed("removed upload", 16)), "name": "address.jpg"}
    removed |= {"key": b64e(fixed("removed file key")), "type": "image/jpeg"}
    cases = [
        (fixed("redaction nonce", 24), [], []),
        (fixed("redaction files nonce", 24), [kept], [removed]),
    ]
    vectors = []
    for nonce, attachments, gone in cases:
        plaintext = json.dumps(
            {
                "attachments": attachments,
                "format": "safevoice-message-v1",
                "text": "Which [removed]?",
            },
            separators=(",", ":"),
        ).encode()
        with fixed_random(envelope, nonce):
            redacted, record = redaction.redact(
                reply,
                original_hash=reply.transcript_hash(),
                key=key,
                plaintext=plaintext,
                by="member:bob",
                on="2030-02-03",
                sign_seed=seed,
                removed=gone,
            )
        fields = record.fields(case_id=reply.case_id, chain=reply.chain, seq=reply.seq)
        vectors.append(
            {
                "key_hex": key.hex(),
                "nonce_hex": nonce.hex(),
                "plaintext": plaintext.decode("utf-8"),
                "sign_seed_hex": seed.hex(),
                "sign_public_hex": keys.sign_public_key(seed).hex(),
                "chain": reply.chain,
                "original": reply.to_json(),
                "removed": gone,
                "descriptor_digests_hex": [redaction.descriptor_digest(d).hex() for d in gone],
                "context": record.context,
                "message_hex": lp(record.context, *fields).hex(),
                "redacted": redacted.to_json(),
                "record": record.to_json(),
            }
        )
    return {
        "description": (
            "Redaction (protocol 7.6) of the envelope group's second vector, by another "
            "member. The redacted version is an envelope with the original's associated data, "
            "sealed under the same key with a fresh nonce and signed by the redacting member. "
            "record.sig = Ed25519(member seed, lp('safevoice-redaction-v1', case_id (16 "
            "bytes), chain, u32be(seq), hash (the original's transcript hash), digest (the "
            "redacted version's transcript hash), on, by)). A reader takes 'hash' as the "
            "object's place in its chain. The second vector also removes an attached file: "
            "record.files lists {id: its upload id, digest: BLAKE2b-256('safevoice-file-"
            "descriptor-v1' || canonical JSON of its descriptor)}, and the signature is over "
            "lp('safevoice-redaction-v2', the same fields, u32be(number of files), then each "
            "file's id and digest)."
        ),
        "vectors": vectors,
    }


def receipt_group(report: envelope.Envelope) -> dict[str, Any]:
    seed = fixed("instance key")
    r = receipt.issue_receipt(
        seed,
        instance_id="vectors.example",
        case_id=b64e(report.case_id),
        report_hash=report.transcript_hash(),
        day="2030-02-01",
    )
    return {
        "description": (
            "Receipt: sig = Ed25519(instance seed, lp('safevoice-receipt-v1', instance id, "
            "case id (its base64url text), report hash (the transcript hash of the report "
            "envelope, 32 bytes), day 'YYYY-MM-DD')). The instance key is an audit key of "
            "the manifest."
        ),
        "vectors": [
            {
                "instance_seed_hex": seed.hex(),
                "instance_public_hex": keys.sign_public_key(seed).hex(),
                "message_hex": lp(
                    receipt.RECEIPT_CONTEXT,
                    r.instance_id,
                    r.case_id,
                    r.report_hash,
                    r.day,
                ).hex(),
                "wire": r.to_json(),
            }
        ],
    }


def _status(seq: int, status: str, *, verified: bool = True, **extra: Any) -> dict[str, Any]:
    body = {"format": "safevoice-status-v1", "status": status, "outcome": None, "text": "."}
    body.update({"on": f"2030-02-{seq + 1:02d}", **extra})
    return {"seq": seq, "verified": verified, "body": body}


ATTESTED = {"received_on": "2030-02-01", "intake_mode": "e2e", "feedback_due": "2030-05-02"}


def signed_status_group() -> dict[str, Any]:
    """What the readers take as signed from a thread's verified status objects, and which of
    the server's fields (of the reporter's view) they flag. Pure logic, no cryptography: the
    objects are given as the reader has them after verification."""
    server = {
        "status": "investigating",
        "acknowledged_on": "2030-02-03",
        "received_on": "2030-02-01",
        "feedback_due_on": "2030-05-02",
    }
    cases: list[tuple[str, list[dict[str, Any]], dict[str, Any], list[list[Any]]]] = [
        (
            "attested and agreeing",
            [_status(2, "acknowledged", **ATTESTED), _status(4, "investigating", **ATTESTED)],
            server,
            [],
        ),
        (
            "closed in the database",
            [_status(2, "acknowledged", **ATTESTED), _status(4, "investigating", **ATTESTED)],
            {**server, "status": "closed"},
            [["status_unsigned", None]],
        ),
        (
            "acknowledged in the database only",
            [],
            {**server, "status": "acknowledged"},
            [["status_unsigned", None], ["unsigned_ack", None]],
        ),
        (
            "an acknowledgement that did not verify",
            [_status(2, "acknowledged", verified=False, **ATTESTED)],
            {**server, "status": "acknowledged"},
            [["status_unsigned", None], ["unsigned_ack", None]],
        ),
        (
            "day of receipt and deadline moved",
            [_status(2, "acknowledged", **ATTESTED), _status(4, "investigating")],
            {**server, "received_on": "2029-12-01", "feedback_due_on": "2030-08-02"},
            [["received_unsigned", None], ["feedback_unsigned", None]],
        ),
        (
            "a later status attests another day and mode",
            [
                _status(2, "acknowledged", **ATTESTED),
                _status(4, "investigating", **{**ATTESTED, "received_on": "2029-12-01"}),
                _status(5, "action_planned", **{**ATTESTED, "intake_mode": "server_sealed"}),
            ],
            {**server, "status": "action_planned"},
            [["received_conflict", 4], ["intake_conflict", 5]],
        ),
        (
            "a status outside the workflow, then a closure",
            [
                _status(2, "acknowledged"),
                _status(3, "archived"),
                {
                    **_status(4, "closed"),
                    "body": {**_status(4, "closed")["body"], "outcome": "substantiated"},
                },
            ],
            {**server, "status": "closed", "received_on": "2030-02-01"},
            [["status_invalid", 3]],
        ),
        (
            "written before statuses were attested",
            [_status(2, "acknowledged"), _status(4, "investigating")],
            server,
            [],
        ),
    ]
    vectors = []
    for name, statuses, shown, problems in cases:
        signed: dict[str, Any] = {
            "status": "received",
            "outcome": None,
            "acknowledged_on": None,
            "changed_on": None,
            "received_on": None,
            "intake_mode": None,
            "feedback_due": None,
            "seq": None,
        }
        for item in statuses:
            body = item["body"]
            if not item["verified"] or body["status"] not in STATUS_MOVES:
                continue
            signed = {
                "status": body["status"],
                "outcome": body["outcome"] if body["status"] == "closed" else None,
                "acknowledged_on": body["on"]
                if body["status"] == "acknowledged"
                else signed["acknowledged_on"],
                "changed_on": body["on"],
                "received_on": signed["received_on"] or body.get("received_on"),
                "intake_mode": signed["intake_mode"] or body.get("intake_mode"),
                "feedback_due": body.get("feedback_due") or signed["feedback_due"],
                "seq": item["seq"],
            }
        vectors.append(
            {
                "name": name,
                "statuses": statuses,
                "server": shown,
                "signed": signed,
                "problems": problems,
            }
        )
    return {
        "description": (
            "Signed status (protocol 7.5): from the verified status objects of a thread, in "
            "order, the status and outcome of the last, the day of acknowledgement, the day of "
            "receipt and intake mode first attested, the last feedback deadline named; then "
            "the problems, as codes with the thread position where one belongs: status "
            "objects that name no status of the workflow or attest another day of receipt or "
            "intake mode than an earlier one, then the server's status, acknowledged_on, "
            "received_on and feedback_due_on where they disagree with what is signed."
        ),
        "vectors": vectors,
    }


STATUS_MOVES = ("acknowledged", "investigating", "action_planned", "closed")


def audit_hash_group() -> dict[str, Any]:
    prev = bytes(32)
    vectors = []
    for body in (b'{"event":"case.received"}', b'{"event":"case.purged"}'):
        digest = hashing.audit_hash(prev, body)
        vectors.append({"prev_hex": prev.hex(), "body_hex": body.hex(), "hash_hex": digest.hex()})
        prev = digest
    return {
        "description": (
            "Audit log: hash = BLAKE2b-256('safevoice-audit-v1' ‖ prev ‖ stored bytes), plain "
            "concatenation (prev is always 32 bytes; the first entry's prev is 32 zero bytes). "
            "The vectors form a chain of two entries."
        ),
        "vectors": vectors,
    }


def build() -> dict[str, Any]:
    envelopes, report, reply = envelope_group()
    proof_of_work, _ = proof_of_work_group()
    return {
        "format": "safevoice-crypto-vectors-v1",
        "description": (
            "Known-answer vectors for SafeVoice's v1 cryptographic formats, generated by "
            "tests/vectors/make_vectors.py from fixed inputs and checked by "
            "tests/crypto/test_vectors.py. Binary values ending in _hex are lowercase hex; "
            "values in 'wire' objects and tokens are base64url without padding; u32be/u64be "
            "are big-endian unsigned integers; '‖' is concatenation; BLAKE2b-N is unkeyed "
            "BLAKE2b with an N-bit output unless a key is given."
        ),
        "base64url": base64url_group(),
        "lp": lp_group(),
        "fingerprint": fingerprint_group(),
        "signature": signature_group(),
        "follow_up_code": follow_up_code_group(),
        "padding": padding_group(),
        "key_commitment": key_commitment_group(),
        "envelope": envelopes,
        "wrapped_key": wrapped_key_group(),
        "manifest": manifest_group(),
        "proof_of_work": proof_of_work,
        "login": login_group(),
        "receipt": receipt_group(report),
        "audit_hash": audit_hash_group(),
        "signed_status": signed_status_group(),
        "redaction": redaction_group(reply),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    text = render(build())
    if args.check:
        return 0 if OUTPUT.read_text(encoding="utf-8") == text else 1
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
