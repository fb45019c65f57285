"""Strict base64url, length-prefixed fields and canonical JSON."""

from __future__ import annotations

import base64
import binascii

import pytest

from safevoice.crypto.encoding import b64d, b64e, canonical_json, lp, split_lp, u32, u64
from safevoice.errors import BadEncoding

URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_b64e_uses_the_url_safe_alphabet_without_padding() -> None:
    assert b64e(b"\xfb\xff") == "-_8"
    assert b64e(b"") == ""
    assert "=" not in b64e(b"a")


@pytest.mark.parametrize("size", range(40))
def test_b64d_round_trips_every_length(size: int) -> None:
    data = bytes((i * 37 + size) % 256 for i in range(size))
    assert b64d(b64e(data)) == data


@pytest.mark.parametrize("text", ["AA==", "AA=", "AAA=", "AAAA===="])
def test_b64d_refuses_padding(text: str) -> None:
    with pytest.raises(BadEncoding):
        b64d(text)


@pytest.mark.parametrize(
    "text", ["AA+/", "AA/A", "AA A", "AA.A", "AAÄA", "AAAA\n", "\nAAAA", "AA\tA", "AA\x00A"]
)
def test_b64d_refuses_characters_outside_the_url_safe_alphabet(text: str) -> None:
    with pytest.raises(BadEncoding):
        b64d(text)


@pytest.mark.parametrize("text", ["A", "AAAAA", "AAAAAAAAA"])
def test_b64d_refuses_a_length_of_4n_plus_1(text: str) -> None:
    with pytest.raises(BadEncoding):
        b64d(text)


@pytest.mark.parametrize("data", [b"\x00", b"\xff", b"\x00\x00", b"ab", b"hello", b"\x10\x20"])
def test_b64d_refuses_every_non_canonical_last_character(data: bytes) -> None:
    """A lenient decoder maps several texts to the same bytes; only the canonical one passes."""
    canonical = b64e(data)
    lenient_aliases = []
    for char in URL_ALPHABET:
        text = canonical[:-1] + char
        if text == canonical:
            continue
        try:
            decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except binascii.Error:
            continue
        if decoded == data:
            lenient_aliases.append(text)
    assert lenient_aliases, "the sample should have non-canonical aliases"
    for text in lenient_aliases:
        with pytest.raises(BadEncoding, match="canonical"):
            b64d(text)


@pytest.mark.parametrize("value", [b"AAAA", None, 1234, ["AAAA"]])
def test_b64d_refuses_values_that_are_not_text(value: object) -> None:
    with pytest.raises(BadEncoding):
        b64d(value)  # type: ignore[arg-type]  # the test passes a wrong type on purpose: b64d must refuse it


def test_b64d_checks_the_decoded_size() -> None:
    assert b64d(b64e(bytes(16)), size=16) == bytes(16)
    with pytest.raises(BadEncoding, match="wrong length"):
        b64d(b64e(bytes(15)), size=16)


def test_b64d_errors_do_not_echo_the_input() -> None:
    with pytest.raises(BadEncoding) as caught:
        b64d("secret-report-text!", what="ciphertext")
    assert "secret" not in caught.value.message
    assert "ciphertext" in caught.value.message


def test_lp_prefixes_each_field_with_its_u32_big_endian_length() -> None:
    assert lp(b"ab", "é", b"") == b"\x00\x00\x00\x02ab\x00\x00\x00\x02\xc3\xa9\x00\x00\x00\x00"
    assert lp() == b""


def test_lp_keeps_field_boundaries_apart() -> None:
    assert lp(b"ab", b"c") != lp(b"a", b"bc")
    assert lp(b"abc") != lp(b"abc", b"")


def test_split_lp_inverts_lp() -> None:
    fields = [b"", b"x", bytes(300), b"text"]
    assert split_lp(lp(*fields)) == fields


@pytest.mark.parametrize(
    "data",
    [b"\x00", b"\x00\x00\x00", b"\x00\x00\x00\x02a", lp(b"abc")[:-1], lp(b"a") + b"\x00\x00"],
)
def test_split_lp_refuses_truncated_input(data: bytes) -> None:
    with pytest.raises(BadEncoding):
        split_lp(data)


def test_u32_and_u64_are_big_endian() -> None:
    assert u32(1) == b"\x00\x00\x00\x01"
    assert u64(258) == b"\x00\x00\x00\x00\x00\x00\x01\x02"


def test_canonical_json_sorts_keys_without_spaces_and_keeps_utf8() -> None:
    assert canonical_json({"b": [1, {"d": 2, "c": None}], "a": "ü"}) == (
        '{"a":"ü","b":[1,{"c":null,"d":2}]}'.encode()
    )
