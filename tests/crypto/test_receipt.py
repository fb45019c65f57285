"""Submission receipts signed by the instance key."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from safevoice.crypto import keys, receipt
from safevoice.errors import VerificationFailed


@pytest.fixture(scope="module")
def instance(fixed: Any) -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "instance", "instance", "Instance", sign_seed=fixed("instance"), box_secret=None
    )


@pytest.fixture(scope="module")
def issued(instance: keys.KeyPair) -> receipt.Receipt:
    return receipt.issue_receipt(
        instance.sign_seed,
        instance_id="test.example",
        case_id="Ih4bTFs0kL2-vwJTqT3Yhw",
        report_hash=bytes.fromhex("ab" * 32),
        day="2030-02-01",
    )


def test_receipt_verifies_under_the_instance_key(
    issued: receipt.Receipt, instance: keys.KeyPair
) -> None:
    issued.verify(instance.public.sign_key)


def test_receipt_survives_its_wire_form(issued: receipt.Receipt, instance: keys.KeyPair) -> None:
    again = receipt.Receipt.from_json(issued.to_json())
    assert again == issued
    again.verify(instance.public.sign_key)


@pytest.mark.parametrize(
    "change",
    [
        {"instance_id": "other.example"},
        {"case_id": "Ih4bTFs0kL2-vwJTqT3Yhx"},
        {"report_hash": bytes.fromhex("ab" * 31 + "aa")},
        {"day": "2030-02-02"},
    ],
)
def test_altered_receipt_does_not_verify(
    issued: receipt.Receipt, instance: keys.KeyPair, change: dict[str, Any]
) -> None:
    with pytest.raises(VerificationFailed):
        dataclasses.replace(issued, **change).verify(instance.public.sign_key)


def test_receipt_does_not_verify_under_another_key(
    issued: receipt.Receipt, alice: keys.KeyPair
) -> None:
    with pytest.raises(VerificationFailed):
        issued.verify(alice.public.sign_key)


def test_receipt_signature_is_bound_to_its_context(
    issued: receipt.Receipt, instance: keys.KeyPair
) -> None:
    fields = (b"test.example", b"Ih4bTFs0kL2-vwJTqT3Yhw", bytes.fromhex("ab" * 32), b"2030-02-01")
    keys.verify(instance.public.sign_key, issued.sig, receipt.RECEIPT_CONTEXT, *fields)
    with pytest.raises(VerificationFailed):
        keys.verify(instance.public.sign_key, issued.sig, "safevoice-checkpoint-v1", *fields)
