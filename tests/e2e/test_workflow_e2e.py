"""The case workflow through the committee's and the reporter's real clients: signed status
changes, handling, recusal enforced by keys, corrective actions, closure and reopening."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from safevoice.crypto.casefile import REPORTER, member_label
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import Envelope, decrypt, unwrap_case_keys
from safevoice.crypto.manifest import Manifest
from safevoice.errors import SafeVoiceError
from safevoice.protocol.reader import read_objects
from safevoice.protocol.wire import CaseObjectOut
from safevoice.storage.db import Database
from tests.e2e.test_dialogue_e2e import execute
from tests.support.canary import new_canary
from tests.support.conversation import Conversation
from tests.support.reporter import keys_of
from tests.support.world import World


def status(talk: Conversation, *args: str, expect: int = 0, member: str = "alice") -> object:
    return talk.cli.safevoice(
        "cases",
        "status",
        talk.case_id,
        *args,
        expect=expect,
        env={"SAFEVOICE_HOME": str(talk.cli.home / member)},
    )


def cases_cmd(
    talk: Conversation, *args: str, expect: int = 0, member: str = "alice", stdin: str | None = None
) -> object:
    return talk.cli.safevoice(
        "cases",
        *args,
        expect=expect,
        stdin=stdin,
        env={"SAFEVOICE_HOME": str(talk.cli.home / member)},
    )


def add_action(
    talk: Conversation,
    *,
    owner: str = "bob",
    due: str = "2099-01-31",
    description: str = "Recalibrate the scales in bay 3.",
) -> object:
    """Plan a corrective action on the conversation's case as alice."""
    return talk.cli.safevoice(
        "actions",
        "add",
        talk.case_id,
        "--owner",
        owner,
        "--due",
        due,
        "--description-file",
        "-",
        stdin=description,
        env={"SAFEVOICE_HOME": str(talk.cli.home / "alice")},
    )


def audit_events(database: Database, case_id: str) -> list[str]:
    with database.reader.connect() as connection:
        rows = connection.execute(text("SELECT body FROM audit_entry")).scalars().all()
    events = [json.loads(bytes(row)) for row in rows]
    return [e["event"] for e in events if e.get("case_id") == case_id]


def test_an_acknowledgement_reaches_the_reporter_signed_and_moves_the_feedback_deadline(
    conversation: Conversation,
) -> None:
    status(conversation, "acknowledged")

    seen = conversation.follow_up()
    listed = json.loads(conversation.member("cases", "list", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object

    ack = [o for o in seen["objects"] if o["kind"] == "status"]  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    assert ack[0]["verified"]
    assert ack[0]["body"]["status"] == "acknowledged"
    assert "Thank you for your report" in ack[0]["text"]
    assert seen["problems"] == []
    case = next(c for c in listed if c["id"] == conversation.case_id)
    assert case["status"] == "acknowledged"
    assert case["acknowledged_on"] is not None
    assert case["ack_overdue"] is False


def test_a_case_is_handled_from_triage_to_closure_and_reopened_with_an_audit_trail(
    conversation: Conversation, raw: Database, tmp_path: Path
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    cases_cmd(talk, "claim", talk.case_id)
    cases_cmd(
        talk,
        "note",
        talk.case_id,
        "--triage",
        "--risk",
        "high",
        "--text-file",
        "-",
        stdin="Investigate: credible, specific, ongoing.",
    )
    status(talk, "investigating")
    add_action(talk)
    status(talk, "action_planned")
    lessons = tmp_path / "lessons.txt"
    lessons.write_text("Calibrate quarterly.")
    refused = status(
        talk, "closed", "--outcome", "substantiated", "--lessons-file", str(lessons), expect=1
    )
    assert "open corrective actions" in refused.stderr + refused.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    status(talk, "closed", "--outcome", "substantiated", "--lessons-file", str(lessons), "--yes")
    status(talk, "investigating")  # reopen

    shown = talk.show()
    committee = [o for o in shown["objects"] if o["chain"] == "committee"]  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    assert [o["kind"] for o in committee] == ["triage", "action", "closure"]
    assert committee[0]["body"]["risk_of_detriment"] == "high"
    assert committee[2]["body"]["approver"] == "alice"
    assert committee[2]["body"]["lessons"] == "Calibrate quarterly."
    case = shown["case"]
    assert case["status"] == "investigating"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert case["closed_on"] is None  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert case["handler"] == "alice"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    actions = json.loads(talk.member("actions", "list", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert [a["owner"] for a in actions if a["case_id"] == talk.case_id] == ["bob"]
    events = audit_events(raw, talk.case_id)
    for expected in (
        "case.status",
        "case.assigned",
        "action.added",
        "case.reopened",
        "triage.added",
    ):
        assert expected in events, expected
    reporter_view = talk.follow_up()
    assert [o["kind"] for o in reporter_view["objects"]].count("status") == 5  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    assert all(o["chain"] == "thread" for o in reporter_view["objects"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape


def test_an_invalid_transition_is_refused_with_a_sentence(conversation: Conversation) -> None:
    refused = status(conversation, "closed", "--outcome", "out_of_scope", expect=1)

    assert "cannot go from received to closed" in refused.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object


def test_a_member_the_reporter_excluded_cannot_claim_and_learns_nothing(
    conversation: Conversation, tmp_path: Path
) -> None:
    from tests.e2e.test_intake_e2e import submit_with_cli

    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"where": "HQ"}))
    excluded = submit_with_cli(
        conversation.cli,
        conversation.server,
        conversation.world,
        "About Bob.",
        "--exclude",
        "bob",
        answers=answers,
    )["case_id"]
    conversation.login("bob")

    refused = cases_cmd(conversation, "claim", excluded, member="bob", expect=1)
    missing = cases_cmd(conversation, "claim", "A" * 22, member="bob", expect=1)

    assert refused.stderr == missing.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert "no such case" in refused.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object


def read_with_secret(
    box_secret: bytes,
    database: Database,
    case_id: str,
    manifest: Manifest,
    *,
    committee: bool = True,
) -> list[str] | None:
    """The harness: try a private key against every wrapped-key row of the case in the raw
    database; with a key that opens, read every object the same rows allow."""
    with database.reader.connect() as connection:
        wraps = connection.execute(
            text("SELECT epoch, recipient, sealed FROM wrapped_key WHERE case_id = :id"),
            {"id": case_id},
        ).all()
        rows = connection.execute(
            text("SELECT chain, seq, envelope FROM case_object WHERE case_id = :id"),
            {"id": case_id},
        ).all()
        epoch = connection.execute(
            text("SELECT epoch FROM case_file WHERE id = :id"), {"id": case_id}
        ).scalar_one()
    objects = [
        CaseObjectOut.model_validate({"chain": c, "seq": s, "envelope": json.loads(bytes(e))})
        for c, s, e in rows
    ]
    labels = [*(member_label(m.id) for m in manifest.members), REPORTER]
    for wrap_epoch, _recipient, sealed in wraps:
        for label in labels:
            try:
                keys = unwrap_case_keys(
                    box_secret,
                    bytes(sealed),
                    case_id=b64d(case_id, size=16),
                    epoch=wrap_epoch,
                    recipient=label,
                )
            except SafeVoiceError:
                continue
            read = read_objects(
                objects,
                case_id=case_id,
                epoch=epoch,
                channel=None,
                keys=keys,
                manifest=manifest,
                chains=("thread", "committee") if committee else ("thread",),
            )
            return [
                o.text or o.body.get("description", "")
                for o in read.objects
                if o.kind in ("message", "note", "action")
            ] + read.problems
    return None


def manifest_of(world: World, conversation: Conversation) -> Manifest:
    import httpx

    from safevoice.clock import utcnow
    from safevoice.crypto.manifest import SignedManifest, verify_manifest

    signed = httpx.get(f"{conversation.server.url}/api/v1/manifest").json()
    return verify_manifest(SignedManifest.from_json(signed), pin=world.pin, now=utcnow()).manifest


def test_after_a_recusal_new_messages_do_not_open_with_the_recused_members_key(
    conversation: Conversation, raw: Database, world: World
) -> None:
    talk = conversation
    before, after = new_canary("BEFORE"), new_canary("AFTER")
    talk.reply(f"Earlier question {before}")
    talk.login("carol")
    cases_cmd(talk, "recuse", talk.case_id, member="carol")
    blocked = cases_cmd(
        talk, "reply", talk.case_id, "--text-file", "-", stdin="Too early.", expect=1
    )
    assert "re-key" in blocked.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    cases_cmd(talk, "rekey", talk.case_id)
    talk.reply(f"Later question {after}")
    manifest = manifest_of(world, talk)

    carol = read_with_secret(world.members["carol"].box_secret or b"", raw, talk.case_id, manifest)
    alice = read_with_secret(world.members["alice"].box_secret or b"", raw, talk.case_id, manifest)
    bob = read_with_secret(world.members["bob"].box_secret or b"", raw, talk.case_id, manifest)
    reporter = keys_of(manifest, talk.code)
    by_reporter = read_with_secret(
        reporter.reply_secret, raw, talk.case_id, manifest, committee=False
    )

    assert carol is None
    for reader in (alice, bob, by_reporter):
        assert reader is not None
        assert any(before in line for line in reader), reader
        assert any(after in line for line in reader), reader
    assert talk.show()["problems"] == []
    assert talk.follow_up()["problems"] == []
    with raw.reader.connect() as connection:
        epochs = (
            connection.execute(
                text("SELECT DISTINCT epoch FROM wrapped_key WHERE case_id = :id"),
                {"id": talk.case_id},
            )
            .scalars()
            .all()
        )
    assert epochs == [1]


def test_keys_from_the_reporters_code_open_no_committee_record(
    conversation: Conversation, raw: Database, world: World, tmp_path: Path
) -> None:
    talk = conversation
    secret = new_canary("COMMITTEE")
    status(talk, "acknowledged")
    cases_cmd(talk, "note", talk.case_id, "--text-file", "-", stdin=f"Note {secret}")
    add_action(talk, owner="alice", due="2099-12-31", description=f"Action {secret}")
    status(talk, "investigating")
    lessons = tmp_path / "lessons.txt"
    lessons.write_text(f"Lesson {secret}")
    status(talk, "closed", "--outcome", "no_action_needed", "--lessons-file", str(lessons), "--yes")
    manifest = manifest_of(world, talk)
    reporter = keys_of(manifest, talk.code)

    with raw.reader.connect() as connection:
        wraps = connection.execute(
            text("SELECT epoch, recipient, sealed FROM wrapped_key WHERE case_id = :id"),
            {"id": talk.case_id},
        ).all()
        committee = (
            connection.execute(
                text(
                    "SELECT envelope FROM case_object WHERE case_id = :id AND chain = 'committee'"
                ),
                {"id": talk.case_id},
            )
            .scalars()
            .all()
        )
    opened_keys = []
    for epoch, recipient, sealed in wraps:
        try:
            opened_keys.append(
                unwrap_case_keys(
                    reporter.reply_secret,
                    bytes(sealed),
                    case_id=b64d(talk.case_id, size=16),
                    epoch=epoch,
                    recipient=recipient,
                )
            )
        except SafeVoiceError:
            continue
    assert len(opened_keys) == 1
    assert opened_keys[0].committee is None
    assert len(committee) == 3
    for envelope_bytes in committee:
        envelope = Envelope.from_json(json.loads(bytes(envelope_bytes)))
        for candidate in (opened_keys[0].thread, reporter.reply_secret, reporter.sign_seed):
            try:
                decrypt(candidate, envelope)
            except SafeVoiceError:
                continue
            raise AssertionError("a reporter key opened a committee record")
    seen = json.dumps(talk.follow_up())
    assert secret not in seen
    assert "committee" not in {o["chain"] for o in json.loads(seen)["objects"]}


def test_a_forged_or_missing_acknowledgement_is_flagged_by_the_reporters_client(
    conversation: Conversation, raw: Database, db_kind: str
) -> None:
    talk = conversation
    execute(
        raw,
        "UPDATE case_file SET acknowledged_on = CURRENT_DATE, status = 'acknowledged' "
        "WHERE id = :case",
        case=talk.case_id,
    )

    unsigned = talk.follow_up(expect=2)

    assert any("no committee member signed an acknowledgement" in p for p in unsigned["problems"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    from safevoice.crypto.casefile import STATUS_FORMAT, body_plaintext
    from safevoice.crypto.envelope import seal
    from safevoice.crypto.keys import generate

    impostor = generate("member", "alice", "Alice")  # the server's own key, named alice
    view_keys = read_thread_keys(talk, raw, world_manifest=manifest_of(talk.world, talk))
    forged = seal(
        view_keys,
        body_plaintext(STATUS_FORMAT, status="acknowledged", text="Ok."),
        case_id=b64d(talk.case_id, size=16),
        kind="status",
        sender="member:alice",
        seq=1,
        prev=report_hash(raw, talk.case_id),
        epoch=0,
        sign_seed=impostor.sign_seed,
    )
    insert_object(raw, talk.case_id, forged, db_kind)

    flagged = talk.follow_up(expect=2)

    assert any("signature" in p or "verify" in p for p in flagged["problems"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape


def read_thread_keys(talk: Conversation, raw: Database, *, world_manifest: Manifest) -> bytes:
    """A malicious server cannot do this; the test uses the reporter's code to get K_thread."""
    reporter = keys_of(world_manifest, talk.code)
    with raw.reader.connect() as connection:
        sealed = connection.execute(
            text("SELECT sealed FROM wrapped_key WHERE case_id = :id AND recipient = 'reporter'"),
            {"id": talk.case_id},
        ).scalar_one()
    return unwrap_case_keys(
        reporter.reply_secret,
        bytes(sealed),
        case_id=b64d(talk.case_id, size=16),
        epoch=0,
        recipient=REPORTER,
    ).thread


def report_hash(raw: Database, case_id: str) -> bytes:
    with raw.reader.connect() as connection:
        return bytes(
            connection.execute(
                text(
                    "SELECT hash FROM case_object WHERE case_id = :id AND seq = 0 "
                    "AND chain = 'thread'"
                ),
                {"id": case_id},
            ).scalar_one()
        )


def insert_object(raw: Database, case_id: str, envelope: Envelope, db_kind: str) -> None:
    from safevoice.crypto.encoding import canonical_json
    from safevoice.crypto.login import random_id

    with raw.writer.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO case_object (id, case_id, chain, seq, kind, sender, epoch, "
                "envelope, hash) VALUES (:id, :case, 'thread', 1, 'status', 'member:alice', "
                "0, :env, :hash)"
            ),
            {
                "id": random_id(),
                "case": case_id,
                "env": canonical_json(envelope.to_json()),
                "hash": envelope.transcript_hash(),
            },
        )
        connection.execute(
            text("UPDATE case_file SET thread_next = 2, thread_head = :h WHERE id = :case"),
            {"h": envelope.transcript_hash(), "case": case_id},
        )
    del db_kind


def lessons_of(talk: Conversation) -> list[dict[str, Any]]:
    """The proposed summaries of this conversation's case (the server is shared)."""
    listed = talk.member("digest", "list", "--json").stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    return [x for x in json.loads(listed) if x["case_id"] == talk.case_id]


def test_closing_with_a_publishable_summary_proposes_it_for_a_second_members_approval(
    conversation: Conversation, tmp_path: Path
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    summary = tmp_path / "summary.txt"
    close = ("closed", "--outcome", "substantiated", "--publishable-summary-file", str(summary))

    # A summary the checks refuse leaves the case open and proposes nothing.
    summary.write_text("On 12 March the night shift worked alone.")
    dated = status(talk, *close, "--reviewed", expect=1)
    assert "'12 March'" in dated.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    summary.write_text("Night shifts are never worked alone any more.")
    unreviewed = status(talk, *close, expect=1)
    assert "It names no person" in unreviewed.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert talk.show()["case"]["status"] == "acknowledged"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert lessons_of(talk) == []

    closed = status(talk, *close, "--reviewed")
    assert "is now closed" in closed.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert "Another committee member must approve it" in closed.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    lessons = lessons_of(talk)
    assert [(x["summary"], x["approved_by"]) for x in lessons] == [
        ("Night shifts are never worked alone any more.", ["alice"])
    ]

    # Published only after a second member approves exactly that text.
    talk.login("bob")
    talk.member("digest", "approve", lessons[0]["lesson_id"], "--yes", member="bob")
    out = tmp_path / "digest"
    talk.member("digest", "build", "--out", str(out))
    built = json.loads((out / "digest.json").read_text())
    assert "Night shifts are never worked alone any more." in [
        lesson["summary"] for lesson in built["lessons"]
    ]


def test_a_publishable_summary_is_only_for_closing(conversation: Conversation) -> None:
    refused = status(
        conversation, "acknowledged", "--publishable-summary-file", "-", "--reviewed", expect=1
    )
    assert "only for closing" in refused.stderr  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
