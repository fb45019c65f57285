"""The follow-up code: its randomness, its checksum, its normalisation and the keys derived."""

from __future__ import annotations

import pytest

from safevoice.crypto import code, keys
from safevoice.errors import BadCode

MIB = 1024 * 1024
# The smallest cost a manifest may ask for; each derivation takes about 0.1 s.
OPSLIMIT, MEMLIMIT = 2, 64 * MIB
SAMPLE = code.generate_code(1, randomness=bytes(range(14)))
# A code for which a hash-based 10-bit checksum let a substitution through (found by search).
UNLUCKY_RANDOMNESS = bytes.fromhex("472525c0bc178794b46d40ba534d")


def substitutions(canonical: str) -> list[str]:
    return [
        canonical[:i] + char + canonical[i + 1 :]
        for i in range(len(canonical))
        for char in code.ALPHABET
        if char != canonical[i]
    ]


def passes_checksum(text: str) -> bool:
    try:
        code.parse_code(text)
    except BadCode:
        return False
    return True


@pytest.fixture(scope="module")
def sample_keys() -> code.ReporterKeys:
    return code.derive_reporter_keys(
        code.parse_code(SAMPLE), salt=bytes(16), opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )


def test_generate_code_draws_14_bytes_from_the_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []

    def record(size: int) -> bytes:
        draws.append(size)
        return keys.random_bytes(size)

    monkeypatch.setattr(code, "random_bytes", record)
    code.generate_code(1)
    assert draws == [14]


@pytest.mark.parametrize("version", [1, 2, 31])
def test_generated_code_is_25_alphabet_characters_in_five_groups_led_by_its_version(
    version: int,
) -> None:
    display = code.generate_code(version)
    groups = display.split("-")
    assert [len(g) for g in groups] == [5, 5, 5, 5, 5]
    canonical = "".join(groups)
    assert set(canonical) <= set(code.ALPHABET)
    assert canonical[0] == code.ALPHABET[version]
    assert code.parse_code(display) == code.ParsedCode(canonical=canonical, version=version)


def test_code_carries_at_least_110_random_bits() -> None:
    assert code.RANDOM_CHARS * 5 >= 110
    assert len(code.ALPHABET) == 32 == len(set(code.ALPHABET))


def test_each_of_the_first_110_random_bits_changes_the_code() -> None:
    base = int.from_bytes(bytes(14), "big")
    codes = {code.generate_code(1, randomness=bytes(14))}
    for bit in range(110):
        flipped = (base ^ (1 << (111 - bit))).to_bytes(14, "big")
        codes.add(code.generate_code(1, randomness=flipped))
    assert len(codes) == 111


def test_the_last_two_random_bits_are_not_used() -> None:
    assert code.generate_code(1, randomness=bytes(13) + b"\x03") == code.generate_code(
        1, randomness=bytes(14)
    )


def test_fresh_codes_differ() -> None:
    assert len({code.generate_code(1) for _ in range(50)}) == 50


@pytest.mark.parametrize("version", [0, 32, -1])
def test_generate_code_refuses_a_version_out_of_range(version: int) -> None:
    with pytest.raises(ValueError, match="version"):
        code.generate_code(version, randomness=bytes(14))


@pytest.mark.parametrize("size", [13, 15, 0])
def test_generate_code_refuses_randomness_of_the_wrong_size(size: int) -> None:
    with pytest.raises(ValueError, match="14"):
        code.generate_code(1, randomness=bytes(size))


@pytest.mark.parametrize(
    "typed",
    [
        SAMPLE,
        SAMPLE.lower(),
        SAMPLE.replace("-", ""),
        SAMPLE.replace("-", " "),
        f"\t{SAMPLE}\n",
        " ".join(SAMPLE.replace("-", "")),
        SAMPLE.replace("0", "O"),
        SAMPLE.replace("0", "o"),
        SAMPLE.replace("1", "I"),
        SAMPLE.replace("1", "i"),
        SAMPLE.replace("1", "L"),
        SAMPLE.replace("1", "l"),
        "--".join(SAMPLE.split("-")),
    ],
)
def test_parse_code_accepts_lowercase_spaces_missing_dashes_and_confusables(typed: str) -> None:
    assert code.parse_code(typed) == code.ParsedCode(canonical=SAMPLE.replace("-", ""), version=1)


def test_parse_code_reads_u_as_v() -> None:
    with_v = next(
        c
        for c in (code.generate_code(1, randomness=bytes([i]) * 14) for i in range(256))
        if "V" in c
    )
    assert code.parse_code(with_v.replace("V", "u")).canonical == with_v.replace("-", "")


def test_checksum_catches_every_single_character_substitution_of_the_sample_code() -> None:
    variants = substitutions(SAMPLE.replace("-", ""))
    assert len(variants) == 25 * 31
    assert not [v for v in variants if passes_checksum(v)]


def test_checksum_catches_every_adjacent_transposition_of_the_sample_code() -> None:
    canonical = SAMPLE.replace("-", "")
    swapped = [
        canonical[:i] + canonical[i + 1] + canonical[i] + canonical[i + 2 :]
        for i in range(len(canonical) - 1)
        if canonical[i] != canonical[i + 1]
    ]
    assert swapped
    assert not [v for v in swapped if passes_checksum(v)]


def test_checksum_catches_every_single_character_substitution_of_any_code() -> None:
    """The module promises that typos are caught before any request is made: for every code,
    not just on average (a 10-bit hash would let about half of all codes have a typo that
    passes)."""
    codes = [code.generate_code(1, randomness=UNLUCKY_RANDOMNESS)] + [
        code.generate_code(1) for _ in range(40)
    ]
    for sample in codes:
        canonical = sample.replace("-", "")
        assert not [v for v in substitutions(canonical) if passes_checksum(v)], sample


def test_checksum_catches_every_swap_of_two_characters_of_any_code() -> None:
    for _ in range(40):
        canonical = code.generate_code(1).replace("-", "")
        swaps = [
            canonical[:i] + canonical[j] + canonical[i + 1 : j] + canonical[i] + canonical[j + 1 :]
            for i in range(len(canonical))
            for j in range(i + 1, len(canonical))
            if canonical[i] != canonical[j]
        ]
        assert not [v for v in swaps if passes_checksum(v)], canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        SAMPLE[:-1],
        SAMPLE + "0",
        SAMPLE.replace("-", "")[:-1] + "!",
        SAMPLE.replace("G", "Ü"),
        SAMPLE.replace("-", "_"),
    ],
)
def test_parse_code_refuses_a_wrong_length_or_a_foreign_character(typed: str) -> None:
    with pytest.raises(BadCode):
        code.parse_code(typed)


def test_bad_code_message_does_not_echo_the_code() -> None:
    typo = SAMPLE[:-1] + ("0" if SAMPLE[-1] != "0" else "1")
    with pytest.raises(BadCode) as caught:
        code.parse_code(typo)
    message = caught.value.message
    assert typo not in message
    assert not any(group in message for group in typo.split("-"))


def test_derived_keys_are_key_pairs_under_separate_contexts(
    sample_keys: code.ReporterKeys,
) -> None:
    assert keys.box_public_key(sample_keys.reply_secret) == sample_keys.reply_public
    assert keys.sign_public_key(sample_keys.sign_seed) == sample_keys.sign_public
    assert sample_keys.reply_secret != sample_keys.sign_seed
    assert sample_keys.reply_public != sample_keys.sign_public


def test_derivation_depends_on_the_salt(sample_keys: code.ReporterKeys) -> None:
    other = code.derive_reporter_keys(
        code.parse_code(SAMPLE), salt=b"\x01" + bytes(15), opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )
    assert other.reply_public != sample_keys.reply_public
    assert other.sign_public != sample_keys.sign_public


def test_derivation_depends_on_the_code(sample_keys: code.ReporterKeys) -> None:
    neighbour = code.generate_code(1, randomness=b"\x01" + bytes(range(1, 14)))
    assert neighbour != SAMPLE
    other = code.derive_reporter_keys(
        code.parse_code(neighbour), salt=bytes(16), opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )
    assert other.reply_public != sample_keys.reply_public
    assert other.sign_public != sample_keys.sign_public


def test_derivation_uses_the_normalised_code(sample_keys: code.ReporterKeys) -> None:
    typed = code.parse_code(SAMPLE.lower().replace("0", "o").replace("-", " "))
    again = code.derive_reporter_keys(typed, salt=bytes(16), opslimit=OPSLIMIT, memlimit=MEMLIMIT)
    assert again == sample_keys
