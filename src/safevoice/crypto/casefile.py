"""What a reporter's client builds to open a case, and how recipients read it back.

The client picks a random case id and the two case keys, wraps ``K_thread`` and ``K_committee``
to every recipient named in the verified manifest (minus those the reporter excluded) and
``K_thread`` alone to the reporter's reply key, and seals the report as object 0 of the thread.
Inside the encryption the report carries the reporter's public keys and the recipient list
signed by the reporter's key; the key-epoch mechanism trusts only these, never server metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e, canonical_json, loads, u32
from safevoice.crypto.envelope import (
    GENESIS,
    CaseKeys,
    Envelope,
    new_case_id,
    new_key,
    open_key_history,
    seal,
    seal_key_history,
    wrap_case_keys,
)
from safevoice.crypto.keys import sign, verify
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, BadEnvelope, BadRequest, VerificationFailed

REPORT_FORMAT = "safevoice-report-v1"
MESSAGE_FORMAT = "safevoice-message-v1"
STATUS_FORMAT = "safevoice-status-v1"
EPOCH_FORMAT = "safevoice-epoch-v1"
NOTE_FORMAT = "safevoice-note-v1"
TRIAGE_FORMAT = "safevoice-triage-v1"
ACTION_FORMAT = "safevoice-action-v1"
CLOSURE_FORMAT = "safevoice-closure-v1"
RECIPIENTS_CONTEXT = "safevoice-recipients-v1"
REPORTER = "reporter"
SERVER_SEALED = "server_sealed"
# The longest report or message text, in Unicode code points, that always fits one envelope:
# at four UTF-8 bytes per code point (the worst case) it takes 400,000 of MAX_PLAINTEXT's
# 524,287 bytes, which leaves room for the answers, the recipient list and the attachment
# descriptors. Pages, CLIs and the server-sealed form all refuse longer text with a sentence;
# none cuts it.
MAX_TEXT_CHARS = 100_000


def member_label(member_id: str) -> str:
    """How a member appears as sender and as key recipient."""
    return f"member:{member_id}"


def archive_label(archive_id: str) -> str:
    return f"archive:{archive_id}"


def recipients_signature_fields(
    case_id: bytes, manifest_version: int, labels: list[str]
) -> tuple[bytes, ...]:
    return (case_id, u32(manifest_version), *(label.encode() for label in sorted(labels)))


@dataclass(frozen=True)
class Report:
    """A decrypted first report."""

    channel: str
    text: str
    answers: dict[str, Any]
    reply_key: bytes
    sign_key: bytes
    recipients: list[str]
    manifest_version: int
    attachments: list[dict[str, Any]] = field(default_factory=list)
    sealed_by_server: bool = False
    """The report says the server sealed it (the server-sealed form): the plaintext passed
    through server memory, whatever the case's intake mode in the clear says."""


@dataclass(frozen=True)
class NewCase:
    case_id: bytes
    keys: CaseKeys
    report: Envelope
    wrapped: dict[str, bytes]

    def submission(
        self, channel: str, reporter: ReporterKeys, *, uploads: list[str] | None = None
    ) -> dict[str, Any]:
        """The ``case`` object of a submission request (docs/protocol/intake.md 11.5.5)."""
        return {
            "uploads": uploads or [],
            "id": b64e(self.case_id),
            "channel": channel,
            "reporter": {
                "reply_key": b64e(reporter.reply_public),
                "sign_key": b64e(reporter.sign_public),
            },
            "report": self.report.to_json(),
            "wrapped_keys": [
                {"recipient": label, "sealed": b64e(sealed)}
                for label, sealed in sorted(self.wrapped.items())
            ],
        }


def create_case(
    manifest: Manifest,
    reporter: ReporterKeys,
    *,
    channel: str,
    text: str,
    answers: dict[str, Any] | None = None,
    exclude: list[str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    case_id: bytes | None = None,
    sealed_by_server: bool = False,
) -> NewCase:
    """Encrypt a new report to the manifest's members, leaving out those excluded.

    ``sealed_by_server`` marks, inside the signed report, one the server-sealed form made (its
    plaintext passed through server memory), so that no later change of the case's intake
    mode in the clear can hide it."""
    excluded = set(exclude or [])
    unknown = excluded - {m.id for m in manifest.members}
    if unknown:
        raise BadRequest("You asked to exclude someone who is not on the committee.")
    recipients = [m for m in manifest.members if m.id not in excluded]
    if not recipients:
        raise BadRequest("At least one committee member must be able to read the report.")
    if not text.strip():
        raise BadRequest("The report is empty; please describe what happened.")
    labels = [member_label(m.id) for m in recipients]
    if manifest.archive is not None:
        labels.append(archive_label(manifest.archive.id))

    case_id = case_id if case_id is not None else new_case_id()
    keys = CaseKeys(thread=new_key(), committee=new_key())
    recipients_sig = sign(
        reporter.sign_seed,
        RECIPIENTS_CONTEXT,
        *recipients_signature_fields(case_id, manifest.version, labels),
    )
    body = {
        "format": REPORT_FORMAT,
        "channel": channel,
        "text": text,
        "answers": answers or {},
        "reply_key": b64e(reporter.reply_public),
        "sign_key": b64e(reporter.sign_public),
        "recipients": {
            "labels": sorted(labels),
            "manifest_version": manifest.version,
            "sig": b64e(recipients_sig),
        },
        "attachments": attachments or [],
    }
    if sealed_by_server:
        body["intake"] = SERVER_SEALED
    report = seal(
        keys.thread,
        canonical_json(body),
        case_id=case_id,
        kind="report",
        sender=REPORTER,
        seq=0,
        prev=GENESIS,
        epoch=0,
        sign_seed=reporter.sign_seed,
    )
    wrapped: dict[str, bytes] = {}
    for member in recipients:
        if member.box_key is None:
            raise BadRequest("A committee member in the manifest has no encryption key.")
        label = member_label(member.id)
        wrapped[label] = wrap_case_keys(
            member.box_key, case_id=case_id, epoch=0, recipient=label, keys=keys
        )
    if manifest.archive is not None and manifest.archive.box_key is not None:
        label = archive_label(manifest.archive.id)
        wrapped[label] = wrap_case_keys(
            manifest.archive.box_key, case_id=case_id, epoch=0, recipient=label, keys=keys
        )
    wrapped[REPORTER] = wrap_case_keys(
        reporter.reply_public,
        case_id=case_id,
        epoch=0,
        recipient=REPORTER,
        keys=CaseKeys(thread=keys.thread, committee=None),
    )
    return NewCase(case_id=case_id, keys=keys, report=report, wrapped=wrapped)


def _require_types(data: Any, recipients: Any) -> None:
    """The report's members must have exactly their JSON types (as the browser requires)."""
    strings = (data["channel"], data["text"], data["reply_key"], data["sign_key"])
    if (
        not all(isinstance(value, str) for value in strings)
        or not isinstance(data["answers"], dict)
        or not isinstance(data.get("attachments", []), list)
        or not isinstance(recipients, dict)
        or not isinstance(recipients["labels"], list)
        or not all(isinstance(label, str) for label in recipients["labels"])
        or type(recipients["manifest_version"]) is not int
        # It is signed as a u32 (7.2): anything else could not even be checked.
        or not 1 <= recipients["manifest_version"] < MAX_U32
    ):
        raise TypeError("a report member has the wrong type")


def parse_report(plaintext: bytes, *, case_id: bytes) -> Report:
    """Parse a decrypted report and verify the reporter's signature on its recipient list."""
    try:
        data = loads(plaintext.decode("utf-8"))
        if data["format"] != REPORT_FORMAT:
            raise BadEnvelope("The report has an unknown format.")
        recipients = data["recipients"]
        _require_types(data, recipients)
        report = Report(
            channel=str(data["channel"]),
            text=str(data["text"]),
            answers=dict(data["answers"]),
            reply_key=b64d(data["reply_key"], size=32, what="reply key"),
            sign_key=b64d(data["sign_key"], size=32, what="signing key"),
            recipients=[str(x) for x in recipients["labels"]],
            manifest_version=int(recipients["manifest_version"]),
            attachments=list(data.get("attachments", [])),
            sealed_by_server=data.get("intake") == SERVER_SEALED,
        )
        recipients_sig = b64d(recipients["sig"], size=64, what="recipient signature")
    except (
        UnicodeDecodeError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
        BadEncoding,
    ) as exc:
        raise BadEnvelope("The report inside the envelope is malformed.") from exc
    try:
        verify(
            report.sign_key,
            recipients_sig,
            RECIPIENTS_CONTEXT,
            *recipients_signature_fields(case_id, report.manifest_version, report.recipients),
        )
    except VerificationFailed as exc:
        raise VerificationFailed("The reporter's recipient list is not signed correctly.") from exc
    return report


def message_plaintext(
    text: str, *, attachments: list[dict[str, Any]] | None = None, sealed_by_server: bool = False
) -> bytes:
    """A message's plaintext; ``sealed_by_server`` marks one the server-sealed follow-up
    wrote for the reporter (its plaintext passed through server memory)."""
    if not text.strip():
        raise BadRequest("The message is empty; please write something before sending.")
    body: dict[str, Any] = {
        "format": MESSAGE_FORMAT,
        "text": text,
        "attachments": attachments or [],
    }
    if sealed_by_server:
        body["intake"] = SERVER_SEALED
    return canonical_json(body)


def body_plaintext(format_: str, **fields: Any) -> bytes:
    """Plaintext of a workflow object (status, note, triage, action, closure): canonical JSON."""
    return canonical_json({"format": format_, **fields})


@dataclass(frozen=True)
class EpochRecord:
    """A decrypted epoch record (docs/protocol/workflow.md 7.4)."""

    labels: list[str]
    earlier: dict[int, CaseKeys]
    manifest_version: int
    """The manifest version the member who re-keyed had verified: the epoch began under it."""
    heads: dict[str, tuple[int, bytes]]
    """Each chain's last object before the re-key, as the member who re-keyed verified it."""


def epoch_plaintext(
    *,
    case_id: bytes,
    epoch: int,
    labels: list[str],
    earlier: dict[int, CaseKeys],
    committee_key: bytes,
    manifest_version: int,
    heads: dict[str, tuple[int, bytes]],
) -> bytes:
    """The epoch record: who holds the new keys, earlier thread keys, and the earlier committee
    keys sealed under the new committee key (so the reporter, who reads the thread, never gets
    them); the manifest version it was made under and the chain heads it follows, so readers
    know which signing keys were valid for what came before."""
    committee = {e: k.committee for e, k in earlier.items() if k.committee is not None}
    return canonical_json(
        {
            "format": EPOCH_FORMAT,
            "epoch": epoch,
            "recipients": sorted(labels),
            "thread_keys": {str(e): b64e(k.thread) for e, k in sorted(earlier.items())},
            "committee_keys": b64e(
                seal_key_history(committee_key, committee, case_id=case_id, epoch=epoch)
            ),
            "manifest_version": manifest_version,
            "heads": {chain: [seq, b64e(digest)] for chain, (seq, digest) in sorted(heads.items())},
        }
    )


MAX_U32 = 2**32


def _int(value: Any, *, low: int, high: int = MAX_U32) -> int:
    """A JSON integer (never a boolean) with ``low <= value < high``."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
        raise BadEnvelope("The epoch record is malformed.")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _epoch_number(text: Any, *, below: int) -> int:
    """An epoch named as a key of ``thread_keys``: decimal digits without a leading zero, for
    an epoch before the record's own (its own keys come only from the reader's wrapped key)."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise BadEnvelope("The epoch record is malformed.")
    if text != str(int(text)) or int(text) >= below:
        raise BadEnvelope("The epoch record names keys of an epoch that is not an earlier one.")
    return int(text)


def parse_epoch(
    plaintext: bytes, *, case_id: bytes, epoch: int, committee_key: bytes | None
) -> EpochRecord:
    """Recipients and earlier keys from an epoch record (committee keys only with K_committee).

    Strict, as the browser's reader is: every member must have its type, ``thread_keys`` may
    name only epochs before this one, and ``heads`` names exactly the two chains."""
    try:
        data = loads(plaintext.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEnvelope("The epoch record is malformed.") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != EPOCH_FORMAT
        or _int(data.get("epoch"), low=1) != epoch
    ):
        raise BadEnvelope("The epoch record does not describe this epoch.")
    labels = data.get("recipients")
    thread_keys = data.get("thread_keys")
    sealed = data.get("committee_keys")
    heads_in = data.get("heads")
    if (
        not isinstance(labels, list)
        or not all(isinstance(label, str) for label in labels)
        or not isinstance(thread_keys, dict)
        or not isinstance(sealed, str)
        or not isinstance(heads_in, dict)
        or sorted(heads_in) != ["committee", "thread"]
    ):
        raise BadEnvelope("The epoch record is malformed.")
    try:
        threads = {
            _epoch_number(e, below=epoch): b64d(k, size=32, what="key")
            for e, k in thread_keys.items()
        }
        manifest_version = _int(data.get("manifest_version"), low=1)
        heads: dict[str, tuple[int, bytes]] = {}
        for chain, head in heads_in.items():
            if not isinstance(head, list) or len(head) != 2:
                raise BadEnvelope("The epoch record is malformed.")
            heads[chain] = (_int(head[0], low=-1), b64d(head[1], size=32, what="chain head"))
        history = b64d(sealed, what="key history")
    except (BadEncoding, TypeError) as exc:
        raise BadEnvelope("The epoch record is malformed.") from exc
    committees: dict[int, bytes] = {}
    if committee_key is not None:
        committees = open_key_history(committee_key, history, case_id=case_id, epoch=epoch)
    return EpochRecord(
        labels=list(labels),
        earlier={e: CaseKeys(thread=k, committee=committees.get(e)) for e, k in threads.items()},
        manifest_version=manifest_version,
        heads=heads,
    )
