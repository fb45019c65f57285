"""Survey documents are refused unless a committee member signed exactly them; answers open
only for members and only in the survey they were written for."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.survey import (
    Answer,
    SignedSurvey,
    Survey,
    new_survey_id,
    open_answer,
    seal_answer,
    sign_survey,
    verify_survey,
)
from safevoice.errors import BadEncoding, BadRequest, VerificationFailed
from tests.support.world import World


@pytest.fixture
def committee(world: World) -> Manifest:
    return world.manifest(b"\x01" * 32)[0]


def a_survey(manifest: Manifest, author: str = "alice") -> Survey:
    return Survey(
        instance_id=manifest.instance_id,
        survey_id=new_survey_id(),
        title="Speaking up, spring",
        opens_on=date(2027, 3, 1),
        closes_on=date(2027, 3, 14),
        channels=("general",),
        questions=("I can raise a concern without fear.", "Concerns raised are acted on."),
        free_text="What would make it easier to speak up?",
        author=author,
    )


def test_a_survey_signed_by_its_author_verifies(world: World, committee: Manifest) -> None:
    survey = a_survey(committee)
    assert verify_survey(sign_survey(survey, world.members["alice"]), committee) == survey


def test_a_changed_question_breaks_the_signature(world: World, committee: Manifest) -> None:
    signed = sign_survey(a_survey(committee), world.members["alice"])
    payload = signed.payload.replace(b"without fear", b"with some fear")
    with pytest.raises(VerificationFailed):
        verify_survey(replace(signed, payload=payload), committee)


def test_a_survey_signed_by_someone_outside_the_manifest_is_refused(committee: Manifest) -> None:
    stranger = generate("member", "alice", "Not Alice")
    signed = sign_survey(a_survey(committee), stranger)
    with pytest.raises(VerificationFailed):
        verify_survey(signed, committee)


def test_a_member_cannot_sign_a_survey_in_another_members_name(
    world: World, committee: Manifest
) -> None:
    with pytest.raises(BadRequest):
        sign_survey(a_survey(committee, author="bob"), world.members["alice"])
    # Forged by hand: alice's signature, bob named as author.
    survey = a_survey(committee, author="bob")
    payload = json.dumps(survey.to_payload(), sort_keys=True, separators=(",", ":")).encode()
    forged = SignedSurvey(
        payload=payload,
        signer="member:alice",
        sig=world.members["alice"].sign("safevoice-survey-v1", payload),
    )
    with pytest.raises(VerificationFailed):
        verify_survey(forged, committee)


def test_a_re_serialised_survey_is_refused_even_with_a_valid_signature(
    world: World, committee: Manifest
) -> None:
    payload = json.dumps(a_survey(committee).to_payload(), indent=1).encode()
    signed = SignedSurvey(
        payload=payload,
        signer="member:alice",
        sig=world.members["alice"].sign("safevoice-survey-v1", payload),
    )
    with pytest.raises(BadEncoding):
        verify_survey(signed, committee)


def test_a_survey_of_another_instance_is_refused(world: World, committee: Manifest) -> None:
    survey = replace(a_survey(committee), instance_id=b64e(b"\x02" * 16))
    with pytest.raises(VerificationFailed):
        verify_survey(sign_survey(survey, world.members["alice"]), committee)


def test_every_member_opens_an_answer_and_nobody_else(world: World, committee: Manifest) -> None:
    survey = a_survey(committee)
    answer = Answer(scores=(4, None), free_text="More time with the team lead.")
    sealed = seal_answer(survey, committee, answer)
    for member in world.members.values():
        assert open_answer(survey, sealed, member) == answer
    outsider = generate("member", "alice", "Not Alice")
    with pytest.raises(VerificationFailed):
        open_answer(survey, sealed, outsider)


def test_an_answer_moved_to_another_survey_does_not_open(world: World, committee: Manifest) -> None:
    survey = a_survey(committee)
    sealed = seal_answer(survey, committee, Answer(scores=(5, 5)))
    other = replace(survey, survey_id=new_survey_id())
    with pytest.raises(VerificationFailed):
        open_answer(other, sealed, world.members["alice"])


@pytest.mark.parametrize("scores", [(0, 3), (6, 3), (3,), (3, 3, 3), (True, 3), (2.5, 3)], ids=str)
def test_scores_outside_one_to_five_or_the_wrong_count_are_refused(
    committee: Manifest, scores: tuple[int, ...]
) -> None:
    with pytest.raises(BadRequest):
        seal_answer(a_survey(committee), committee, Answer(scores=scores))
