"""Submission receipts: the instance's signed statement that a case arrived on a given day.

The receipt covers the instance id, the case id, the transcript hash of the encrypted report and
the day of receipt, under the instance key that the committee's manifest lists as an audit key.
A reporter who keeps it can later prove exactly which ciphertext was accepted, and when — to the
day, never the time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import nacl.signing

from safevoice.crypto.encoding import b64d, b64e, lp, text
from safevoice.crypto.keys import verify
from safevoice.errors import BadEncoding

RECEIPT_CONTEXT = "safevoice-receipt-v1"


@dataclass(frozen=True)
class Receipt:
    instance_id: str
    case_id: str
    report_hash: bytes
    day: str
    sig: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "case_id": self.case_id,
            "report_hash": b64e(self.report_hash),
            "day": self.day,
            "sig": b64e(self.sig),
        }

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        try:
            return cls(
                instance_id=text(data["instance_id"], what="receipt's instance id"),
                case_id=text(data["case_id"], what="receipt's case id"),
                report_hash=b64d(data["report_hash"], size=32, what="report hash"),
                day=text(data["day"], what="receipt's day"),
                sig=b64d(data["sig"], size=64, what="receipt signature"),
            )
        except (KeyError, TypeError) as exc:
            raise BadEncoding("The receipt is malformed.") from exc

    def verify(self, instance_key: bytes) -> None:
        verify(
            instance_key,
            self.sig,
            RECEIPT_CONTEXT,
            *_fields(self.instance_id, self.case_id, self.report_hash, self.day),
        )


def _fields(instance_id: str, case_id: str, report_hash: bytes, day: str) -> tuple[bytes, ...]:
    return (instance_id.encode(), case_id.encode(), report_hash, day.encode())


@functools.lru_cache(maxsize=2)
def _instance_signer(instance_seed: bytes) -> nacl.signing.SigningKey:
    """The instance's signing key, derived from its seed once rather than for every receipt
    (the seed is held by the server's snapshot anyway; two entries cover a key rotation)."""
    return nacl.signing.SigningKey(instance_seed)


def issue_receipt(
    instance_seed: bytes, *, instance_id: str, case_id: str, report_hash: bytes, day: str
) -> Receipt:
    message = lp(RECEIPT_CONTEXT, *_fields(instance_id, case_id, report_hash, day))
    sig = _instance_signer(instance_seed).sign(message).signature
    return Receipt(
        instance_id=instance_id, case_id=case_id, report_hash=report_hash, day=day, sig=sig
    )
