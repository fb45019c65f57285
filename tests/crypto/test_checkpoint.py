"""Checkpoint signatures, countersignatures and restore approvals: bound to every field and
to their own context."""

from __future__ import annotations

from typing import Any

import pytest

from safevoice.crypto import checkpoint, keys
from safevoice.crypto.encoding import lp, u64
from safevoice.errors import VerificationFailed

HEAD = bytes.fromhex("11" * 32)


@pytest.fixture(scope="module")
def instance(fixed: Any) -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "instance", "instance", "Instance", sign_seed=fixed("instance"), box_secret=None
    )


def test_a_checkpoint_verifies_and_any_changed_field_does_not(instance: keys.KeyPair) -> None:
    sig = checkpoint.sign_checkpoint(instance.sign_seed, instance_id="i", seq=7, head=HEAD)

    checkpoint.verify_checkpoint(instance.public.sign_key, sig, instance_id="i", seq=7, head=HEAD)
    for changed in (
        {"instance_id": "j", "seq": 7, "head": HEAD},
        {"instance_id": "i", "seq": 8, "head": HEAD},
        {"instance_id": "i", "seq": 7, "head": bytes(32)},
    ):
        with pytest.raises(VerificationFailed):
            checkpoint.verify_checkpoint(instance.public.sign_key, sig, **changed)  # type: ignore[arg-type]  # the changed fields come from a parametrised dict; the callee checks them at run time


def test_a_checkpoint_signature_is_no_countersignature_and_the_reverse(
    instance: keys.KeyPair,
) -> None:
    signed = checkpoint.sign_checkpoint(instance.sign_seed, instance_id="i", seq=1, head=HEAD)
    counter = checkpoint.countersign(instance.sign_seed, instance_id="i", seq=1, head=HEAD)

    with pytest.raises(VerificationFailed):
        checkpoint.verify_countersignature(
            instance.public.sign_key, signed, instance_id="i", seq=1, head=HEAD
        )
    with pytest.raises(VerificationFailed):
        checkpoint.verify_checkpoint(
            instance.public.sign_key, counter, instance_id="i", seq=1, head=HEAD
        )


def test_a_restore_approval_covers_its_documented_bytes_and_every_field(
    alice: keys.KeyPair,
) -> None:
    fields: dict[str, Any] = {
        "instance_id": "i",
        "backup_id": "b1",
        "backup_seq": 3,
        "backup_head": HEAD,
        "from_seq": 9,
        "from_head": bytes(32),
    }
    approval = checkpoint.sign_restore_approval(alice.sign_seed, **fields)

    assert checkpoint.restore_approval_message(**fields) == lp(
        "safevoice-restore-approval-v1", b"i", b"b1", u64(3), HEAD, u64(9), bytes(32)
    )
    checkpoint.verify_restore_approval(alice.public.sign_key, approval, **fields)
    for name, other in (
        ("instance_id", "x"),
        ("backup_id", "b2"),
        ("backup_seq", 4),
        ("backup_head", bytes(32)),
        ("from_seq", 10),
        ("from_head", HEAD),
    ):
        with pytest.raises(VerificationFailed):
            checkpoint.verify_restore_approval(
                alice.public.sign_key, approval, **{**fields, name: other}
            )
