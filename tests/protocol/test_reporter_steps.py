"""The reporter's steps of protocol/reporter.py, as every reporter-side caller uses them.

The same code always gives the same keys; a submission body is what the intake accepts, with a
proof that solves; the next message lands on the thread's verified head and reads back as the
reporter's; a code under a key derivation the manifest no longer offers gets no keys.
"""

from __future__ import annotations

import dataclasses

from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, create_case, parse_report
from safevoice.crypto.code import parse_code
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import Envelope, decrypt
from safevoice.crypto.keys import random_bytes
from safevoice.protocol import reporter as steps
from safevoice.protocol.reader import read_objects
from safevoice.protocol.wire import CaseObjectOut, SubmissionIn
from tests.support.world import World


def item(seq: int, envelope: Envelope) -> CaseObjectOut:
    return CaseObjectOut.model_validate(
        {"chain": "thread", "seq": seq, "envelope": envelope.to_json()}
    )


def test_the_code_shown_to_the_reporter_gives_back_the_same_keys(world: World) -> None:
    manifest, _ = world.manifest(b"\x02" * 32)
    code, keys = steps.new_reporter(manifest)

    again = steps.keys_for_code(manifest, parse_code(code))

    assert again == keys
    other_code, other = steps.new_reporter(manifest)
    assert other_code != code
    assert other.sign_public != keys.sign_public


def test_a_code_whose_key_derivation_is_gone_gets_no_keys(world: World) -> None:
    manifest, _ = world.manifest(b"\x02" * 32)
    code, _ = steps.new_reporter(manifest)
    parsed = parse_code(code)
    unknown = dataclasses.replace(parsed, version=parsed.version + 1)

    assert steps.keys_for_code(manifest, unknown) is None


def test_the_submission_body_is_what_the_intake_accepts_with_a_proof_that_solves(
    world: World,
) -> None:
    manifest, _ = world.manifest(b"\x02" * 32)
    _, reporter = steps.new_reporter(manifest)
    case = create_case(manifest, reporter, channel="general", text="The scales are rigged.")
    challenge = powmod.issue(random_bytes(32), purpose="submit", difficulty=4, expires=2**31)

    body = steps.submission_body(
        case, reporter, channel="general", challenge=challenge.token, uploads=["u" * 22]
    )

    parsed = SubmissionIn.model_validate(body)
    assert powmod.solves(challenge, parsed.proof.solution)
    assert parsed.case.id == b64e(case.case_id)
    assert parsed.case.reporter.sign_key == b64e(reporter.sign_public)
    assert parsed.case.uploads == ["u" * 22]
    report = parse_report(
        decrypt(case.keys.thread, Envelope.from_json(body["case"]["report"])),
        case_id=case.case_id,
    )
    assert report.text == "The scales are rigged."


def test_the_next_message_follows_the_verified_head_and_reads_as_the_reporters(
    world: World,
) -> None:
    manifest, _ = world.manifest(b"\x02" * 32)
    _, reporter = steps.new_reporter(manifest)
    case = create_case(manifest, reporter, channel="general", text="The scales are rigged.")
    first = [item(0, case.report)]
    before = read_objects(
        first, case_id=b64e(case.case_id), epoch=0, channel=None, keys=case.keys, manifest=manifest
    )

    message = steps.next_message(
        before, reporter, case_id=case.case_id, epoch=0, text="One more thing."
    )

    assert (message.seq, message.prev, message.sender) == (
        1,
        case.report.transcript_hash(),
        REPORTER,
    )
    after = read_objects(
        [*first, item(1, message)],
        case_id=b64e(case.case_id),
        epoch=0,
        channel=None,
        keys=case.keys,
        manifest=manifest,
    )
    assert after.problems == []
    assert [o.verified for o in after.objects] == [True, True]
