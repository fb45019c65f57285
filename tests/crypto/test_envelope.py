"""Envelopes: binding to case, position, kind and epoch; key commitment; padding; wrapped keys."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import nacl.bindings
import pytest

from safevoice.crypto import envelope, keys
from safevoice.crypto.encoding import b64d, b64e, canonical_json, lp, u32
from safevoice.crypto.envelope import CaseKeys, Envelope
from safevoice.errors import BadEnvelope, SafeVoiceError, TooLarge, VerificationFailed

PLAINTEXT = b"The night shift skipped the lockout checklist again."


@pytest.fixture(scope="module")
def key() -> bytes:
    return bytes.fromhex("11" * 32)


@pytest.fixture(scope="module")
def case_id() -> bytes:
    return bytes.fromhex("22" * 16)


@pytest.fixture(scope="module")
def sealed(key: bytes, case_id: bytes, alice: keys.KeyPair) -> Envelope:
    return envelope.seal(
        key,
        PLAINTEXT,
        case_id=case_id,
        kind="message",
        sender="member:alice",
        seq=3,
        prev=bytes.fromhex("33" * 32),
        epoch=1,
        sign_seed=alice.sign_seed,
    )


def seal_sized(key: bytes, size: int) -> Envelope:
    return envelope.seal(
        key,
        b"x" * size,
        case_id=bytes(16),
        kind="message",
        sender="reporter",
        seq=1,
        prev=bytes(32),
        epoch=0,
        sign_seed=bytes(32),
    )


def resign(env: Envelope, sign_seed: bytes) -> Envelope:
    return dataclasses.replace(
        env, sig=keys.sign(sign_seed, envelope.SIGN_CONTEXT, *env.signed_fields())
    )


def test_open_envelope_returns_the_plaintext(
    key: bytes, sealed: Envelope, alice: keys.KeyPair
) -> None:
    assert envelope.open_envelope(key, sealed, sign_key=alice.public.sign_key) == PLAINTEXT
    assert envelope.decrypt(key, sealed) == PLAINTEXT


def test_wire_form_round_trips(sealed: Envelope) -> None:
    assert Envelope.from_json(json.loads(canonical_json(sealed.to_json()))) == sealed


def test_ciphertext_hides_the_plaintext(sealed: Envelope) -> None:
    wire = canonical_json(sealed.to_json())
    assert PLAINTEXT not in sealed.ct
    assert b"lockout" not in wire
    assert b64e(PLAINTEXT[:12]).encode() not in wire


def test_every_flipped_byte_of_the_wire_form_fails_to_open(
    key: bytes, sealed: Envelope, alice: keys.KeyPair
) -> None:
    wire = canonical_json(sealed.to_json())
    opened: list[tuple[int, bytes]] = []
    not_json = 0
    for position in range(len(wire)):
        flipped = bytearray(wire)
        flipped[position] ^= 0x01
        try:
            data = json.loads(bytes(flipped))
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both derive from it
            not_json += 1
            continue
        try:
            plaintext = envelope.open_envelope(
                key, Envelope.from_json(data), sign_key=alice.public.sign_key
            )
        except SafeVoiceError:
            continue
        opened.append((position, plaintext))
    assert opened == []
    # Most flips land in base64url text and must be caught by the envelope checks, not JSON.
    assert not_json < len(wire) // 4


MOVES: list[tuple[str, Any]] = [
    ("case_id", bytes.fromhex("23" * 16)),
    ("seq", 4),
    ("seq", 2),
    ("kind", "status"),
    ("kind", "note"),
    ("epoch", 0),
    ("epoch", 2),
    ("prev", bytes.fromhex("34" * 32)),
    ("prev", envelope.GENESIS),
    ("sender", "member:bob"),
]


@pytest.mark.parametrize(("field", "value"), MOVES)
def test_moved_object_fails_the_signature(
    key: bytes, sealed: Envelope, alice: keys.KeyPair, field: str, value: Any
) -> None:
    moved = dataclasses.replace(sealed, **{field: value})
    with pytest.raises(VerificationFailed, match="signature"):
        envelope.open_envelope(key, moved, sign_key=alice.public.sign_key)


@pytest.mark.parametrize(("field", "value"), MOVES)
def test_moved_object_does_not_decrypt_even_when_re_signed(
    key: bytes, sealed: Envelope, alice: keys.KeyPair, field: str, value: Any
) -> None:
    """The associated data binds the position by itself, whoever signs the result."""
    moved = resign(dataclasses.replace(sealed, **{field: value}), alice.sign_seed)
    moved.verify_signature(alice.public.sign_key)
    with pytest.raises(VerificationFailed, match="does not decrypt"):
        envelope.decrypt(key, moved)
    with pytest.raises(VerificationFailed, match="does not decrypt"):
        envelope.open_envelope(key, moved, sign_key=alice.public.sign_key)


def test_wrong_key_fails_the_key_commitment(sealed: Envelope, alice: keys.KeyPair) -> None:
    other = bytes.fromhex("12" * 32)
    with pytest.raises(VerificationFailed, match="not encrypted under this case key"):
        envelope.decrypt(other, sealed)
    with pytest.raises(VerificationFailed, match="not encrypted under this case key"):
        envelope.open_envelope(other, sealed, sign_key=alice.public.sign_key)


def test_commitment_to_another_key_does_not_let_that_key_decrypt(
    key: bytes, sealed: Envelope, alice: keys.KeyPair
) -> None:
    other = bytes.fromhex("12" * 32)
    recommitted = resign(
        dataclasses.replace(sealed, key_commit=envelope.key_commitment(other, sealed.nonce)),
        alice.sign_seed,
    )
    with pytest.raises(VerificationFailed, match="does not decrypt"):
        envelope.decrypt(other, recommitted)
    with pytest.raises(VerificationFailed, match="not encrypted under this case key"):
        envelope.decrypt(key, recommitted)


def test_key_commitment_depends_on_key_and_nonce() -> None:
    k1, k2, n1, n2 = bytes(32), b"\x01" * 32, bytes(24), b"\x01" * 24
    commits = {envelope.key_commitment(k, n) for k in (k1, k2) for n in (n1, n2)}
    assert len(commits) == 4


def test_another_senders_key_fails_the_signature(
    key: bytes, sealed: Envelope, bob: keys.KeyPair
) -> None:
    with pytest.raises(VerificationFailed, match="signature"):
        envelope.open_envelope(key, sealed, sign_key=bob.public.sign_key)


def test_signature_by_another_sender_fails_for_the_named_sender(
    key: bytes, sealed: Envelope, alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    forged = resign(sealed, bob.sign_seed)
    with pytest.raises(VerificationFailed, match="signature"):
        envelope.open_envelope(key, forged, sign_key=alice.public.sign_key)


@pytest.mark.parametrize(
    "change",
    [
        {"sig": bytes(64)},
        {"ct": bytes(528)},
        {"nonce": bytes(24)},
        {"key_commit": bytes(32)},
        {"seq": 4},
        {"epoch": 2},
    ],
)
def test_transcript_hash_covers_every_signed_field_and_the_signature(
    sealed: Envelope, change: dict[str, Any]
) -> None:
    assert dataclasses.replace(sealed, **change).transcript_hash() != sealed.transcript_hash()


def test_next_object_names_the_transcript_hash_as_prev(
    key: bytes, sealed: Envelope, alice: keys.KeyPair
) -> None:
    following = envelope.seal(
        key,
        b"next",
        case_id=sealed.case_id,
        kind="message",
        sender="member:alice",
        seq=sealed.seq + 1,
        prev=sealed.transcript_hash(),
        epoch=sealed.epoch,
        sign_seed=alice.sign_seed,
    )
    assert following.prev == sealed.transcript_hash()
    assert envelope.open_envelope(key, following, sign_key=alice.public.sign_key) == b"next"


def test_each_seal_draws_a_fresh_nonce(key: bytes) -> None:
    assert seal_sized(key, 5).nonce != seal_sized(key, 5).nonce


def test_one_byte_and_a_full_first_bucket_give_ciphertexts_of_the_same_length(key: bytes) -> None:
    first = envelope.PAD_BUCKETS[0]
    one, full = seal_sized(key, 1), seal_sized(key, first - 1)
    assert len(one.ct) == len(full.ct) == first + envelope.TAG_BYTES
    assert len(seal_sized(key, first).ct) > len(full.ct)


@pytest.mark.parametrize("index", range(len(envelope.PAD_BUCKETS)))
def test_plaintexts_within_a_bucket_share_its_ciphertext_length(key: bytes, index: int) -> None:
    bucket = envelope.PAD_BUCKETS[index]
    smallest = envelope.PAD_BUCKETS[index - 1] if index else 1
    expected = bucket + envelope.TAG_BYTES
    assert len(seal_sized(key, smallest).ct) == expected
    assert len(seal_sized(key, bucket - 1).ct) == expected
    if index + 1 < len(envelope.PAD_BUCKETS):
        assert len(seal_sized(key, bucket).ct) == envelope.PAD_BUCKETS[index + 1] + 16
    else:
        with pytest.raises(TooLarge):
            seal_sized(key, bucket)


def test_largest_plaintext_round_trips(key: bytes) -> None:
    env = seal_sized(key, envelope.MAX_PLAINTEXT)
    assert envelope.decrypt(key, env) == b"x" * envelope.MAX_PLAINTEXT


@pytest.mark.parametrize("extra", [1, 2, 10_000])
def test_plaintext_longer_than_the_largest_bucket_raises_too_large(key: bytes, extra: int) -> None:
    with pytest.raises(TooLarge):
        seal_sized(key, envelope.MAX_PLAINTEXT + extra)
    with pytest.raises(TooLarge):
        envelope.pad(bytes(envelope.MAX_PLAINTEXT + extra))


def test_empty_plaintext_round_trips(key: bytes) -> None:
    assert envelope.decrypt(key, seal_sized(key, 0)) == b""


@pytest.mark.parametrize("size", [0, 511, 513, 1024, 4096])
def test_unpad_refuses_a_size_that_is_not_a_bucket(size: int) -> None:
    with pytest.raises(BadEnvelope):
        envelope.unpad(bytes(size))


def test_unpad_refuses_a_bucket_without_a_padding_marker() -> None:
    with pytest.raises(BadEnvelope, match="padding"):
        envelope.unpad(bytes(512))


def test_decrypted_plaintext_without_padding_is_refused(
    key: bytes, alice: keys.KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envelope, "pad", lambda plaintext: plaintext)
    unpadded = envelope.seal(
        key,
        bytes(512),
        case_id=bytes(16),
        kind="message",
        sender="member:alice",
        seq=1,
        prev=bytes(32),
        epoch=0,
        sign_seed=alice.sign_seed,
    )
    monkeypatch.undo()
    with pytest.raises(BadEnvelope, match="padding"):
        envelope.open_envelope(key, unpadded, sign_key=alice.public.sign_key)


def test_seal_refuses_an_unknown_kind(key: bytes) -> None:
    with pytest.raises(BadEnvelope):
        envelope.seal(
            key,
            b"x",
            case_id=bytes(16),
            kind="memo",
            sender="reporter",
            seq=0,
            prev=bytes(32),
            epoch=0,
            sign_seed=bytes(32),
        )


def test_kinds_belong_to_the_thread_or_the_committee_chain() -> None:
    assert {envelope.chain_of(k) for k in envelope.KIND_CHAIN} == {"thread", "committee"}
    assert envelope.chain_of("report") == "thread"
    assert envelope.chain_of("note") == "committee"
    with pytest.raises(BadEnvelope):
        envelope.chain_of("memo")


def test_new_keys_and_case_ids_are_random_and_of_full_size() -> None:
    assert len(envelope.new_key()) == 32
    assert len(envelope.new_case_id()) == 16
    assert envelope.new_key() != envelope.new_key()
    assert envelope.new_case_id() != envelope.new_case_id()


WIRE_DAMAGE: list[tuple[str, Any]] = [
    ("extra field", lambda w: w.update(extra=1)),
    ("missing field", lambda w: w.pop("sig")),
    ("version 2", lambda w: w.update(v=2)),
    ("version as text", lambda w: w.update(v="1")),
    ("seq as boolean", lambda w: w.update(seq=True)),
    ("seq as float", lambda w: w.update(seq=3.0)),
    ("negative seq", lambda w: w.update(seq=-1)),
    ("seq beyond u32", lambda w: w.update(seq=2**32)),
    ("epoch beyond u32", lambda w: w.update(epoch=2**32)),
    ("unknown kind", lambda w: w.update(kind="memo")),
    ("kind not text", lambda w: w.update(kind=1)),
    ("sender not text", lambda w: w.update(sender=None)),
    ("sender too long", lambda w: w.update(sender="m" * 65)),
    ("padded base64", lambda w: w.update(case_id=w["case_id"] + "==")),
    ("standard base64", lambda w: w.update(nonce="+" + w["nonce"][1:])),
    ("short case id", lambda w: w.update(case_id=b64e(bytes(15)))),
    ("short prev", lambda w: w.update(prev=b64e(bytes(31)))),
    ("short nonce", lambda w: w.update(nonce=b64e(bytes(12)))),
    ("short commitment", lambda w: w.update(key_commit=b64e(bytes(16)))),
    ("short signature", lambda w: w.update(sig=b64e(bytes(63)))),
    ("ciphertext not of a bucket size", lambda w: w.update(ct=b64e(b64d(w["ct"])[:-1]))),
    ("ciphertext without tag", lambda w: w.update(ct=b64e(bytes(512)))),
    ("ciphertext as number", lambda w: w.update(ct=5)),
]


@pytest.mark.parametrize("damage", [d for _, d in WIRE_DAMAGE], ids=[n for n, _ in WIRE_DAMAGE])
def test_malformed_wire_form_is_refused_as_bad_envelope(sealed: Envelope, damage: Any) -> None:
    wire = sealed.to_json()
    damage(wire)
    with pytest.raises(BadEnvelope):
        Envelope.from_json(wire)


@pytest.mark.parametrize("value", [None, [], "envelope", 5])
def test_wire_form_that_is_not_an_object_is_refused(value: Any) -> None:
    with pytest.raises(BadEnvelope):
        Envelope.from_json(value)


# --- wrapped case keys -------------------------------------------------------------------------

THREAD, COMMITTEE = bytes.fromhex("44" * 32), bytes.fromhex("55" * 32)


@pytest.fixture(scope="module")
def wrapped(alice: keys.KeyPair, case_id: bytes) -> bytes:
    assert alice.public.box_key is not None
    return envelope.wrap_case_keys(
        alice.public.box_key,
        case_id=case_id,
        epoch=1,
        recipient="member:alice",
        keys=CaseKeys(thread=THREAD, committee=COMMITTEE),
    )


def alice_secret(alice: keys.KeyPair) -> bytes:
    assert alice.box_secret is not None
    return alice.box_secret


def test_wrapped_keys_open_with_the_recipient_secret(
    alice: keys.KeyPair, case_id: bytes, wrapped: bytes
) -> None:
    opened = envelope.unwrap_case_keys(
        alice_secret(alice), wrapped, case_id=case_id, epoch=1, recipient="member:alice"
    )
    assert opened == CaseKeys(thread=THREAD, committee=COMMITTEE)


def test_wrapped_keys_do_not_open_with_another_secret(
    bob: keys.KeyPair, case_id: bytes, wrapped: bytes
) -> None:
    assert bob.box_secret is not None
    with pytest.raises(VerificationFailed, match="not for this private key"):
        envelope.unwrap_case_keys(
            bob.box_secret, wrapped, case_id=case_id, epoch=1, recipient="member:alice"
        )


@pytest.mark.parametrize(
    ("other_case", "epoch", "recipient"),
    [
        (True, 1, "member:alice"),
        (False, 0, "member:alice"),
        (False, 2, "member:alice"),
        (False, 1, "member:bob"),
        (False, 1, "reporter"),
        (False, 1, "member:alice "),
    ],
)
def test_wrapped_keys_open_only_for_their_case_epoch_and_recipient(
    alice: keys.KeyPair,
    case_id: bytes,
    wrapped: bytes,
    other_case: bool,
    epoch: int,
    recipient: str,
) -> None:
    target = bytes.fromhex("23" * 16) if other_case else case_id
    with pytest.raises(VerificationFailed, match="another case, epoch or person"):
        envelope.unwrap_case_keys(
            alice_secret(alice), wrapped, case_id=target, epoch=epoch, recipient=recipient
        )


def test_every_flipped_byte_of_a_wrapped_key_fails_to_open(
    alice: keys.KeyPair, case_id: bytes, wrapped: bytes
) -> None:
    for position in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[position] ^= 0x01
        with pytest.raises(VerificationFailed):
            envelope.unwrap_case_keys(
                alice_secret(alice),
                bytes(flipped),
                case_id=case_id,
                epoch=1,
                recipient="member:alice",
            )


def test_wrapped_keys_without_a_committee_key_open_to_the_thread_key_only(
    alice: keys.KeyPair, case_id: bytes
) -> None:
    assert alice.public.box_key is not None
    sealed = envelope.wrap_case_keys(
        alice.public.box_key,
        case_id=case_id,
        epoch=0,
        recipient="reporter",
        keys=CaseKeys(thread=THREAD, committee=None),
    )
    opened = envelope.unwrap_case_keys(
        alice_secret(alice), sealed, case_id=case_id, epoch=0, recipient="reporter"
    )
    assert opened == CaseKeys(thread=THREAD, committee=None)


@pytest.mark.parametrize("recipient", ["reporter", "member:alice", "archive:vault", "member:é"])
@pytest.mark.parametrize("with_committee", [True, False])
def test_wrapped_size_is_the_exact_size_of_a_wrapped_key(
    alice: keys.KeyPair, recipient: str, with_committee: bool
) -> None:
    assert alice.public.box_key is not None
    sealed = envelope.wrap_case_keys(
        alice.public.box_key,
        case_id=bytes(16),
        epoch=7,
        recipient=recipient,
        keys=CaseKeys(thread=THREAD, committee=COMMITTEE if with_committee else None),
    )
    assert envelope.wrapped_size(recipient, with_committee=with_committee) == len(sealed)


@pytest.mark.parametrize(
    "plaintext",
    [
        lp("safevoice-keys-v0", bytes(16), u32(1), "member:alice", THREAD, COMMITTEE),
        lp(envelope.WRAP_CONTEXT, bytes(16), u32(1), "member:alice", THREAD),
        lp(envelope.WRAP_CONTEXT, bytes(16), u32(1), "member:alice", THREAD, COMMITTEE, b""),
        lp(envelope.WRAP_CONTEXT, bytes(16), u32(1), "member:alice", THREAD[:31], COMMITTEE),
        lp(envelope.WRAP_CONTEXT, bytes(16), u32(1), "member:alice", THREAD, COMMITTEE[:16]),
        lp(envelope.WRAP_CONTEXT, bytes(16), u32(1), "member:alice", THREAD, COMMITTEE)[:-1],
        b"not length-prefixed at all",
    ],
)
def test_wrapped_key_with_another_layout_is_refused(alice: keys.KeyPair, plaintext: bytes) -> None:
    assert alice.public.box_key is not None
    sealed = nacl.bindings.crypto_box_seal(plaintext, alice.public.box_key)
    with pytest.raises(VerificationFailed):
        envelope.unwrap_case_keys(
            alice_secret(alice), sealed, case_id=bytes(16), epoch=1, recipient="member:alice"
        )
