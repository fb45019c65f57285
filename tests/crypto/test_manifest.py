"""The instance manifest: pinned roots, exact bytes, expiry, rollback and hard minimums."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safevoice.crypto import keys, manifest
from safevoice.crypto.encoding import b64e, canonical_json
from safevoice.crypto.manifest import (
    MANIFEST_CONTEXT,
    AuditKey,
    CodeKdf,
    Manifest,
    Seen,
    Signature,
    SignedManifest,
    verify_manifest,
)
from safevoice.errors import ManifestError

MIB = 1024 * 1024
NOW = datetime(2030, 2, 1, 12, 0, tzinfo=UTC)
ISSUED = datetime(2030, 1, 15, tzinfo=UTC)

MakeManifest = Callable[..., Manifest]


@pytest.fixture(scope="module")
def new_root() -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "root", "root", "Committee root", sign_seed=bytes.fromhex("77" * 32), box_secret=None
    )


@pytest.fixture(scope="module")
def carol() -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "auditor", "carol", "Carol", sign_seed=bytes.fromhex("66" * 32), box_secret=None
    )


@pytest.fixture(scope="module")
def make(
    alice: keys.KeyPair, bob: keys.KeyPair, carol: keys.KeyPair, root: keys.KeyPair
) -> MakeManifest:
    def build(**overrides: Any) -> Manifest:
        fields: dict[str, Any] = {
            "instance_id": "test.example",
            "version": 5,
            "issued_at": ISSUED,
            "expires_at": ISSUED + timedelta(days=60),
            "root": root.public.fingerprint,
            "instance_salt": bytes(range(16)),
            "code_kdf": (CodeKdf(version=1, opslimit=2, memlimit=64 * MIB),),
            "envelope_versions": (1,),
            "members": (alice.public, bob.public),
            "auditors": (carol.public,),
            "audit_keys": (AuditKey(key=bytes.fromhex("88" * 32), from_seq=0),),
        }
        fields.update(overrides)
        return Manifest(**fields)

    return build


def sign_bytes(payload: bytes, roots: list[keys.KeyPair]) -> SignedManifest:
    """Sign arbitrary payload bytes, as a root holder could, to reach the checks after it."""
    return SignedManifest(
        payload=payload,
        signatures=tuple(
            Signature(
                root_fp=r.public.fingerprint,
                root_key=r.public.sign_key,
                sig=r.sign(MANIFEST_CONTEXT, payload),
            )
            for r in roots
        ),
    )


def signed_dict(data: dict[str, Any], root: keys.KeyPair) -> SignedManifest:
    return sign_bytes(canonical_json(data), [root])


def test_manifest_signed_by_the_pinned_root_is_accepted(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    m = make()
    verified = verify_manifest(
        manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW
    )
    assert verified.manifest == m
    assert verified.pin == root.public.fingerprint


def test_manifest_survives_its_wire_form(make: MakeManifest, root: keys.KeyPair) -> None:
    signed = manifest.sign_manifest(make(), [root])
    wire = json.loads(json.dumps(signed.to_json()))
    assert SignedManifest.from_json(wire) == signed


def test_manifest_against_the_wrong_pin_is_refused(
    make: MakeManifest, root: keys.KeyPair, new_root: keys.KeyPair
) -> None:
    signed = manifest.sign_manifest(make(), [root])
    with pytest.raises(ManifestError, match="not signed by the committee root you pinned"):
        verify_manifest(signed, pin=new_root.public.fingerprint, now=NOW)


def test_signature_claiming_the_pinned_fingerprint_with_another_key_is_refused(
    make: MakeManifest, root: keys.KeyPair, new_root: keys.KeyPair
) -> None:
    honest = manifest.sign_manifest(make(), [new_root])
    (sig,) = honest.signatures
    forged = SignedManifest(
        payload=honest.payload,
        signatures=(dataclasses.replace(sig, root_fp=root.public.fingerprint),),
    )
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(forged, pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize("position", [0, 31, 63])
def test_manifest_with_a_flipped_signature_byte_is_refused(
    make: MakeManifest, root: keys.KeyPair, position: int
) -> None:
    signed = manifest.sign_manifest(make(), [root])
    (sig,) = signed.signatures
    raw = bytearray(sig.sig)
    raw[position] ^= 1
    tampered = dataclasses.replace(signed, signatures=(dataclasses.replace(sig, sig=bytes(raw)),))
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(tampered, pin=root.public.fingerprint, now=NOW)


def test_signature_from_another_manifest_does_not_cover_this_payload(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    signed_v5 = manifest.sign_manifest(make(), [root])
    signed_v6 = manifest.sign_manifest(make(version=6), [root])
    spliced = SignedManifest(payload=signed_v6.payload, signatures=signed_v5.signatures)
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(spliced, pin=root.public.fingerprint, now=NOW)


def test_unsigned_payload_is_refused_before_it_is_parsed(root: keys.KeyPair) -> None:
    garbage = SignedManifest(payload=b"\xff not json", signatures=())
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(garbage, pin=root.public.fingerprint, now=NOW)


def test_manifest_signature_in_another_context_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    payload = canonical_json(make().to_payload())
    other_context = SignedManifest(
        payload=payload,
        signatures=(
            Signature(
                root_fp=root.public.fingerprint,
                root_key=root.public.sign_key,
                sig=root.sign("safevoice-checkpoint-v1", payload),
            ),
        ),
    )
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(other_context, pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=400)])
def test_expired_manifest_is_refused(
    make: MakeManifest, root: keys.KeyPair, after: timedelta
) -> None:
    m = make()
    with pytest.raises(ManifestError, match="expired"):
        verify_manifest(
            manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=m.expires_at + after
        )


def test_manifest_valid_for_exactly_90_days_is_accepted(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    m = make(expires_at=ISSUED + timedelta(days=90))
    verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize("validity", [timedelta(days=90, seconds=1), timedelta(days=365)])
def test_manifest_valid_for_more_than_90_days_is_refused(
    make: MakeManifest, root: keys.KeyPair, validity: timedelta
) -> None:
    m = make(expires_at=ISSUED + validity)
    with pytest.raises(ManifestError, match="90 days"):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


def test_manifest_issued_in_the_future_cannot_stay_valid_beyond_90_days_from_now(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    """DESIGN.md: a manifest has an expiry of at most 90 days, so a signed one ages out.

    Only ``expires_at - issued_at`` is bounded; ``issued_at`` itself is never compared with
    ``now``. A manifest dated ten years ahead is therefore accepted today and keeps verifying
    for ten years.
    """
    issued = NOW + timedelta(days=3650)
    m = make(issued_at=issued, expires_at=issued + timedelta(days=30))
    with pytest.raises(ManifestError):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


def test_manifest_older_than_the_version_seen_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    signed = manifest.sign_manifest(make(version=5), [root])
    with pytest.raises(ManifestError, match="older than version 6"):
        verify_manifest(
            signed, pin=root.public.fingerprint, now=NOW, seen=Seen(version=6, digest="x")
        )


def test_manifest_newer_than_the_version_seen_is_accepted(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    signed = manifest.sign_manifest(make(version=5), [root])
    verify_manifest(signed, pin=root.public.fingerprint, now=NOW, seen=Seen(version=4, digest="x"))


def test_same_version_with_the_same_bytes_is_accepted_again(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    signed = manifest.sign_manifest(make(), [root])
    seen = Seen(version=5, digest=signed.digest)
    verify_manifest(signed, pin=root.public.fingerprint, now=NOW, seen=seen)


def test_same_version_with_different_bytes_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    first = manifest.sign_manifest(make(), [root])
    second = manifest.sign_manifest(make(instance_salt=bytes(16)), [root])
    assert first.digest != second.digest
    with pytest.raises(ManifestError, match="differs"):
        verify_manifest(
            second,
            pin=root.public.fingerprint,
            now=NOW,
            seen=Seen(version=5, digest=first.digest),
        )


RESERIALISATIONS: list[Callable[[dict[str, Any]], bytes]] = [
    lambda d: json.dumps(d, indent=2, sort_keys=True).encode(),
    lambda d: json.dumps(d, sort_keys=True).encode(),
    lambda d: json.dumps(d, separators=(",", ":")).encode(),  # keys in insertion order
    lambda d: canonical_json(d) + b"\n",
    lambda d: b" " + canonical_json(d),
    lambda d: canonical_json(d).replace(b'"alice"', b'"\\u0061lice"'),  # an escaped letter
]


@pytest.mark.parametrize("reserialise", RESERIALISATIONS)
def test_re_serialised_and_re_signed_payload_is_refused(
    make: MakeManifest, root: keys.KeyPair, reserialise: Callable[[dict[str, Any]], bytes]
) -> None:
    payload = reserialise(make().to_payload())
    with pytest.raises(ManifestError, match="re-serialised"):
        verify_manifest(sign_bytes(payload, [root]), pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize("reserialise", RESERIALISATIONS)
def test_re_serialised_payload_under_the_original_signature_is_refused(
    make: MakeManifest, root: keys.KeyPair, reserialise: Callable[[dict[str, Any]], bytes]
) -> None:
    signed = manifest.sign_manifest(make(), [root])
    swapped = SignedManifest(payload=reserialise(make().to_payload()), signatures=signed.signatures)
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(swapped, pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize(
    ("opslimit", "memlimit", "reason"),
    [
        (2, 64 * MIB - 1, "weaker"),
        (2, 32 * MIB, "weaker"),
        (1, 64 * MIB, "weaker"),
        (0, 256 * MIB, "weaker"),
        (17, 64 * MIB, "unreasonably"),
        (2, 1024 * MIB + 1, "unreasonably"),
    ],
)
def test_code_kdf_outside_the_hard_limits_is_refused(
    make: MakeManifest, root: keys.KeyPair, opslimit: int, memlimit: int, reason: str
) -> None:
    m = make(code_kdf=(CodeKdf(version=1, opslimit=opslimit, memlimit=memlimit),))
    with pytest.raises(ManifestError, match=reason):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


def test_one_weak_code_kdf_among_strong_ones_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    m = make(
        code_kdf=(
            CodeKdf(version=1, opslimit=1, memlimit=64 * MIB),
            CodeKdf(version=2, opslimit=3, memlimit=256 * MIB),
        )
    )
    with pytest.raises(ManifestError, match="weaker"):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


def test_code_kdf_at_the_minimums_is_accepted(make: MakeManifest, root: keys.KeyPair) -> None:
    assert (manifest.MIN_CODE_OPSLIMIT, manifest.MIN_CODE_MEMLIMIT) == (2, 64 * MIB)
    m = make(code_kdf=(CodeKdf(version=1, opslimit=2, memlimit=64 * MIB),))
    verified = verify_manifest(
        manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW
    )
    assert verified.manifest.current_code_kdf == CodeKdf(version=1, opslimit=2, memlimit=64 * MIB)


def test_manifest_without_a_code_kdf_is_refused(make: MakeManifest, root: keys.KeyPair) -> None:
    with pytest.raises(ManifestError, match="no key derivation"):
        verify_manifest(
            manifest.sign_manifest(make(code_kdf=()), [root]),
            pin=root.public.fingerprint,
            now=NOW,
        )


def test_code_kdf_with_an_unknown_algorithm_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    data = make().to_payload()
    data["code_kdf"] = [{"alg": "pbkdf2", "version": 1, "opslimit": 1, "memlimit": 1}]
    with pytest.raises(ManifestError, match="does not know"):
        verify_manifest(signed_dict(data, root), pin=root.public.fingerprint, now=NOW)


def test_manifest_without_members_is_refused(make: MakeManifest, root: keys.KeyPair) -> None:
    with pytest.raises(ManifestError, match="no committee member"):
        verify_manifest(
            manifest.sign_manifest(make(members=()), [root]),
            pin=root.public.fingerprint,
            now=NOW,
        )


def test_manifest_without_audit_keys_is_refused(make: MakeManifest, root: keys.KeyPair) -> None:
    with pytest.raises(ManifestError, match="no audit key"):
        verify_manifest(
            manifest.sign_manifest(make(audit_keys=()), [root]),
            pin=root.public.fingerprint,
            now=NOW,
        )


def test_manifest_without_a_supported_envelope_version_is_refused(
    make: MakeManifest, root: keys.KeyPair
) -> None:
    with pytest.raises(ManifestError, match="envelope version"):
        verify_manifest(
            manifest.sign_manifest(make(envelope_versions=(2,)), [root]),
            pin=root.public.fingerprint,
            now=NOW,
        )


def _renamed(pair: keys.KeyPair, kind: str, key_id: str) -> keys.PublicKey:
    return dataclasses.replace(pair.public, kind=kind, id=key_id)


@pytest.mark.parametrize("where", ["two members", "member and auditor", "member and archive"])
def test_manifest_listing_the_same_id_twice_is_refused(
    make: MakeManifest,
    root: keys.KeyPair,
    alice: keys.KeyPair,
    bob: keys.KeyPair,
    carol: keys.KeyPair,
    where: str,
) -> None:
    choices: dict[str, dict[str, Any]] = {
        "two members": {"members": (alice.public, _renamed(bob, "member", "alice"))},
        "member and auditor": {"auditors": (_renamed(carol, "auditor", "bob"),)},
        "member and archive": {"archive": _renamed(bob, "archive", "alice")},
    }
    overrides = choices[where]
    with pytest.raises(ManifestError, match="same id twice"):
        verify_manifest(
            manifest.sign_manifest(make(**overrides), [root]),
            pin=root.public.fingerprint,
            now=NOW,
        )


@pytest.mark.parametrize("member_id", ["Alice", "a b", "", "x" * 33])
def test_manifest_member_with_an_invalid_id_is_refused(
    make: MakeManifest, root: keys.KeyPair, alice: keys.KeyPair, member_id: str
) -> None:
    m = make(members=(_renamed(alice, "member", member_id),))
    with pytest.raises(ManifestError, match="invalid id"):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


PAYLOAD_DAMAGE: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("unknown format", lambda d: d.update(format="safevoice-manifest-v2")),
    ("version zero", lambda d: d.update(version=0)),
    ("version as boolean", lambda d: d.update(version=True)),
    ("version as text", lambda d: d.update(version="5")),
    ("date with offset", lambda d: d.update(expires_at="2030-03-01T00:00:00+00:00")),
    ("date as number", lambda d: d.update(issued_at=1893456000)),
    ("missing members", lambda d: d.pop("members")),
    ("missing archive", lambda d: d.pop("archive")),
    ("short salt", lambda d: d.update(instance_salt=b64e(bytes(15)))),
    ("member without box key", lambda d: d["members"][0].pop("box_key")),
    ("padded member key", lambda d: d["members"][0].update(sign_key="AAAA=")),
    ("short audit key", lambda d: d["audit_keys"][0].update(key=b64e(bytes(31)))),
    ("members not a list", lambda d: d.update(members=5)),
]


@pytest.mark.parametrize(
    "damage", [d for _, d in PAYLOAD_DAMAGE], ids=[n for n, _ in PAYLOAD_DAMAGE]
)
def test_malformed_payload_signed_by_the_root_is_refused(
    make: MakeManifest, root: keys.KeyPair, damage: Callable[[dict[str, Any]], None]
) -> None:
    data = make().to_payload()
    damage(data)
    with pytest.raises(ManifestError):
        verify_manifest(signed_dict(data, root), pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize("payload", [b"[]", b'"manifest"', b"\xff\xfe", b"{"])
def test_payload_that_is_not_a_json_object_is_refused(root: keys.KeyPair, payload: bytes) -> None:
    with pytest.raises(ManifestError):
        verify_manifest(sign_bytes(payload, [root]), pin=root.public.fingerprint, now=NOW)


def test_manifest_naming_a_root_that_did_not_sign_it_is_refused(
    make: MakeManifest, root: keys.KeyPair, new_root: keys.KeyPair
) -> None:
    m = make(root=new_root.public.fingerprint)
    with pytest.raises(ManifestError, match="did not sign"):
        verify_manifest(manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW)


def test_rotation_cross_signed_by_old_and_new_root_moves_the_pin(
    make: MakeManifest, root: keys.KeyPair, new_root: keys.KeyPair
) -> None:
    rotated = manifest.sign_manifest(
        make(version=6, root=new_root.public.fingerprint), [root, new_root]
    )
    verified = verify_manifest(
        rotated, pin=root.public.fingerprint, now=NOW, seen=Seen(version=5, digest="x")
    )
    assert verified.pin == new_root.public.fingerprint
    again = verify_manifest(rotated, pin=verified.pin, now=NOW)
    assert again.pin == new_root.public.fingerprint


def test_manifest_signed_only_by_a_new_root_is_refused_for_the_old_pin(
    make: MakeManifest, root: keys.KeyPair, new_root: keys.KeyPair
) -> None:
    takeover = manifest.sign_manifest(make(version=6, root=new_root.public.fingerprint), [new_root])
    with pytest.raises(ManifestError, match="pinned"):
        verify_manifest(takeover, pin=root.public.fingerprint, now=NOW)


@pytest.mark.parametrize(
    "wire",
    [
        {},
        {"payload": "e30", "signatures": [{"root_fp": "x", "root_key": "AAAA", "sig": "AA"}]},
        {"payload": "e30=", "signatures": []},
        {"payload": "e30", "signatures": [{"root_fp": "x"}]},
        {"payload": "e30", "signatures": None},
    ],
)
def test_malformed_wire_form_is_refused_as_manifest_error(wire: dict[str, Any]) -> None:
    with pytest.raises(ManifestError):
        SignedManifest.from_json(wire)


def test_member_without_an_encryption_key_cannot_be_serialised(
    make: MakeManifest, alice: keys.KeyPair
) -> None:
    m = make(members=(dataclasses.replace(alice.public, box_key=None),))
    with pytest.raises(ManifestError):
        m.to_payload()


def test_audit_key_for_a_checkpoint_is_the_newest_covering_it(make: MakeManifest) -> None:
    old, new = bytes.fromhex("01" * 32), bytes.fromhex("02" * 32)
    m = make(audit_keys=(AuditKey(key=new, from_seq=100), AuditKey(key=old, from_seq=0)))
    assert m.audit_key_for(0) == old
    assert m.audit_key_for(99) == old
    assert m.audit_key_for(100) == new
    assert m.receipt_key == new
    late = make(audit_keys=(AuditKey(key=new, from_seq=10),))
    with pytest.raises(ManifestError):
        late.audit_key_for(9)


def test_manifest_finds_members_auditors_archive_and_code_kdfs(
    make: MakeManifest, alice: keys.KeyPair, bob: keys.KeyPair, carol: keys.KeyPair
) -> None:
    archive = _renamed(bob, "archive", "vault")
    kdfs = (CodeKdf(1, 2, 64 * MIB), CodeKdf(2, 3, 128 * MIB))
    m = make(archive=archive, code_kdf=kdfs)
    assert m.member("alice") == alice.public
    assert m.member("carol") is None
    assert m.auditor("carol") == carol.public
    assert m.recipient("vault") == archive
    assert m.recipient("bob") == bob.public
    assert m.code_kdf_for(2) == kdfs[1]
    assert m.code_kdf_for(3) is None
    assert m.current_code_kdf == kdfs[1]


def test_manifest_with_an_archive_recipient_round_trips(
    make: MakeManifest, root: keys.KeyPair, bob: keys.KeyPair
) -> None:
    m = make(archive=_renamed(bob, "archive", "vault"))
    verified = verify_manifest(
        manifest.sign_manifest(m, [root]), pin=root.public.fingerprint, now=NOW
    )
    assert verified.manifest == m


@pytest.mark.parametrize("versions", [[0], [32], [1, 1]])
def test_code_kdf_versions_out_of_range_or_repeated_are_refused(
    make: MakeManifest, root: keys.KeyPair, versions: list[int]
) -> None:
    data = make().to_payload()
    data["code_kdf"] = [
        {"alg": "argon2id13", "version": v, "opslimit": 3, "memlimit": 64 * 1024 * 1024}
        for v in versions
    ]
    with pytest.raises(ManifestError, match="versions are invalid"):
        verify_manifest(signed_dict(data, root), pin=root.public.fingerprint, now=NOW)


def test_an_auditor_with_an_invalid_id_is_refused(make: MakeManifest, root: keys.KeyPair) -> None:
    data = make().to_payload()
    data["auditors"] = [{"id": "Not Valid!", "name": "x", "key": data["members"][0]["sign_key"]}]
    with pytest.raises(ManifestError, match="auditor with an invalid id"):
        verify_manifest(signed_dict(data, root), pin=root.public.fingerprint, now=NOW)


def test_a_successor_retires_removed_and_replaced_keys_and_keeps_the_rest(
    make: MakeManifest, root: keys.KeyPair, alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    new_alice = keys.keypair_from_secrets(
        "member", "alice", "Alice Example", sign_seed=b"\x31" * 32, box_secret=b"\x32" * 32
    )
    first = make()

    second = manifest.successor(
        first, root=root.public.fingerprint, now=NOW, days=30, members=(new_alice.public,)
    )
    third = manifest.successor(second, root=root.public.fingerprint, now=NOW, days=30)
    parsed = verify_manifest(
        manifest.sign_manifest(third, [root]), pin=root.public.fingerprint, now=NOW
    ).manifest

    assert second.version == 6
    assert third.version == 7
    assert {(r.label, r.sign_key, r.until_version) for r in parsed.retired} == {
        ("member:alice", alice.public.sign_key, 6),
        ("member:bob", bob.public.sign_key, 6),
    }
    assert parsed.instance_salt == first.instance_salt
    assert manifest.changed_labels(first, second) == {"member:alice", "member:bob"}
    assert manifest.changed_labels(second, third) == set()


def test_a_retired_key_verifies_only_epochs_that_began_before_it_was_retired(
    make: MakeManifest, root: keys.KeyPair, alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    new_alice = keys.keypair_from_secrets(
        "member", "alice", "Alice Example", sign_seed=b"\x31" * 32, box_secret=b"\x32" * 32
    )
    rotated = manifest.successor(
        make(),
        root=root.public.fingerprint,
        now=NOW,
        days=30,
        members=(new_alice.public, bob.public),
    )

    assert rotated.sender_keys("member:alice", since_version=5) == [
        new_alice.public.sign_key,
        alice.public.sign_key,
    ]
    assert rotated.sender_keys("member:alice", since_version=6) == [new_alice.public.sign_key]
    assert rotated.sender_keys("member:alice", since_version=None) == [new_alice.public.sign_key]
    assert rotated.sender_keys("member:bob", since_version=1) == [bob.public.sign_key]
    assert rotated.sender_keys("auditor:carol", since_version=1) == []
    assert rotated.sender_keys("member:nobody", since_version=1) == []


def test_signing_keys_are_the_current_key_then_every_retired_one_of_that_label(
    make: MakeManifest, root: keys.KeyPair, alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    new_alice = keys.keypair_from_secrets(
        "member", "alice", "Alice Example", sign_seed=b"\x31" * 32, box_secret=b"\x32" * 32
    )
    rotated = manifest.successor(
        make(), root=root.public.fingerprint, now=NOW, days=30, members=(new_alice.public,)
    )

    assert rotated.signing_keys("member:alice") == [
        new_alice.public.sign_key,
        alice.public.sign_key,
    ]
    assert rotated.signing_keys("member:bob") == [bob.public.sign_key]
    assert rotated.signing_keys("member:nobody") == []


def test_a_manifest_without_retired_keys_keeps_its_exact_earlier_bytes(
    make: MakeManifest,
) -> None:
    assert "retired" not in make().to_payload()


@pytest.mark.parametrize(
    "entry",
    [
        {"label": "reporter", "sign_key": "A" * 43, "until_version": 3},
        {"label": "member:alice", "sign_key": "A" * 43, "until_version": 9},
        {"label": "member:alice", "sign_key": "A" * 43, "until_version": 1},
        {"label": "member:alice", "sign_key": "A" * 43, "until_version": True},
        {"label": "member:alice", "sign_key": "A" * 42, "until_version": 3},
    ],
)
def test_a_malformed_or_impossible_retired_key_is_refused(
    make: MakeManifest, root: keys.KeyPair, entry: dict[str, Any]
) -> None:
    payload = make().to_payload()
    payload["retired"] = [entry]

    with pytest.raises(ManifestError):
        verify_manifest(signed_dict(payload, root), pin=root.public.fingerprint, now=NOW)
