"""Reading a case on a member's machine: unwrap, verify, decrypt, check the chains.

Nothing here trusts the server: the case key comes from a wrapped key that must open with the
member's own private key and name this case, epoch and member; every object's signature is
checked against the key of its sender (the manifest for members, the reporter's key from inside
the decrypted report for the reporter); each chain must run from 0 without gaps, each object
naming the hash of the one before (invariant 7). Problems are collected and shown, never
silently skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from safevoice.cases.schemas import CaseDetail, CaseSummary
from safevoice.crypto.casefile import REPORTER, Report, parse_report
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import (
    GENESIS,
    CaseKeys,
    Envelope,
    decrypt,
    open_envelope,
    unwrap_case_keys,
)
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEnvelope, NotFound, SafeVoiceError, VerificationFailed


@dataclass
class ReadObject:
    chain: str
    seq: int
    kind: str
    sender: str
    epoch: int
    verified: bool
    body: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def text(self) -> str | None:
        value = self.body.get("text")
        return value if isinstance(value, str) else None


@dataclass
class ReadCase:
    summary: CaseSummary
    report: Report | None
    objects: list[ReadObject]
    problems: list[str]
    heads: dict[str, tuple[int, bytes]]


def unwrap_for(detail: CaseDetail, keys: KeyPair, label: str) -> CaseKeys:
    if keys.box_secret is None:
        raise VerificationFailed("This key cannot decrypt cases.")
    case_id = b64d(detail.case.id, size=16, what="case id")
    for wrapped in detail.wrapped_keys:
        if wrapped.epoch == detail.case.epoch and wrapped.recipient == label:
            return unwrap_case_keys(
                keys.box_secret,
                b64d(wrapped.sealed, what="wrapped key"),
                case_id=case_id,
                epoch=wrapped.epoch,
                recipient=label,
            )
    raise NotFound("The server sent no key for you for this case.")


def _sender_key(sender: str, report: Report | None, manifest: Manifest) -> bytes | None:
    if sender == REPORTER:
        return report.sign_key if report is not None else None
    kind, _, ident = sender.partition(":")
    if kind == "member":
        member = manifest.member(ident)
        return member.sign_key if member is not None else None
    return None


def read_case(detail: CaseDetail, *, keys: KeyPair, label: str, manifest: Manifest) -> ReadCase:
    case_keys = unwrap_for(detail, keys, label)
    case_id = b64d(detail.case.id, size=16, what="case id")
    problems: list[str] = []
    objects: list[ReadObject] = []
    report: Report | None = None
    heads: dict[str, tuple[int, bytes]] = {}

    for chain in ("thread", "committee"):
        key = case_keys.thread if chain == "thread" else case_keys.committee
        items = sorted((o for o in detail.objects if o.chain == chain), key=lambda o: o.seq)
        prev, expected_seq = GENESIS, 0
        for item in items:
            try:
                envelope = Envelope.from_json(item.envelope.model_dump())
            except BadEnvelope as exc:
                problems.append(f"{chain} object {item.seq} is malformed: {exc.message}")
                continue
            read = ReadObject(
                chain=chain,
                seq=envelope.seq,
                kind=envelope.kind,
                sender=envelope.sender,
                epoch=envelope.epoch,
                verified=False,
            )
            objects.append(read)
            if envelope.case_id != case_id or envelope.chain != chain or envelope.seq != item.seq:
                read.problem = "it belongs to another case or position"
            elif envelope.seq != expected_seq:
                read.problem = f"messages are missing before it (expected number {expected_seq})"
            elif envelope.prev != prev:
                read.problem = "it does not follow the message before it (reordered or replaced)"
            elif (envelope.kind == "report") != (chain == "thread" and envelope.seq == 0):
                read.problem = "only the first message of a case can be its report"
            elif envelope.epoch > detail.case.epoch:
                read.problem = "it claims a key epoch the case has not reached"
            if key is None:
                read.problem = read.problem or "you hold no key for this part of the case"
            else:
                _open_into(read, envelope, key, report, manifest)
                if chain == "thread" and envelope.seq == 0 and read.problem is None:
                    try:
                        report = parse_report(decrypt(key, envelope), case_id=case_id)
                        envelope.verify_signature(report.sign_key)
                        if report.channel != detail.case.channel:
                            read.problem = "the server files it under another channel"
                        read.verified = read.problem is None
                    except SafeVoiceError as exc:
                        read.problem = exc.message
            if read.problem:
                problems.append(f"{chain} message {read.seq}: {read.problem}")
            prev, expected_seq = envelope.transcript_hash(), envelope.seq + 1
        heads[chain] = (expected_seq - 1, prev)
    return ReadCase(
        summary=detail.case, report=report, objects=objects, problems=problems, heads=heads
    )


def _open_into(
    read: ReadObject, envelope: Envelope, key: bytes, report: Report | None, manifest: Manifest
) -> None:
    if envelope.kind == "report":
        # The report is verified with the reporter key found inside it (see read_case).
        try:
            read.body = json.loads(decrypt(key, envelope))
        except (SafeVoiceError, ValueError) as exc:
            read.problem = getattr(exc, "message", "it does not decrypt")
        return
    sign_key = _sender_key(envelope.sender, report, manifest)
    if sign_key is None:
        read.problem = read.problem or "its sender is unknown"
        return
    try:
        read.body = json.loads(open_envelope(key, envelope, sign_key=sign_key))
        read.verified = read.problem is None
    except VerificationFailed as exc:
        read.problem = exc.message
    except (SafeVoiceError, ValueError):
        read.problem = "it does not decrypt"
