"""Stateless proof-of-work challenges: authenticity, purpose, expiry and solutions."""

from __future__ import annotations

import struct

import pytest

from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64d, b64e, u64
from safevoice.errors import ChallengeRejected

KEY = bytes.fromhex("99" * 32)
EXPIRES = 2_000_000_000
NOW = EXPIRES - 60


@pytest.fixture(scope="module")
def challenge() -> powmod.Challenge:
    return powmod.issue(KEY, purpose="submit", difficulty=4, expires=EXPIRES)


@pytest.fixture(scope="module")
def solution(challenge: powmod.Challenge) -> str:
    return powmod.solve(challenge)


def test_authentic_challenge_is_accepted(challenge: powmod.Challenge) -> None:
    assert powmod.authenticate(KEY, challenge.token, purpose="submit", now=NOW) == challenge


def test_challenge_token_has_the_documented_size(challenge: powmod.Challenge) -> None:
    assert len(b64d(challenge.token)) == powmod.CHALLENGE_BYTES == 27 + 16
    assert powmod.parse(challenge.token) == challenge


def test_challenges_carry_fresh_nonces() -> None:
    first = powmod.issue(KEY, purpose="submit", difficulty=4, expires=EXPIRES)
    second = powmod.issue(KEY, purpose="submit", difficulty=4, expires=EXPIRES)
    assert first.nonce != second.nonce
    assert first.digest != second.digest


def test_challenge_under_another_server_key_is_refused(challenge: powmod.Challenge) -> None:
    with pytest.raises(ChallengeRejected, match="not issued by this server"):
        powmod.authenticate(bytes(32), challenge.token, purpose="submit", now=NOW)


@pytest.mark.parametrize("position", range(powmod.CHALLENGE_BYTES))
def test_challenge_with_any_flipped_byte_is_refused(
    challenge: powmod.Challenge, position: int
) -> None:
    raw = bytearray(challenge.raw)
    raw[position] ^= 0x01
    with pytest.raises(ChallengeRejected):
        powmod.authenticate(KEY, b64e(bytes(raw)), purpose="submit", now=NOW)


@pytest.mark.parametrize(
    ("offset", "value"),
    [(1, 2), (2, 0), (10, 0xFF)],
    ids=["purpose to reporter-login", "difficulty to 0", "expiry postponed"],
)
def test_rewritten_purpose_difficulty_or_expiry_breaks_the_mac(
    challenge: powmod.Challenge, offset: int, value: int
) -> None:
    raw = bytearray(challenge.raw)
    assert raw[offset] != value
    raw[offset] = value
    token = b64e(bytes(raw))
    rewritten = powmod.parse(token)
    with pytest.raises(ChallengeRejected, match="not issued by this server"):
        powmod.authenticate(KEY, token, purpose=rewritten.purpose, now=NOW)


def test_challenge_for_another_purpose_is_refused(challenge: powmod.Challenge) -> None:
    with pytest.raises(ChallengeRejected, match="another purpose"):
        powmod.authenticate(KEY, challenge.token, purpose="member-login", now=NOW)


@pytest.mark.parametrize("now", [EXPIRES, EXPIRES + 1, EXPIRES + 86_400])
def test_expired_challenge_is_refused(challenge: powmod.Challenge, now: int) -> None:
    with pytest.raises(ChallengeRejected, match="expired"):
        powmod.authenticate(KEY, challenge.token, purpose="submit", now=now)


def test_challenge_is_accepted_until_its_last_second(challenge: powmod.Challenge) -> None:
    powmod.authenticate(KEY, challenge.token, purpose="submit", now=EXPIRES - 1)


@pytest.mark.parametrize(
    "token",
    ["", "AAAA", "A" * 58, "A" * 57 + "=", b64e(bytes(powmod.CHALLENGE_BYTES - 1))],
)
def test_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(ChallengeRejected, match="malformed"):
        powmod.parse(token)


@pytest.mark.parametrize(("version", "purpose_code"), [(2, 1), (0, 1), (1, 0), (1, 6)])
def test_token_with_unknown_version_or_purpose_is_refused(version: int, purpose_code: int) -> None:
    body = struct.pack(">BBBQ16s", version, purpose_code, 4, EXPIRES, bytes(16))
    with pytest.raises(ChallengeRejected, match="malformed"):
        powmod.parse(b64e(body + bytes(powmod.MAC_BYTES)))


def test_solve_output_is_accepted(challenge: powmod.Challenge, solution: str) -> None:
    assert len(b64d(solution)) == powmod.SOLUTION_BYTES
    assert powmod.solves(challenge, solution)


def test_solution_does_not_carry_over_to_another_challenge(solution: str) -> None:
    others = [powmod.issue(KEY, purpose="submit", difficulty=4, expires=EXPIRES) for _ in range(8)]
    # Each fails with probability 15/16; all eight passing by chance is below 1e-9.
    assert not all(powmod.solves(other, solution) for other in others)


def stamp_for(challenge: powmod.Challenge, counter: bytes) -> bytes:
    return powmod._find_stamp(challenge, counter)


def test_wrong_counter_with_a_valid_stamp_is_refused(challenge: powmod.Challenge) -> None:
    # About 15 in 16 counters fail at difficulty 4; fewer than 10 of 16 failing is beyond chance.
    candidates = [u64(c) for c in range(16)]
    failing = [
        c for c in candidates if not powmod.solves(challenge, b64e(c + stamp_for(challenge, c)))
    ]
    assert len(failing) >= 10


def test_a_solving_counter_without_a_valid_stamp_is_refused_before_any_argon2id(
    challenge: powmod.Challenge, solution: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = b64d(solution)[: powmod.COUNTER_BYTES]
    good_stamp = b64d(solution)[powmod.COUNTER_BYTES :]
    argon2_calls: list[bytes] = []
    real_work = powmod._work

    def counted_work(ch: powmod.Challenge, c: bytes) -> bytes:
        argon2_calls.append(c)
        return real_work(ch, c)

    monkeypatch.setattr(powmod, "_work", counted_work)
    bad_stamps = [
        s
        for s in (u64(v) for v in range(64))
        if powmod._leading_zero_bits(powmod.stamp_digest(challenge, counter, s)) < powmod.STAMP_BITS
    ]

    assert len(bad_stamps) >= 60
    assert not any(powmod.solves(challenge, b64e(counter + s)) for s in bad_stamps)
    assert argon2_calls == []
    assert powmod.solves(challenge, b64e(counter + good_stamp))
    assert argon2_calls == [counter]


def test_a_stamp_costs_about_two_to_the_fifteen_blake2b(challenge: powmod.Challenge) -> None:
    # A random stamp passes with probability 2**-15: 4096 random tries all failing is the rule.
    counter = u64(12345)
    passing = [
        v
        for v in range(4096)
        if powmod._leading_zero_bits(powmod.stamp_digest(challenge, counter, u64(v)))
        >= powmod.STAMP_BITS
    ]
    assert len(passing) <= 2
    assert powmod.STAMP_BITS >= 15


def test_the_stamp_binds_the_challenge_and_the_counter(
    challenge: powmod.Challenge, solution: str
) -> None:
    raw = b64d(solution)
    other = powmod.issue(KEY, purpose="submit", difficulty=4, expires=EXPIRES)
    moved_counter = u64(int.from_bytes(raw[:8], "big") ^ 1) + raw[8:]
    assert not powmod.stamped(other, solution)
    assert not powmod.stamped(challenge, b64e(moved_counter))


@pytest.mark.parametrize(
    "solution",
    ["", "AAAA", "AAAAAAAAAAAA", "AAAAAAAAAA=", "AAAAAAAAAAB", "AAAAAAAA+AA", b64e(bytes(8)), 7],
)
def test_malformed_solution_is_refused_without_work(
    challenge: powmod.Challenge, solution: str
) -> None:
    assert powmod.solves(challenge, solution) is False


def test_difficulty_zero_accepts_any_well_formed_solution() -> None:
    easy = powmod.issue(KEY, purpose="upload", difficulty=0, expires=EXPIRES)
    assert powmod.authenticate(KEY, easy.token, purpose="upload", now=NOW) == easy
    assert powmod.solves(easy, powmod.solve(easy))
    assert powmod.solves(easy, b64e(bytes(16)))
    assert not powmod.solves(easy, b64e(bytes(8)))
    assert not powmod.solves(easy, "AAAA")


@pytest.mark.parametrize("difficulty", [-1, powmod.MAX_DIFFICULTY + 1, 255])
def test_issue_refuses_a_difficulty_out_of_range(difficulty: int) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        powmod.issue(KEY, purpose="submit", difficulty=difficulty, expires=EXPIRES)


@pytest.mark.parametrize("purpose", sorted(powmod.PURPOSES))
def test_every_purpose_round_trips(purpose: str) -> None:
    issued = powmod.issue(KEY, purpose=purpose, difficulty=1, expires=EXPIRES)
    assert powmod.authenticate(KEY, issued.token, purpose=purpose, now=NOW).purpose == purpose


def test_challenge_key_is_random_and_32_bytes() -> None:
    assert len(powmod.new_challenge_key()) == 32
    assert powmod.new_challenge_key() != powmod.new_challenge_key()


def test_spent_digest_identifies_the_exact_challenge(challenge: powmod.Challenge) -> None:
    assert len(challenge.digest) == 32
    assert powmod.parse(challenge.token).digest == challenge.digest
