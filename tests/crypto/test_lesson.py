"""A lessons-learned summary is published only as its author signed it and with two different
members' approvals of exactly that text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from safevoice.crypto.keys import generate
from safevoice.crypto.lesson import (
    Lesson,
    SignedLesson,
    approve,
    open_lesson,
    publishable,
    seal_lesson,
    sign_lesson,
)
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, VerificationFailed
from tests.support.world import World


@pytest.fixture
def committee(world: World) -> Manifest:
    return world.manifest(b"\x01" * 32)[0]


def lesson_of(manifest: Manifest, summary: str = "Night shifts now have two people.") -> Lesson:
    return Lesson(
        instance_id=manifest.instance_id,
        lesson_id="L" * 22,
        case_id="C" * 22,
        quarter="2027-Q1",
        category="safety",
        summary=summary,
        author="alice",
    )


def approvals(
    world: World, manifest: Manifest, signed: SignedLesson, *members: str
) -> dict[str, bytes]:
    return {
        m: approve(
            world.members[m],
            instance_id=manifest.instance_id,
            lesson_id="L" * 22,
            digest=signed.digest,
        )
        for m in members
    }


def test_a_summary_approved_by_its_author_and_a_second_member_is_publishable(
    world: World, committee: Manifest
) -> None:
    signed = sign_lesson(lesson_of(committee), world.members["alice"])
    given = approvals(world, committee, signed, "alice", "bob")
    assert publishable(signed, given, committee) == lesson_of(committee)


def test_a_summary_without_a_second_members_approval_is_refused(
    world: World, committee: Manifest
) -> None:
    signed = sign_lesson(lesson_of(committee), world.members["alice"])
    with pytest.raises(VerificationFailed, match="two committee members"):
        publishable(signed, approvals(world, committee, signed, "alice"), committee)
    # An approval filed under another member's name does not count as theirs.
    forged = approvals(world, committee, signed, "alice")
    forged["bob"] = forged["alice"]
    with pytest.raises(VerificationFailed):
        publishable(signed, forged, committee)
    # Nor does the approval of someone outside the manifest.
    outsider = generate("member", "bob", "Not Bob")
    forged["bob"] = approve(
        outsider, instance_id=committee.instance_id, lesson_id="L" * 22, digest=signed.digest
    )
    with pytest.raises(VerificationFailed):
        publishable(signed, forged, committee)


def test_an_approval_of_one_text_does_not_carry_over_to_another(
    world: World, committee: Manifest
) -> None:
    first = sign_lesson(lesson_of(committee), world.members["alice"])
    given = approvals(world, committee, first, "alice", "bob")
    changed = sign_lesson(
        lesson_of(committee, "Night shifts now have two people at Depot 7."),
        world.members["alice"],
    )
    with pytest.raises(VerificationFailed):
        publishable(changed, given, committee)


def test_a_lesson_is_dated_by_its_quarter_only(world: World, committee: Manifest) -> None:
    with pytest.raises(BadEncoding, match="quarter"):
        sign_lesson(replace(lesson_of(committee), quarter="2027-03"), world.members["alice"])


def test_only_committee_members_open_a_proposed_summary(world: World, committee: Manifest) -> None:
    lesson = lesson_of(committee)
    signed = sign_lesson(lesson, world.members["alice"])
    sealed = seal_lesson(signed, lesson, committee)
    opened = open_lesson(
        sealed, world.members["carol"], instance_id=committee.instance_id, lesson_id="L" * 22
    )
    assert opened == signed
    with pytest.raises(VerificationFailed):
        open_lesson(sealed, world.auditor, instance_id=committee.instance_id, lesson_id="L" * 22)
    with pytest.raises(VerificationFailed):
        open_lesson(
            sealed, world.members["carol"], instance_id=committee.instance_id, lesson_id="M" * 22
        )
