"""Reading across key changes: what a retired key signed stays valid, nothing it signs later is.

A member's key is rotated (the manifest retires the old signing key) and another member re-keys
the case. The reader must still verify the old message signed with the retired key, and must
refuse an object signed with it in the new epoch, or slipped in after the re-key under the old
epoch's keys.
"""

from __future__ import annotations

from datetime import date

import pytest

from safevoice.cases.schemas import CaseDetail, CaseObjectOut, CaseSummary
from safevoice.client.reader import ReadCase, read_objects
from safevoice.client.workflow import rekey_body
from safevoice.clock import utcnow
from safevoice.crypto.casefile import NOTE_FORMAT, NewCase, body_plaintext, create_case
from safevoice.crypto.casefile import message_plaintext as plaintext
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.envelope import CaseKeys, Envelope, seal, unwrap_case_keys
from safevoice.crypto.keys import KeyPair, generate
from safevoice.crypto.manifest import Manifest, successor
from tests.support.reporter import reporter_keys
from tests.support.world import World


def item(chain: str, envelope: Envelope) -> CaseObjectOut:
    return CaseObjectOut.model_validate(
        {"chain": chain, "seq": envelope.seq, "envelope": envelope.to_json()}
    )


def read(
    objects: list[CaseObjectOut], case: NewCase, epoch: int, keys: CaseKeys, m: Manifest
) -> ReadCase:
    return read_objects(
        objects, case_id=b64e(case.case_id), epoch=epoch, channel=None, keys=keys, manifest=m
    )


def member_message(
    case: NewCase, keys: bytes, signer: KeyPair, *, seq: int, prev: bytes, epoch: int
) -> Envelope:
    return seal(
        keys,
        plaintext(f"Message {seq}"),
        case_id=case.case_id,
        kind="message",
        sender="member:alice",
        seq=seq,
        prev=prev,
        epoch=epoch,
        sign_seed=signer.sign_seed,
    )


@pytest.fixture(scope="module")
def scene(world: World) -> tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys]:
    """A case with a message from Alice's old key, re-keyed by Bob after Alice's rotation."""
    first, _ = world.manifest(b"\x01" * 32)
    _, reporter = reporter_keys(first, fresh=False)
    case = create_case(first, reporter, channel="general", text="The scales are rigged.")
    old_alice, bob = world.members["alice"], world.members["bob"]
    report = case.report
    message = member_message(
        case, case.keys.thread, old_alice, seq=1, prev=report.transcript_hash(), epoch=0
    )
    objects = [item("thread", report), item("thread", message)]
    new_alice = generate("member", "alice", "Alice")
    rotated = successor(
        first,
        root=world.pin,
        now=utcnow(),
        days=30,
        members=(new_alice.public, bob.public, world.members["carol"].public),
    )
    before = read(objects, case, 0, case.keys, rotated)
    assert before.problems == []
    detail = CaseDetail(
        case=CaseSummary.model_construct(id=b64e(case.case_id), epoch=0, received_on=date.today()),
        objects=objects,
        wrapped_keys=[],
    )
    body, _ = rekey_body(before, detail, keys=bob, manifest=rotated)
    objects.append(item("thread", Envelope.from_json(body["envelope"])))
    sealed = next(w["sealed"] for w in body["wrapped_keys"] if w["recipient"] == "member:bob")
    epoch_one = unwrap_case_keys(
        bob.box_secret or b"",
        b64d(sealed),
        case_id=case.case_id,
        epoch=1,
        recipient="member:bob",
    )
    return case, objects, rotated, new_alice, epoch_one


def test_after_the_rekey_the_old_message_still_verifies_with_the_retired_key(
    scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys],
) -> None:
    case, objects, rotated, _, epoch_one = scene

    result = read(objects, case, 1, epoch_one, rotated)

    assert result.problems == []
    assert [o.verified for o in result.objects] == [True, True, True]
    assert result.recipients == ["member:alice", "member:bob", "member:carol", "reporter"]


def test_the_retired_key_cannot_sign_anything_in_the_new_epoch(
    world: World, scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys]
) -> None:
    case, objects, rotated, new_alice, epoch_one = scene
    head = Envelope.from_json(objects[-1].envelope.model_dump()).transcript_hash()

    forged = member_message(
        case, epoch_one.thread, world.members["alice"], seq=3, prev=head, epoch=1
    )
    genuine = member_message(case, epoch_one.thread, new_alice, seq=3, prev=head, epoch=1)

    refused = read([*objects, item("thread", forged)], case, 1, epoch_one, rotated)
    accepted = read([*objects, item("thread", genuine)], case, 1, epoch_one, rotated)
    assert refused.problems == ["thread message 3: A signature did not verify."]
    assert accepted.problems == []


def test_an_old_epoch_object_slipped_in_after_the_rekey_is_refused(
    world: World, scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys]
) -> None:
    case, objects, rotated, _, epoch_one = scene
    note = seal(
        case.keys.committee or b"",
        body_plaintext(NOTE_FORMAT, text="Backdated note."),
        case_id=case.case_id,
        kind="note",
        sender="member:alice",
        seq=0,
        prev=bytes(32),
        epoch=0,
        sign_seed=world.members["alice"].sign_seed,
    )

    result = read([*objects, item("committee", note)], case, 1, epoch_one, rotated)

    assert any("older key epoch than the re-key" in p for p in result.problems), result.problems
