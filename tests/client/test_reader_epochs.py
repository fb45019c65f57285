"""Reading across key changes: what a retired key signed stays valid, nothing it signs later is.

A member's key is rotated (the manifest retires the old signing key) and another member re-keys
the case. The reader must still verify the old message signed with the retired key, and must
refuse an object signed with it in the new epoch, or slipped in after the re-key under the old
epoch's keys.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from safevoice.clock import utcnow
from safevoice.crypto.casefile import NOTE_FORMAT, NewCase, body_plaintext, create_case
from safevoice.crypto.casefile import message_plaintext as plaintext
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.envelope import CaseKeys, Envelope, decrypt, seal, unwrap_case_keys
from safevoice.crypto.keys import KeyPair, generate
from safevoice.crypto.manifest import Manifest, successor
from safevoice.protocol.reader import UNREADABLE, ReadCase, epoch_keys, read_objects
from safevoice.protocol.wire import CaseDetail, CaseObjectOut, CaseSummary
from safevoice.protocol.workflow import rekey_body
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


def envelope_of(obj: CaseObjectOut) -> Envelope:
    return Envelope.from_json(obj.envelope.model_dump())


def forged_record(
    case: NewCase, objects: list[CaseObjectOut], epoch_one: CaseKeys, signer: KeyPair, **fields: Any
) -> CaseObjectOut:
    """Object 2 replaced by an epoch record with the given fields, sealed under the real key of
    epoch 1 and signed by ``signer`` (a member: only a member's record can get this far)."""
    honest = json.loads(decrypt(epoch_one.thread, envelope_of(objects[2])))
    envelope = seal(
        epoch_one.thread,
        canonical_json({**honest, **fields}),
        case_id=case.case_id,
        kind="epoch",
        sender="member:bob",
        seq=2,
        prev=envelope_of(objects[1]).transcript_hash(),
        epoch=1,
        sign_seed=signer.sign_seed,
    )
    return item("thread", envelope)


def test_an_epoch_record_that_names_a_key_for_its_own_epoch_never_replaces_the_unwrapped_one(
    world: World, scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys]
) -> None:
    case, objects, rotated, _, epoch_one = scene
    bogus = b64e(bytes(32))
    honest = json.loads(decrypt(epoch_one.thread, envelope_of(objects[2])))
    record = forged_record(
        case,
        objects,
        epoch_one,
        world.members["bob"],
        thread_keys={**honest["thread_keys"], "1": bogus},
    )

    found = epoch_keys(
        [*objects[:2], record],
        case_id=b64e(case.case_id),
        epoch=1,
        keys=epoch_one,
        manifest=rotated,
    )
    result = read([*objects[:2], record], case, 1, epoch_one, rotated)

    assert found.keys == {1: epoch_one}
    assert found.problems == [
        "the key epoch record does not verify: The epoch record names keys of an epoch that "
        "is not an earlier one."
    ]
    assert result.problems[0] == found.problems[0]
    assert result.objects[2].problem == UNREADABLE
    assert not any(o.verified for o in result.objects)


@pytest.mark.parametrize(
    "fields",
    [
        {"heads": []},
        {"thread_keys": []},
        {"heads": {"thread": [0, b64e(bytes(32))]}},
        {"heads": {"thread": "ab", "committee": [-1, b64e(bytes(32))]}},
        {"recipients": "reporter"},
        {"manifest_version": True},
        {"epoch": True},
        {"thread_keys": {"00": b64e(bytes(32))}},
    ],
)
def test_a_malformed_epoch_record_is_reported_not_a_crash(
    world: World,
    scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys],
    fields: dict[str, Any],
) -> None:
    case, objects, rotated, _, epoch_one = scene
    record = forged_record(case, objects, epoch_one, world.members["bob"], **fields)

    result = read([*objects[:2], record], case, 1, epoch_one, rotated)

    assert result.problems[0].startswith("the key epoch record does not verify: The epoch record")
    assert result.objects[2].problem == UNREADABLE


def test_the_case_is_held_for_the_rotated_member_until_it_is_re_keyed(
    scene: tuple[NewCase, list[CaseObjectOut], Manifest, KeyPair, CaseKeys],
) -> None:
    case, objects, rotated, _, epoch_one = scene

    before = read(objects[:2], case, 0, case.keys, rotated)
    after = read(objects, case, 1, epoch_one, rotated)

    assert before.problems == []
    assert before.held_by == ["member:alice"]
    assert after.held_by == []
