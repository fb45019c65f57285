"""Long-term keys: fingerprints, context-bound signatures, public key files and sealed key files."""

from __future__ import annotations

import copy
from typing import Any

import nacl.pwhash
import pytest

from safevoice.crypto import keys
from safevoice.crypto.encoding import b64d, b64e
from safevoice.errors import BadEncoding, SafeVoiceError, VerificationFailed, WrongPassphrase

# libsodium's smallest Argon2id cost keeps these tests fast; open_keyfile accepts it.
FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def keyfile(alice: keys.KeyPair) -> dict[str, Any]:
    return keys.seal_keyfile(alice, PASSPHRASE, **FAST)


def test_fingerprint_is_160_bits_of_lowercase_hex(alice: keys.KeyPair) -> None:
    fp = alice.public.fingerprint
    assert len(fp) == 40
    assert fp == fp.lower()
    assert int(fp, 16).bit_length() <= 160


def test_fingerprint_depends_on_kind_and_on_both_keys(alice: keys.KeyPair) -> None:
    pub = alice.public
    base = keys.fingerprint("member", pub.box_key, pub.sign_key)
    assert keys.fingerprint("archive", pub.box_key, pub.sign_key) != base
    assert keys.fingerprint("member", bytes(32), pub.sign_key) != base
    assert keys.fingerprint("member", pub.box_key, bytes(32)) != base
    assert keys.fingerprint("member", None, pub.sign_key) != base


def test_fingerprint_display_form_parses_back(alice: keys.KeyPair) -> None:
    fp = alice.public.fingerprint
    shown = keys.format_fingerprint(fp)
    assert shown.count("-") == 9
    assert keys.parse_fingerprint(shown) == fp
    assert keys.parse_fingerprint(shown.upper().replace("-", ":")) == fp
    assert keys.parse_fingerprint(f" {fp} ") == fp


@pytest.mark.parametrize("text", ["", "abcd", "g" * 40, "a" * 39, "a" * 41])
def test_parse_fingerprint_refuses_anything_but_40_hex_digits(text: str) -> None:
    with pytest.raises(BadEncoding):
        keys.parse_fingerprint(text)


def test_signature_verifies_for_its_context_and_fields(alice: keys.KeyPair) -> None:
    sig = alice.sign("safevoice-test-v1", b"a", "b")
    keys.verify(alice.public.sign_key, sig, "safevoice-test-v1", b"a", b"b")


@pytest.mark.parametrize(
    ("context", "fields"),
    [
        ("safevoice-other-v1", (b"ab", b"c")),  # another role
        ("safevoice-test-v1", (b"a", b"bc")),  # shifted field boundary
        ("safevoice-test-v1", (b"abc",)),  # merged fields
        ("safevoice-test-v1", (b"ab", b"c", b"")),  # an extra empty field
        ("safevoice-test-v1ab", (b"c",)),  # context swallowing a field
    ],
)
def test_signature_does_not_verify_for_another_context_or_field_split(
    alice: keys.KeyPair, context: str, fields: tuple[bytes, ...]
) -> None:
    sig = alice.sign("safevoice-test-v1", b"ab", b"c")
    with pytest.raises(VerificationFailed):
        keys.verify(alice.public.sign_key, sig, context, *fields)


def test_signature_does_not_verify_under_another_key(
    alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    sig = alice.sign("safevoice-test-v1", b"x")
    with pytest.raises(VerificationFailed):
        keys.verify(bob.public.sign_key, sig, "safevoice-test-v1", b"x")


@pytest.mark.parametrize(("key_size", "sig_size"), [(32, 63), (32, 65), (31, 64), (0, 64)])
def test_malformed_key_or_signature_fails_verification(key_size: int, sig_size: int) -> None:
    with pytest.raises(VerificationFailed):
        keys.verify(bytes(key_size), bytes(sig_size), "safevoice-test-v1")


@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_flipped_signature_byte_fails_verification(alice: keys.KeyPair, position: int) -> None:
    sig = bytearray(alice.sign("safevoice-test-v1", b"x"))
    sig[position] ^= 1
    with pytest.raises(VerificationFailed):
        keys.verify(alice.public.sign_key, bytes(sig), "safevoice-test-v1", b"x")


@pytest.mark.parametrize("kind", keys.KEY_KINDS)
def test_generate_gives_a_box_key_only_to_kinds_that_decrypt(kind: str) -> None:
    pair = keys.generate(kind, "someone", "Someone")
    assert (pair.box_secret is not None) == (kind in keys.KINDS_WITH_BOX_KEY)
    assert (pair.public.box_key is not None) == (kind in keys.KINDS_WITH_BOX_KEY)
    assert pair.public.sign_key == keys.sign_public_key(pair.sign_seed)
    if pair.box_secret is not None:
        assert pair.public.box_key == keys.box_public_key(pair.box_secret)


def test_generate_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        keys.generate("reporter", "x", "X")


def test_generate_draws_fresh_keys() -> None:
    assert (
        keys.generate("member", "a", "A").sign_seed != keys.generate("member", "a", "A").sign_seed
    )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("alice", True),
        ("a.b-c_9", True),
        ("0", True),
        ("a" * 32, True),
        ("a" * 33, False),
        ("Alice", False),
        ("-a", False),
        ("", False),
        ("a b", False),
        ("a/b", False),
    ],
)
def test_valid_key_id_allows_short_lowercase_names(value: str, valid: bool) -> None:
    assert keys.valid_key_id(value) is valid


def test_public_key_json_round_trips(alice: keys.KeyPair, root: keys.KeyPair) -> None:
    for pair in (alice, root):
        data = pair.public.to_json()
        assert data["fingerprint"] == pair.public.fingerprint
        assert keys.PublicKey.from_json(data) == pair.public


def test_public_key_json_with_a_wrong_fingerprint_is_refused(
    alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    data = alice.public.to_json()
    data["fingerprint"] = bob.public.fingerprint
    with pytest.raises(BadEncoding, match="fingerprint"):
        keys.PublicKey.from_json(data)


def test_public_key_json_without_the_keys_its_kind_needs_is_refused(
    alice: keys.KeyPair, root: keys.KeyPair
) -> None:
    member = alice.public.to_json()
    del member["box_key"], member["fingerprint"]
    with pytest.raises(BadEncoding):
        keys.PublicKey.from_json(member)
    root_json = root.public.to_json()
    root_json["box_key"] = b64e(bytes(32))
    del root_json["fingerprint"]
    with pytest.raises(BadEncoding):
        keys.PublicKey.from_json(root_json)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "safevoice-public-key-v2"},
        {"kind": "reporter"},
        {"sign_key": "AAAA"},
        {"sign_key": None},
    ],
)
def test_malformed_public_key_json_is_refused(alice: keys.KeyPair, change: dict[str, Any]) -> None:
    data = {**alice.public.to_json(), **change}
    with pytest.raises(BadEncoding):
        keys.PublicKey.from_json(data)


def test_keyfile_opens_with_its_passphrase(alice: keys.KeyPair, keyfile: dict[str, Any]) -> None:
    assert keys.open_keyfile(keyfile, PASSPHRASE) == alice
    assert keys.keyfile_public(keyfile) == alice.public


def test_keyfile_holds_no_secret_in_the_clear(alice: keys.KeyPair, keyfile: dict[str, Any]) -> None:
    text = repr(keyfile)
    assert alice.box_secret is not None
    for secret in (alice.sign_seed, alice.box_secret):
        assert b64e(secret) not in text
        assert secret.hex() not in text


def test_keyfile_defaults_to_libsodium_moderate_cost() -> None:
    assert keys.KEYFILE_OPSLIMIT == nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    assert keys.KEYFILE_MEMLIMIT == nacl.pwhash.argon2id.MEMLIMIT_MODERATE


def test_keyfile_of_a_signing_only_key_round_trips(root: keys.KeyPair) -> None:
    sealed = keys.seal_keyfile(root, PASSPHRASE, **FAST)
    assert keys.open_keyfile(sealed, PASSPHRASE) == root


@pytest.mark.parametrize("passphrase", ["", "correct horse battery stapl", PASSPHRASE + " "])
def test_wrong_passphrase_raises_wrong_passphrase(keyfile: dict[str, Any], passphrase: str) -> None:
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(keyfile, passphrase)


def test_keyfile_with_another_keys_public_half_does_not_open(
    keyfile: dict[str, Any], bob: keys.KeyPair
) -> None:
    spliced = copy.deepcopy(keyfile)
    spliced["public"] = bob.public.to_json()
    assert keys.keyfile_public(spliced) == bob.public
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(spliced, PASSPHRASE)


@pytest.mark.parametrize("field", ["sign_key", "box_key"])
def test_keyfile_with_one_swapped_public_key_does_not_open(
    keyfile: dict[str, Any], bob: keys.KeyPair, field: str
) -> None:
    swapped = copy.deepcopy(keyfile)
    swapped["public"][field] = bob.public.to_json()[field]
    with pytest.raises(BadEncoding, match="fingerprint"):
        keys.open_keyfile(swapped, PASSPHRASE)
    del swapped["public"]["fingerprint"]
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(swapped, PASSPHRASE)


@pytest.mark.parametrize(("field", "value"), [("id", "mallory"), ("name", "Mallory")])
def test_keyfile_with_a_renamed_public_half_does_not_open(
    keyfile: dict[str, Any], field: str, value: str
) -> None:
    renamed = copy.deepcopy(keyfile)
    renamed["public"][field] = value
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(renamed, PASSPHRASE)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "salt"])
def test_keyfile_with_a_flipped_sealed_byte_does_not_open(
    keyfile: dict[str, Any], field: str
) -> None:
    tampered = copy.deepcopy(keyfile)
    raw = bytearray(b64d(tampered["sealed"][field]))
    raw[len(raw) // 2] ^= 1
    tampered["sealed"][field] = b64e(bytes(raw))
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(tampered, PASSPHRASE)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [
        (nacl.pwhash.argon2id.OPSLIMIT_MIN - 1, nacl.pwhash.argon2id.MEMLIMIT_MIN),
        (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN - 1),
        (0, 0),
        (-1, 1024 * 1024),
    ],
)
def test_keyfile_with_weak_kdf_parameters_is_refused(
    keyfile: dict[str, Any], opslimit: int, memlimit: int
) -> None:
    weak = copy.deepcopy(keyfile)
    weak["sealed"]["opslimit"], weak["sealed"]["memlimit"] = opslimit, memlimit
    with pytest.raises(BadEncoding, match="too weak"):
        keys.open_keyfile(weak, PASSPHRASE)


def test_keyfile_with_raised_kdf_parameters_does_not_open(keyfile: dict[str, Any]) -> None:
    changed = copy.deepcopy(keyfile)
    changed["sealed"]["opslimit"] += 1
    with pytest.raises(WrongPassphrase):
        keys.open_keyfile(changed, PASSPHRASE)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(2**32, nacl.pwhash.argon2id.MEMLIMIT_MIN), (1, 2**45)],
)
def test_keyfile_with_absurd_kdf_parameters_is_refused_as_damaged(
    keyfile: dict[str, Any], opslimit: int, memlimit: int
) -> None:
    """A damaged key file must end in a SafeVoice error, not a library exception.

    libsodium refuses these values before allocating anything, so the test is cheap.
    """
    absurd = copy.deepcopy(keyfile)
    absurd["sealed"]["opslimit"], absurd["sealed"]["memlimit"] = opslimit, memlimit
    with pytest.raises(SafeVoiceError):
        keys.open_keyfile(absurd, PASSPHRASE)


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.update(format="safevoice-key-v0"),
        lambda f: f.pop("sealed"),
        lambda f: f["sealed"].update(kdf="scrypt"),
        lambda f: f["sealed"].update(opslimit="many"),
        lambda f: f["sealed"].update(salt="AAAA"),
        lambda f: f["sealed"].update(nonce=b64e(bytes(12))),
        lambda f: f["sealed"].pop("ciphertext"),
    ],
)
def test_damaged_keyfile_raises_bad_encoding(keyfile: dict[str, Any], damage: Any) -> None:
    damaged = copy.deepcopy(keyfile)
    damage(damaged)
    with pytest.raises(BadEncoding):
        keys.open_keyfile(damaged, PASSPHRASE)


@pytest.mark.parametrize("ident", ["alice\n", "Alice", "-alice", "", "a" * 33, "al ice"])
def test_key_ids_outside_the_pattern_are_refused_even_with_a_trailing_newline(
    ident: str,
) -> None:
    assert not keys.valid_key_id(ident)
