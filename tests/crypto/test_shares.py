"""k-of-n backup shares (SLIP-39) of the root and archive keys: any k rebuild, fewer refuse."""

from __future__ import annotations

import itertools

import pytest

from safevoice.crypto import keys
from safevoice.crypto.shares import combine_key, normalise_share, shares_needed, split_key
from safevoice.errors import BadShares
from tests.crypto.conftest import Fixed


@pytest.fixture(scope="module")
def archive(fixed: Fixed) -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "archive",
        "archive",
        "Legal archive",
        sign_seed=fixed("archive sign"),
        box_secret=fixed("archive box"),
    )


def test_every_three_of_five_root_shares_rebuild_the_root_and_no_two_do(
    root: keys.KeyPair,
) -> None:
    shares = split_key(root, threshold=3, shares=5)

    rebuilt = {
        combine_key(list(subset), root.public).public.fingerprint
        for subset in itertools.combinations(shares, 3)
    }
    refusals = []
    for pair in itertools.combinations(shares, 2):
        with pytest.raises(BadShares) as refused:
            combine_key(list(pair), root.public)
        refusals.append(refused.value.message)

    assert rebuilt == {root.public.fingerprint}
    assert len(refusals) == 10
    assert all("not enough" in m and "needs 3" in m for m in refusals)
    assert len(set(shares)) == 5
    assert all(len(s.split()) == 33 for s in shares)


def test_an_archive_key_comes_back_with_both_its_secrets(archive: keys.KeyPair) -> None:
    shares = split_key(archive, threshold=2, shares=3)

    rebuilt = combine_key([shares[2], shares[0]], archive.public)

    assert rebuilt == archive
    assert rebuilt.box_secret == archive.box_secret
    assert shares_needed(shares[1]) == 2


def test_shares_typed_from_paper_with_numbers_and_capitals_still_combine(
    root: keys.KeyPair,
) -> None:
    shares = split_key(root, threshold=2, shares=2)
    typed = "\n".join(f"{i}. {w.upper()}" for i, w in enumerate(shares[0].split(), start=1))

    assert normalise_share(typed) == shares[0]
    assert combine_key([typed, shares[1]], root.public) == root


def test_a_misspelt_share_mixed_backups_and_a_wrong_public_key_are_refused_with_a_sentence(
    root: keys.KeyPair, archive: keys.KeyPair, fixed: Fixed
) -> None:
    shares = split_key(root, threshold=2, shares=3)
    other = split_key(root, threshold=2, shares=3)
    words = shares[1].split()
    words[12] = "zebra" if words[12] != "zebra" else "acid"
    other_root = keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=fixed("other root"), box_secret=None
    )

    with pytest.raises(BadShares, match="Share 2 is not a valid share"):
        combine_key([shares[0], " ".join(words)], root.public)
    with pytest.raises(BadShares, match="different backup"):
        combine_key([shares[0], other[1]], root.public)
    with pytest.raises(BadShares, match="different key"):
        combine_key(shares[:2], other_root.public)
    with pytest.raises(BadShares, match="another kind"):
        combine_key(shares[:2], archive.public)
    with pytest.raises(BadShares, match="No share"):
        combine_key(["", "  "], root.public)


def test_only_root_and_archive_keys_are_split_and_thresholds_are_bounded(
    alice: keys.KeyPair, root: keys.KeyPair
) -> None:
    with pytest.raises(BadShares, match="stay with their holder"):
        split_key(alice, threshold=2, shares=3)
    for threshold, count in ((1, 3), (4, 3), (2, 17)):
        with pytest.raises(BadShares, match="at least 2 shares"):
            split_key(root, threshold=threshold, shares=count)
