"""k-of-n backup shares of the committee root key and the archive key (SLIP-39).

What is split is the key's raw secrets exactly as the key file seals them: the 32-byte Ed25519
seed, followed for an archive key by its 32-byte X25519 secret (32 or 64 bytes in all). SLIP-39
(Trezor's reference implementation, ``shamir-mnemonic``, never hand-written code) turns that into
``n`` word lists of which any ``k`` rebuild it and fewer reveal nothing. The shares carry no
passphrase of their own and say nothing about whose key they hold: the public half (kind, id,
name, keys) comes back from the public key file, and the rebuilt key must match it exactly, so a
set of shares can never silently turn into some other key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shamir_mnemonic import MnemonicError, Share, combine_mnemonics, generate_mnemonics

from safevoice.crypto.keys import KeyPair, PublicKey, keypair_from_secrets
from safevoice.errors import BadShares

SPLITTABLE = ("root", "archive")
MAX_SHARES = 16  # SLIP-39's limit for one group
SEED_BYTES = 32


def split_key(keys: KeyPair, *, threshold: int, shares: int) -> list[str]:
    """``shares`` word lists (space-separated words) of which any ``threshold`` rebuild ``keys``."""
    if keys.public.kind not in SPLITTABLE:
        raise BadShares(
            "Only the committee root key and the archive key are split into shares; member "
            "and auditor keys stay with their holder, who rotates them when they are lost."
        )
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise BadShares(
            f"Choose at least 2 shares to rebuild the key and at most {MAX_SHARES} shares in "
            "all (2 <= threshold <= shares <= 16)."
        )
    secret = keys.sign_seed + (keys.box_secret or b"")
    groups = generate_mnemonics(1, [(threshold, shares)], secret, b"", extendable=True)
    return list(groups[0])


def normalise_share(text: str) -> str:
    """A share as typed or copied from paper: words in any case and spacing, and the
    position numbers printed beside them (``1.``, ``12``) are ignored."""
    words = [w for w in re.split(r"[\s,;]+", text.lower()) if w and not re.fullmatch(r"\d+\.?", w)]
    return " ".join(words)


def _decode(index: int, text: str) -> Share:
    try:
        return Share.from_mnemonic(text)
    except (MnemonicError, ValueError, KeyError) as exc:
        raise BadShares(
            f"Share {index} is not a valid share: a word is misspelt, missing or out of place. "
            "Check it against the paper word by word."
        ) from exc


def shares_needed(first: str) -> int:
    """How many shares the backup that ``first`` belongs to needs."""
    return int(_decode(1, normalise_share(first)).member_threshold)


def combine_key(texts: Sequence[str], public: PublicKey) -> KeyPair:
    """Rebuild the key whose public half is ``public`` from at least ``threshold`` shares."""
    mnemonics = [normalise_share(t) for t in texts]
    mnemonics = [m for m in mnemonics if m]
    if not mnemonics:
        raise BadShares("No share was given.")
    decoded = [_decode(i, m) for i, m in enumerate(mnemonics, start=1)]
    first = decoded[0]
    for i, share in enumerate(decoded[1:], start=2):
        if share.common_parameters() != first.common_parameters() or (
            share.group_parameters() != first.group_parameters()
        ):
            raise BadShares(
                f"Share {i} belongs to a different backup than share 1 (their first words "
                "differ); use shares of one backup only."
            )
    distinct: dict[int, str] = {}
    for share, text in zip(decoded, mnemonics, strict=True):
        distinct.setdefault(share.index, text)
    needed = first.member_threshold
    if len(distinct) < needed:
        given = len(distinct)
        raise BadShares(
            f"{given} different share{'s' if given != 1 else ''} "
            f"{'are' if given != 1 else 'is'} not enough: this backup needs {needed} of its "
            "shares to rebuild the key, and fewer reveal nothing about it."
        )
    try:
        secret = combine_mnemonics(list(distinct.values())[:needed], b"")
    except MnemonicError as exc:
        raise BadShares(
            "The shares do not fit together: one of them was copied wrongly or comes from "
            "another backup."
        ) from exc
    box_secret: bytes | None = None
    if len(secret) == 2 * SEED_BYTES:
        box_secret = secret[SEED_BYTES:]
    elif len(secret) != SEED_BYTES:
        raise BadShares("The shares hold something other than a SafeVoice key.")
    if (box_secret is not None) != (public.box_key is not None):
        raise BadShares(
            f"The shares rebuild a key of another kind than the {public.kind} key "
            f"{public.id!r} they should belong to."
        )
    keys = keypair_from_secrets(
        public.kind, public.id, public.name, sign_seed=secret[:SEED_BYTES], box_secret=box_secret
    )
    if keys.public != public:
        raise BadShares(
            f"The shares rebuild a different key than the {public.kind} key {public.id!r} "
            "(the fingerprints differ); they belong to another backup."
        )
    return keys
