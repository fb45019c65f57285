"""Opening a case: who gets which key, and the reporter-signed recipient list inside the report."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safevoice.crypto import casefile, envelope, keys
from safevoice.crypto.casefile import REPORTER, NewCase, create_case, parse_report
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64e, canonical_json
from safevoice.crypto.envelope import GENESIS, CaseKeys, decrypt, unwrap_case_keys
from safevoice.crypto.manifest import AuditKey, CodeKdf, Manifest
from safevoice.errors import BadEnvelope, BadRequest, VerificationFailed

CANARY = "CANARY-7f3a9c: the forklift brakes failed twice"


@pytest.fixture(scope="module")
def reporter(fixed: Any) -> ReporterKeys:
    reply_secret, sign_seed = fixed("reporter reply"), fixed("reporter sign")
    return ReporterKeys(
        reply_secret=reply_secret,
        reply_public=keys.box_public_key(reply_secret),
        sign_seed=sign_seed,
        sign_public=keys.sign_public_key(sign_seed),
    )


@pytest.fixture(scope="module")
def vault(fixed: Any) -> keys.KeyPair:
    return keys.keypair_from_secrets(
        "archive", "vault", "Archive", sign_seed=fixed("vault sign"), box_secret=fixed("vault box")
    )


def make_manifest(
    root: keys.KeyPair, members: tuple[keys.KeyPair, ...], archive: keys.KeyPair | None = None
) -> Manifest:
    issued = datetime(2030, 1, 1, tzinfo=UTC)
    return Manifest(
        instance_id="test.example",
        version=7,
        issued_at=issued,
        expires_at=issued + timedelta(days=60),
        root=root.public.fingerprint,
        instance_salt=bytes(16),
        code_kdf=(CodeKdf(version=1, opslimit=2, memlimit=64 * 1024 * 1024),),
        envelope_versions=(1,),
        members=tuple(m.public for m in members),
        auditors=(),
        audit_keys=(AuditKey(key=bytes(32), from_seq=0),),
        archive=archive.public if archive is not None else None,
    )


@pytest.fixture(scope="module")
def committee(root: keys.KeyPair, alice: keys.KeyPair, bob: keys.KeyPair) -> Manifest:
    return make_manifest(root, (alice, bob))


@pytest.fixture(scope="module")
def case(committee: Manifest, reporter: ReporterKeys) -> NewCase:
    return create_case(
        committee, reporter, channel="safety", text=CANARY, answers={"site": "north"}
    )


def box_secret(pair: keys.KeyPair) -> bytes:
    assert pair.box_secret is not None
    return pair.box_secret


def test_every_recipient_member_can_unwrap_both_case_keys(
    case: NewCase, alice: keys.KeyPair, bob: keys.KeyPair
) -> None:
    for member in (alice, bob):
        label = casefile.member_label(member.public.id)
        opened = unwrap_case_keys(
            box_secret(member), case.wrapped[label], case_id=case.case_id, epoch=0, recipient=label
        )
        assert opened == case.keys
    assert case.keys.committee is not None
    assert case.keys.thread != case.keys.committee


def test_reporter_unwraps_the_thread_key_but_never_the_committee_key(
    case: NewCase, reporter: ReporterKeys
) -> None:
    opened = unwrap_case_keys(
        reporter.reply_secret,
        case.wrapped[REPORTER],
        case_id=case.case_id,
        epoch=0,
        recipient=REPORTER,
    )
    assert opened == CaseKeys(thread=case.keys.thread, committee=None)


def test_member_key_does_not_open_the_reporters_wrapped_key(
    case: NewCase, alice: keys.KeyPair
) -> None:
    with pytest.raises(VerificationFailed):
        unwrap_case_keys(
            box_secret(alice),
            case.wrapped[REPORTER],
            case_id=case.case_id,
            epoch=0,
            recipient=REPORTER,
        )


def test_wrapped_keys_have_exactly_the_size_the_server_expects(case: NewCase) -> None:
    for label, sealed in case.wrapped.items():
        assert len(sealed) == envelope.wrapped_size(label, with_committee=label != REPORTER)


def test_report_is_object_zero_of_the_thread_signed_by_the_reporter(
    case: NewCase, reporter: ReporterKeys
) -> None:
    report = case.report
    assert (report.case_id, report.kind, report.sender) == (case.case_id, "report", REPORTER)
    assert (report.seq, report.prev, report.epoch) == (0, GENESIS, 0)
    report.verify_signature(reporter.sign_public)


def test_report_decrypts_to_the_text_with_a_recipient_list_signed_by_the_reporter(
    case: NewCase, reporter: ReporterKeys
) -> None:
    report = parse_report(decrypt(case.keys.thread, case.report), case_id=case.case_id)
    assert report.text == CANARY
    assert report.channel == "safety"
    assert report.answers == {"site": "north"}
    assert report.reply_key == reporter.reply_public
    assert report.sign_key == reporter.sign_public
    assert report.recipients == ["member:alice", "member:bob"]
    assert report.manifest_version == 7
    case.report.verify_signature(report.sign_key)


def test_report_cannot_be_read_with_the_committee_key(case: NewCase) -> None:
    assert case.keys.committee is not None
    with pytest.raises(VerificationFailed):
        decrypt(case.keys.committee, case.report)


def test_excluded_member_gets_no_key_and_is_not_listed(
    committee: Manifest, reporter: ReporterKeys
) -> None:
    new = create_case(committee, reporter, channel="safety", text=CANARY, exclude=["bob"])
    assert set(new.wrapped) == {"member:alice", REPORTER}
    report = parse_report(decrypt(new.keys.thread, new.report), case_id=new.case_id)
    assert report.recipients == ["member:alice"]


def test_archive_recipient_receives_both_keys(
    root: keys.KeyPair,
    alice: keys.KeyPair,
    vault: keys.KeyPair,
    reporter: ReporterKeys,
) -> None:
    new = create_case(make_manifest(root, (alice,), vault), reporter, channel="c", text="x")
    label = casefile.archive_label("vault")
    assert label == "archive:vault"
    opened = unwrap_case_keys(
        box_secret(vault), new.wrapped[label], case_id=new.case_id, epoch=0, recipient=label
    )
    assert opened == new.keys
    report = parse_report(decrypt(new.keys.thread, new.report), case_id=new.case_id)
    assert report.recipients == ["archive:vault", "member:alice"]


def test_recipient_list_does_not_verify_for_another_case(case: NewCase) -> None:
    plaintext = decrypt(case.keys.thread, case.report)
    with pytest.raises(VerificationFailed, match="recipient list"):
        parse_report(plaintext, case_id=bytes(16))


def _edited(case: NewCase, edit: Any) -> bytes:
    body = json.loads(decrypt(case.keys.thread, case.report))
    edit(body)
    return canonical_json(body)


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b["recipients"].update(labels=["member:alice"]),
        lambda b: b["recipients"].update(labels=["member:alice", "member:bob", "member:eve"]),
        lambda b: b["recipients"].update(manifest_version=6),
        lambda b: b.update(sign_key=b64e(keys.sign_public_key(bytes(32)))),
    ],
)
def test_altered_recipient_list_is_refused(case: NewCase, edit: Any) -> None:
    with pytest.raises(VerificationFailed, match="recipient list"):
        parse_report(_edited(case, edit), case_id=case.case_id)


def test_recipient_list_order_does_not_matter(case: NewCase) -> None:
    reordered = _edited(case, lambda b: b["recipients"]["labels"].reverse())
    assert parse_report(reordered, case_id=case.case_id).recipients == [
        "member:bob",
        "member:alice",
    ]


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.update(format="safevoice-report-v2"),
        lambda b: b.pop("text"),
        lambda b: b.pop("recipients"),
        lambda b: b.update(reply_key="AAAA"),
        lambda b: b.update(sign_key=None),
        lambda b: b["recipients"].update(sig="not base64!"),
        lambda b: b.update(answers=["not", "a", "mapping"]),
    ],
)
def test_malformed_report_is_refused_as_bad_envelope(case: NewCase, edit: Any) -> None:
    with pytest.raises(BadEnvelope):
        parse_report(_edited(case, edit), case_id=case.case_id)


@pytest.mark.parametrize("plaintext", [b"", b"\xff\xfe", b"[]", b"not json"])
def test_report_that_is_not_a_json_object_is_refused(plaintext: bytes) -> None:
    with pytest.raises(BadEnvelope):
        parse_report(plaintext, case_id=bytes(16))


def test_excluding_someone_not_on_the_committee_is_refused(
    committee: Manifest, reporter: ReporterKeys
) -> None:
    with pytest.raises(BadRequest, match="not on the committee"):
        create_case(committee, reporter, channel="c", text="x", exclude=["mallory"])


def test_excluding_every_member_is_refused(committee: Manifest, reporter: ReporterKeys) -> None:
    with pytest.raises(BadRequest, match="At least one"):
        create_case(committee, reporter, channel="c", text="x", exclude=["alice", "bob"])


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_report_is_refused(committee: Manifest, reporter: ReporterKeys, text: str) -> None:
    with pytest.raises(BadRequest, match="empty"):
        create_case(committee, reporter, channel="c", text=text)


def test_submission_carries_only_public_keys_and_ciphertext(
    case: NewCase, reporter: ReporterKeys
) -> None:
    submission = case.submission("safety", reporter)
    text = json.dumps(submission)
    assert "CANARY" not in text
    assert base64.b64encode(CANARY.encode()).decode()[:16] not in text
    assert b64e(CANARY.encode())[:16] not in text
    assert CANARY.encode().hex()[:16] not in text
    for secret in (reporter.reply_secret, reporter.sign_seed, case.keys.thread):
        assert b64e(secret) not in text
    assert submission["reporter"] == {
        "reply_key": b64e(reporter.reply_public),
        "sign_key": b64e(reporter.sign_public),
    }
    labels = [w["recipient"] for w in submission["wrapped_keys"]]
    assert labels == sorted(labels) == ["member:alice", "member:bob", REPORTER]
    assert envelope.Envelope.from_json(submission["report"]) == case.report


def test_each_case_gets_a_fresh_id_and_fresh_keys(
    committee: Manifest, reporter: ReporterKeys
) -> None:
    first = create_case(committee, reporter, channel="c", text="x")
    second = create_case(committee, reporter, channel="c", text="x")
    assert first.case_id != second.case_id
    assert first.keys.thread != second.keys.thread
    assert first.keys.committee != second.keys.committee


def test_message_plaintext_is_canonical_json_and_refuses_empty_text() -> None:
    body = json.loads(casefile.message_plaintext("hello", attachments=[{"id": "a"}]))
    assert body == {"format": "safevoice-message-v1", "text": "hello", "attachments": [{"id": "a"}]}
    with pytest.raises(BadRequest, match="empty"):
        casefile.message_plaintext("  ")


def test_labels_name_members_and_the_archive() -> None:
    assert casefile.member_label("alice") == "member:alice"
    assert casefile.archive_label("vault") == "archive:vault"


@pytest.mark.parametrize(
    ("member", "value"),
    [("text", 5), ("channel", None), ("answers", []), ("attachments", {})],
)
def test_a_report_with_a_member_of_the_wrong_type_is_refused(member: str, value: object) -> None:
    body = {
        "format": casefile.REPORT_FORMAT,
        "channel": "general",
        "text": "x",
        "answers": {},
        "reply_key": "A" * 43,
        "sign_key": "A" * 43,
        "attachments": [],
        "recipients": {"labels": [], "manifest_version": 1, "sig": "A" * 86},
    }
    body[member] = value
    with pytest.raises(BadEnvelope):
        casefile.parse_report(json.dumps(body).encode(), case_id=bytes(16))
