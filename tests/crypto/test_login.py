"""Challenge-response login signatures, session token digests and random identifiers."""

from __future__ import annotations

import pytest

from safevoice.crypto import keys, login
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64d
from safevoice.errors import VerificationFailed

KEY = bytes.fromhex("99" * 32)


@pytest.fixture(scope="module")
def challenge() -> powmod.Challenge:
    return powmod.issue(KEY, purpose="member-login", difficulty=0, expires=2_000_000_000)


def test_login_signature_verifies(alice: keys.KeyPair, challenge: powmod.Challenge) -> None:
    sig = login.sign_login(alice.sign_seed, "test.example", challenge)
    login.verify_login(alice.public.sign_key, sig, "test.example", challenge)


def test_login_signature_for_another_instance_is_refused(
    alice: keys.KeyPair, challenge: powmod.Challenge
) -> None:
    sig = login.sign_login(alice.sign_seed, "test.example", challenge)
    with pytest.raises(VerificationFailed):
        login.verify_login(alice.public.sign_key, sig, "other.example", challenge)


def test_login_signature_for_another_challenge_is_refused(
    alice: keys.KeyPair, challenge: powmod.Challenge
) -> None:
    sig = login.sign_login(alice.sign_seed, "test.example", challenge)
    other = powmod.issue(KEY, purpose="member-login", difficulty=0, expires=challenge.expires)
    with pytest.raises(VerificationFailed):
        login.verify_login(alice.public.sign_key, sig, "test.example", other)


def test_login_signature_by_another_member_is_refused(
    alice: keys.KeyPair, bob: keys.KeyPair, challenge: powmod.Challenge
) -> None:
    sig = login.sign_login(bob.sign_seed, "test.example", challenge)
    with pytest.raises(VerificationFailed):
        login.verify_login(alice.public.sign_key, sig, "test.example", challenge)


def test_login_signature_is_bound_to_its_context(
    alice: keys.KeyPair, challenge: powmod.Challenge
) -> None:
    fields = login.login_fields("test.example", challenge)
    sig = login.sign_login(alice.sign_seed, "test.example", challenge)
    keys.verify(alice.public.sign_key, sig, login.LOGIN_CONTEXT, *fields)
    with pytest.raises(VerificationFailed):
        keys.verify(alice.public.sign_key, sig, "safevoice-message-v1", *fields)
    other_role = alice.sign("safevoice-message-v1", *fields)
    with pytest.raises(VerificationFailed):
        login.verify_login(alice.public.sign_key, other_role, "test.example", challenge)


def test_session_tokens_are_random_256_bit_values() -> None:
    first, second = login.new_token(), login.new_token()
    assert len(b64d(first)) == 32
    assert first != second


def test_token_digest_is_stored_instead_of_the_token() -> None:
    token = login.new_token()
    digest = login.token_digest(token)
    assert len(digest) == 32
    assert digest == login.token_digest(token)
    assert digest != login.token_digest(login.new_token())
    assert token.encode() not in digest


@pytest.mark.parametrize("size", [16, 32])
def test_random_ids_have_at_least_122_bits(size: int) -> None:
    ids = {login.random_id(size) for _ in range(100)}
    assert len(ids) == 100
    assert all(len(b64d(i)) == size for i in ids)
    assert len(b64d(login.random_id())) * 8 >= 122


def test_digest_separates_fields() -> None:
    assert login.digest(b"ab", b"c") != login.digest(b"a", b"bc")
    assert len(login.digest("x")) == 32
