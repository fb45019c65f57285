"""Reading a case on a member's or reporter's machine: unwrap, verify, decrypt, check the chains.

Nothing here trusts the server: the case key comes from a wrapped key that must open with the
reader's own private key and name this case, epoch and reader; every object's signature is
checked against the key of its sender (the manifest for members, the reporter's key from inside
the decrypted report for the reporter); each chain must run from 0 without gaps, each object
naming the hash of the one before (invariant 7). Problems are collected and shown, never
silently skipped. A member's client also compares the thread with the head it saw last time,
so a server that later shows an older or a different history is noticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from safevoice.crypto.casefile import (
    REPORTER,
    SERVER_SEALED,
    EpochRecord,
    Report,
    parse_epoch,
    parse_report,
)
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e, loads
from safevoice.crypto.envelope import (
    GENESIS,
    CaseKeys,
    Envelope,
    decrypt,
    open_envelope_any,
    unwrap_case_keys,
)
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.receipt import Receipt
from safevoice.crypto.redaction import Redaction, check_redacted
from safevoice.errors import BadEnvelope, NotFound, SafeVoiceError, VerificationFailed
from safevoice.protocol.wire import (
    ActionOut,
    CaseDetail,
    CaseObjectOut,
    ReporterCaseView,
    WrappedKeyOut,
)


@dataclass
class ReadObject:
    chain: str
    seq: int
    kind: str
    sender: str
    epoch: int
    verified: bool
    hash: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    record: EpochRecord | None = None
    """For a verified epoch record: what it says (recipients, manifest version, heads)."""
    redacted: Redaction | None = None
    """Set when the object is a committee member's redacted version of the original (whose
    ciphertext was removed): who removed part of it, and on which day."""

    @property
    def text(self) -> str | None:
        value = self.body.get("text")
        return value if isinstance(value, str) else None


@dataclass
class ReadCase:
    report: Report | None
    objects: list[ReadObject]
    problems: list[str]
    heads: dict[str, tuple[int, bytes]]
    keys: CaseKeys
    recipients: list[str] = field(default_factory=list)
    """Who holds the current epoch's keys: the labels of the current epoch record, or of the
    reporter-signed list for a case never re-keyed (with ``reporter``)."""
    held_by: list[str] = field(default_factory=list)
    """Recipients of the current epoch whose signing key the manifest retired after the epoch
    began: whoever held their old key may hold the current case keys, so nothing new may be
    written until the case is re-keyed (the server holds such a case too, but the client does
    not rely on it)."""

    signed: SignedState | None = None
    """What the committee signed about the case's status (set by ``read_case`` and
    ``read_as_reporter``); clients show this, never the server's fields."""

    def thread(self) -> list[ReadObject]:
        return [o for o in self.objects if o.chain == "thread"]


def unwrap(
    wrapped_keys: Sequence[WrappedKeyOut],
    *,
    case_id: str,
    epoch: int,
    label: str,
    box_secret: bytes | None,
) -> CaseKeys:
    if box_secret is None:
        raise VerificationFailed("This key cannot decrypt cases.")
    for wrapped in wrapped_keys:
        if wrapped.epoch == epoch and wrapped.recipient == label:
            try:
                return unwrap_case_keys(
                    box_secret,
                    b64d(wrapped.sealed, what="wrapped key"),
                    case_id=b64d(case_id, size=16, what="case id"),
                    epoch=epoch,
                    recipient=label,
                )
            except VerificationFailed as exc:
                if label == REPORTER:
                    raise
                raise VerificationFailed(
                    f"{exc.message} If the committee replaced your key, the cases are still "
                    "wrapped to the old one until they are re-keyed: run `safevoice cases "
                    "rekey --all --old-key OLD.key` (or ask another member to run "
                    "`safevoice cases rekey --all`)."
                ) from exc
    raise NotFound("The server sent no key for you for this case.")


def _sender_keys(
    sender: str, report: Report | None, manifest: Manifest, since_version: int | None
) -> list[bytes]:
    """Keys that may have signed an object from ``sender`` in an epoch that began under
    manifest version ``since_version``: the reporter's key from inside the report, or a
    member's (or the archive recipient's) current key and the keys the manifest retired only
    after that version."""
    if sender == REPORTER:
        return [report.sign_key] if report is not None else []
    kind, _, _ident = sender.partition(":")
    if kind in ("member", "archive"):
        return manifest.sender_keys(sender, since_version=since_version)
    return []


@dataclass(frozen=True)
class EpochKeys:
    """What the current epoch record says: every epoch's keys, the labels given the current
    keys, the manifest version each epoch began under (epoch 0: the report's), problems."""

    keys: dict[int, CaseKeys]
    labels: list[str]
    started: dict[int, int]
    problems: list[str]
    retired_signer: str | None = None
    """The current record's sender, if only a key the manifest has retired since signed it:
    whoever holds that key made, and so knows, the current keys."""


def _open_epoch_record(
    item: CaseObjectOut, *, thread_key: bytes, committee_key: bytes | None, manifest: Manifest
) -> tuple[EpochRecord, str | None]:
    """Decrypt an epoch record, then check it is signed by a key its signer held when the
    epoch began (the record names that manifest version itself, under the AEAD). Also says
    whether only a retired key of the signer verifies it (its label, or None)."""
    envelope = Envelope.from_json(item.envelope.model_dump())
    record = parse_epoch(
        decrypt(thread_key, envelope),
        case_id=envelope.case_id,
        epoch=envelope.epoch,
        committee_key=committee_key,
    )
    keys = _sender_keys(envelope.sender, None, manifest, record.manifest_version)
    if not keys:
        raise VerificationFailed("the key epoch record comes from someone unknown")
    envelope.verify_signature_any(keys)
    current = _sender_keys(envelope.sender, None, manifest, None)
    try:
        envelope.verify_signature_any(current)
    except VerificationFailed:
        return record, envelope.sender
    return record, None


def epoch_keys(
    objects: Sequence[CaseObjectOut],
    *,
    case_id: str,
    epoch: int,
    keys: CaseKeys,
    manifest: Manifest,
) -> EpochKeys:
    """Keys of every epoch, from the current epoch's record (signed by a member), the
    recipients that record names, and the manifest version each epoch began under."""
    by_epoch = {epoch: keys}
    if epoch == 0:
        return EpochKeys(keys=by_epoch, labels=[], started={}, problems=[])
    records = sorted(
        (
            item
            for item in objects
            if item.chain == "thread" and item.envelope.kind == "epoch" and item.envelope.epoch > 0
        ),
        key=lambda item: item.seq,
    )
    current = [item for item in records if item.envelope.epoch == epoch]
    if not current:
        return EpochKeys(
            keys=by_epoch,
            labels=[],
            started={},
            problems=["the record of the current key epoch is missing"],
        )
    try:
        record, retired_signer = _open_epoch_record(
            current[0], thread_key=keys.thread, committee_key=keys.committee, manifest=manifest
        )
    except SafeVoiceError as exc:
        return EpochKeys(
            keys=by_epoch,
            labels=[],
            started={},
            problems=[f"the key epoch record does not verify: {exc.message}"],
        )
    # The record names only earlier epochs (parse_epoch refuses any other); the current
    # epoch's keys are the ones unwrapped with the reader's own key, whatever a record says.
    by_epoch = {**record.earlier, epoch: keys}
    started = {epoch: record.manifest_version}
    # Earlier records only say when their epoch began; each is checked again as an object.
    for item in records:
        earlier = by_epoch.get(item.envelope.epoch)
        if item.envelope.epoch in started or earlier is None:
            continue  # the current epoch's, or a second record of an epoch (flagged when read)
        try:
            envelope = Envelope.from_json(item.envelope.model_dump())
            started[item.envelope.epoch] = parse_epoch(
                decrypt(earlier.thread, envelope),
                case_id=envelope.case_id,
                epoch=envelope.epoch,
                committee_key=None,
            ).manifest_version
        except SafeVoiceError:
            continue  # reported when the object itself is read
    return EpochKeys(
        keys=by_epoch,
        labels=record.labels,
        started=started,
        problems=[],
        retired_signer=retired_signer,
    )


def read_objects(
    objects: Sequence[CaseObjectOut],
    *,
    case_id: str,
    epoch: int,
    channel: str | None,
    keys: CaseKeys,
    manifest: Manifest,
    chains: tuple[str, ...] = ("thread", "committee"),
) -> ReadCase:
    """Verify and decrypt the given chains of a case with its keys (of every epoch)."""
    case_bytes = b64d(case_id, size=16, what="case id")
    found = epoch_keys(objects, case_id=case_id, epoch=epoch, keys=keys, manifest=manifest)
    by_epoch, problems = found.keys, list(found.problems)
    read_all: list[ReadObject] = []
    report: Report | None = None
    heads: dict[str, tuple[int, bytes]] = {}

    for chain in chains:
        items = sorted((o for o in objects if o.chain == chain), key=lambda o: o.seq)
        prev, expected_seq, latest_epoch = GENESIS, 0, 0
        for item in items:
            try:
                envelope = Envelope.from_json(item.envelope.model_dump())
            except BadEnvelope as exc:
                problems.append(f"{chain} message {item.seq} is malformed: {exc.message}")
                continue
            read = ReadObject(
                chain=chain,
                seq=envelope.seq,
                kind=envelope.kind,
                sender=envelope.sender,
                epoch=envelope.epoch,
                verified=False,
                hash=envelope.transcript_hash(),
            )
            read_all.append(read)
            read.problem = _position_problem(
                envelope, item, chain, case_bytes, expected_seq, prev, epoch
            ) or _epoch_order_problem(envelope, chain, latest_epoch)
            redaction = _redaction_of(read, item)
            object_keys = by_epoch.get(envelope.epoch)
            key = None
            if object_keys is not None:
                key = object_keys.thread if chain == "thread" else object_keys.committee
            since = (
                found.started.get(envelope.epoch)
                if envelope.epoch > 0
                else (report.manifest_version if report is not None else None)
            )
            if key is None:
                read.problem = read.problem or "you hold no key for this part of the case"
            elif redaction is None or _redaction_verifies(
                read, envelope, redaction, manifest, since
            ):
                report = _open_object(
                    read, envelope, key, report, manifest, since, (case_bytes, channel)
                )
            if read.problem:
                problems.append(f"{chain} message {read.seq}: {read.problem}")
            prev, expected_seq = read.hash, envelope.seq + 1
            latest_epoch = max(latest_epoch, envelope.epoch)
        heads[chain] = (expected_seq - 1, prev)
    problems.extend(_epoch_head_problems(read_all, chains))
    began = _epoch_versions(report, found.started)
    problems.extend(_epoch_version_problems(began, manifest))
    if report is not None and found.labels:
        chosen = set(report.recipients) | {REPORTER}
        if not set(found.labels) <= chosen:
            problems.append(
                "a key epoch gave the case's keys to someone the reporter did not choose"
            )
    if epoch > 0:
        recipients = list(found.labels)
    else:
        recipients = [*report.recipients, REPORTER] if report is not None else []
    return ReadCase(
        report=report,
        objects=read_all,
        problems=problems,
        heads=heads,
        keys=keys,
        recipients=recipients,
        held_by=_held_by(recipients, began.get(epoch), manifest, found.retired_signer),
    )


def _epoch_order_problem(envelope: Envelope, chain: str, latest_epoch: int) -> str | None:
    """Epochs never decrease along a chain; in the thread a new epoch begins with its record,
    exactly once (the re-key appends it as the first object of the epoch)."""
    if envelope.epoch < latest_epoch:
        return "it claims an older key epoch than the message before it"
    if chain == "thread" and (envelope.kind == "epoch") != (envelope.epoch > latest_epoch):
        return "a key epoch must begin with its own record, exactly once"
    return None


def _epoch_versions(report: Report | None, started: dict[int, int]) -> dict[int, int]:
    """The manifest version each epoch began under: the report's for epoch 0, then what
    each epoch record says."""
    began = {0: report.manifest_version} if report is not None else {}
    began.update(started)
    return began


def _epoch_version_problems(began: dict[int, int], manifest: Manifest) -> list[str]:
    """Each epoch began under a manifest no older than the epoch before it, and none newer than
    the manifest the reader verified: a record that claims an older version would make keys
    retired since then count again."""
    problems: list[str] = []
    highest = 0
    for epoch in sorted(began):
        version = began[epoch]
        if version > manifest.version:
            problems.append(
                f"key epoch {epoch} began under committee manifest version {version}, newer "
                f"than version {manifest.version} you verified (an old manifest is shown)"
            )
        if version < highest:
            problems.append(
                f"key epoch {epoch} claims an older committee manifest than the epoch before it"
            )
        highest = max(highest, version)
    return problems


def _held_by(
    recipients: list[str], began: int | None, manifest: Manifest, retired_signer: str | None
) -> list[str]:
    """Who may hold the current keys with a key retired since they were made: a recipient whose
    key was retired after the epoch began, and the current record's signer if only a retired
    key of theirs signed it (the record's recipients are only its signer's word)."""
    if began is None:
        return []
    held = {r.label for r in manifest.retired if r.label in recipients and r.until_version > began}
    if retired_signer is not None:
        held.add(retired_signer)
    return sorted(held)


def _epoch_head_problems(objects: list[ReadObject], chains: tuple[str, ...]) -> list[str]:
    """Each epoch record names the heads its author verified; everything after them must be
    in that epoch or later (so nothing signed with a key retired since can be slipped in
    behind it) and the objects at those heads must be the ones it names."""
    problems: list[str] = []
    by_position = {(o.chain, o.seq): o for o in objects}
    for read in objects:
        if read.record is None or not read.verified:
            continue
        for chain, (seq, digest) in sorted(read.record.heads.items()):
            if chain not in chains:
                continue
            named = by_position.get((chain, seq))
            if seq >= 0 and (named is None or named.hash != digest):
                problems.append(
                    f"the {chain} history differs from the one verified when the case "
                    f"moved to key epoch {read.epoch}"
                )
            late = [
                o.seq for o in objects if o.chain == chain and o.seq > seq and o.epoch < read.epoch
            ]
            if late:
                problems.append(
                    f"{chain} message {late[0]} claims an older key epoch than the re-key "
                    "before it (it was added afterwards)"
                )
    return problems


def _position_problem(
    envelope: Envelope,
    item: CaseObjectOut,
    chain: str,
    case_bytes: bytes,
    expected_seq: int,
    prev: bytes,
    epoch: int,
) -> str | None:
    if envelope.case_id != case_bytes or envelope.chain != chain or envelope.seq != item.seq:
        return "it belongs to another case or position"
    if envelope.seq < expected_seq:
        return "it repeats a position already taken (a replayed message)"
    if envelope.seq != expected_seq:
        return f"messages are missing before it (expected number {expected_seq})"
    if envelope.prev != prev:
        return "it does not follow the message before it (reordered or replaced)"
    if (envelope.kind == "report") != (chain == "thread" and envelope.seq == 0):
        return "only the first message of a case can be its report"
    if envelope.epoch > epoch:
        return "it claims a key epoch the case has not reached"
    return None


def _open_object(
    read: ReadObject,
    envelope: Envelope,
    key: bytes,
    report: Report | None,
    manifest: Manifest,
    since_version: int | None,
    case: tuple[bytes, str | None],
) -> Report | None:
    """Open one object into ``read``; the case's report as it stands after this object
    (``case``: the case id and the channel the server files it under)."""
    if envelope.kind == "report":
        return _open_report(read, envelope, key, *case) or report
    _open_into(read, envelope, key, report, manifest, since_version)
    return report


REDACTION_PROBLEM = "the committee's redaction of it does not verify"


def _redaction_of(read: ReadObject, item: CaseObjectOut) -> Redaction | None:
    """The redaction record the server lists with an object; the object's place in its chain
    is then the original's transcript hash, which the record names."""
    if item.redaction is None:
        return None
    try:
        redaction = Redaction.from_json(item.redaction.model_dump())
    except SafeVoiceError:
        read.problem = read.problem or REDACTION_PROBLEM
        return None
    read.hash = redaction.hash
    return redaction


def _redaction_verifies(
    read: ReadObject,
    envelope: Envelope,
    redaction: Redaction,
    manifest: Manifest,
    since_version: int | None,
) -> bool:
    """A redacted version counts only with its record, both signed by the committee member
    the record names; the version is then opened as the object (its sender's signature is
    gone with the original)."""
    keys = (
        manifest.sender_keys(redaction.by, since_version=since_version)
        if redaction.by.startswith("member:")
        else []
    )
    try:
        check_redacted(envelope, redaction, sign_keys=keys, chain=read.chain, seq=read.seq)
    except VerificationFailed:
        read.problem = read.problem or REDACTION_PROBLEM
        return False
    read.redacted = redaction
    return True


def _open_report(
    read: ReadObject, envelope: Envelope, key: bytes, case_bytes: bytes, channel: str | None
) -> Report | None:
    """The report is verified with the reporter key found inside it (a redacted version was
    verified with its redaction record instead)."""
    try:
        plaintext = decrypt(key, envelope)
        read.body = loads(plaintext)
        report = parse_report(plaintext, case_id=case_bytes)
        if read.redacted is None:
            envelope.verify_signature(report.sign_key)
    except (SafeVoiceError, ValueError) as exc:
        read.problem = read.problem or getattr(exc, "message", "it does not decrypt")
        return None
    if channel is not None and report.channel != channel:
        read.problem = read.problem or "the server files it under another channel"
    read.verified = read.problem is None
    return report


UNREADABLE = "its content is not in SafeVoice's format"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(plaintext: bytes) -> dict[str, Any] | None:
    """A plaintext as the browser parses it: strict UTF-8, standard JSON, an object."""
    try:
        value = loads(plaintext.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _open_into(
    read: ReadObject,
    envelope: Envelope,
    key: bytes,
    report: Report | None,
    manifest: Manifest,
    since_version: int | None,
) -> None:
    sign_keys = _sender_keys(envelope.sender, report, manifest, since_version)
    if not sign_keys:
        read.problem = read.problem or "its sender is unknown"
        return
    try:
        plaintext = (
            decrypt(key, envelope)
            if read.redacted is not None
            else open_envelope_any(key, envelope, sign_keys=sign_keys)
        )
    except VerificationFailed as exc:
        read.problem = read.problem or exc.message
        return
    except SafeVoiceError:
        read.problem = read.problem or "it does not decrypt"
        return
    body = _json_object(plaintext)
    if body is None:
        read.problem = read.problem or UNREADABLE
        return
    if envelope.kind == "epoch":
        try:
            read.record = parse_epoch(
                plaintext, case_id=envelope.case_id, epoch=envelope.epoch, committee_key=None
            )
        except SafeVoiceError:
            read.problem = read.problem or UNREADABLE
            return
    read.body = body
    read.verified = read.problem is None


def read_case(detail: CaseDetail, *, keys: KeyPair, label: str, manifest: Manifest) -> ReadCase:
    """A member reads a case with their own key pair."""
    case_keys = unwrap(
        detail.wrapped_keys,
        case_id=detail.case.id,
        epoch=detail.case.epoch,
        label=label,
        box_secret=keys.box_secret,
    )
    read = read_objects(
        detail.objects,
        case_id=detail.case.id,
        epoch=detail.case.epoch,
        channel=detail.case.channel,
        keys=case_keys,
        manifest=manifest,
    )
    state, problems = signed_state(read)
    read.signed = state
    read.problems.extend(problems)
    read.problems.extend(_committee_anchor_problems(read))
    c = detail.case
    read.problems.extend(intake_problems(read, state, c.intake_mode))
    read.problems.extend(
        server_field_problems(
            state,
            status=c.status,
            outcome=c.outcome,
            acknowledged=c.acknowledged_on is not None,
            received_on=c.received_on.isoformat(),
            intake_mode=c.intake_mode,
            feedback_due=c.feedback_due_on.isoformat(),
        )
    )
    return read


def read_as_reporter(
    view: ReporterCaseView, *, reporter: ReporterKeys, manifest: Manifest
) -> ReadCase:
    """The reporter reads the thread with the keys derived from the follow-up code."""
    case_keys = unwrap(
        view.wrapped_keys,
        case_id=view.case.id,
        epoch=view.case.epoch,
        label=REPORTER,
        box_secret=reporter.reply_secret,
    )
    read = read_objects(
        view.objects,
        case_id=view.case.id,
        epoch=view.case.epoch,
        channel=None,
        keys=case_keys,
        manifest=manifest,
        chains=("thread",),
    )
    if read.report is not None and read.report.sign_key != reporter.sign_public:
        read.problems.append("the report in this thread was not written with your code")
    if read.report is None and not read.problems:
        read.problems.append("the thread does not start with your report")
    state, problems = signed_state(read)
    read.signed = state
    read.problems.extend(problems)
    c = view.case
    read.problems.extend(
        server_field_problems(
            state,
            status=c.status,
            outcome=None,
            acknowledged=c.acknowledged_on is not None,
            received_on=c.received_on.isoformat(),
            intake_mode=None,
            feedback_due=c.feedback_due_on.isoformat(),
        )
    )
    return read


STATUSES = ("received", "acknowledged", "investigating", "action_planned", "closed")
INTAKE_MODES = ("e2e", "server_sealed")


@dataclass(frozen=True)
class SignedState:
    """What the committee signed about a case: its status and outcome as of the last verified
    status object, the day of acknowledgement, the day of receipt and intake mode the members
    attested when they moved the case, and the feedback deadline they promised (None where
    nothing signed says it)."""

    status: str = "received"
    outcome: str | None = None
    acknowledged_on: str | None = None
    changed_on: str | None = None
    received_on: str | None = None
    intake_mode: str | None = None
    feedback_due: str | None = None
    """The feedback deadline the last status object that named one promised the reporter."""
    seq: int | None = None
    """The thread position of the status object it comes from (None: the case was never
    moved, so ``received`` is the only status nobody needs to sign)."""


def _text_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


def signed_state(read: ReadCase) -> tuple[SignedState, list[str]]:
    """The case's status as the verified status objects of the thread say it, with the
    problems found among them (two status objects attesting different days of receipt or
    intake modes, a status outside the workflow)."""
    state = SignedState()
    problems: list[str] = []
    for o in read.thread():
        if o.kind != "status" or not o.verified:
            continue
        status = _text_field(o.body, "status")
        if status not in STATUSES[1:]:
            problems.append(f"thread message {o.seq}: it names no status of the workflow")
            continue
        received, intake = _text_field(o.body, "received_on"), _text_field(o.body, "intake_mode")
        if received is not None and state.received_on not in (None, received):
            problems.append(
                f"thread message {o.seq}: it attests another day of receipt ({received}) than "
                f"an earlier signed status ({state.received_on})"
            )
        if intake is not None and state.intake_mode not in (None, intake):
            problems.append(
                f"thread message {o.seq}: it attests another intake mode ({intake}) than an "
                f"earlier signed status ({state.intake_mode})"
            )
        on = _text_field(o.body, "on")
        state = SignedState(
            status=status,
            outcome=_text_field(o.body, "outcome") if status == "closed" else None,
            acknowledged_on=on if status == "acknowledged" else state.acknowledged_on,
            changed_on=on,
            received_on=state.received_on or received,
            intake_mode=state.intake_mode or intake,
            feedback_due=_text_field(o.body, "feedback_due") or state.feedback_due,
            seq=o.seq,
        )
    return state, problems


def _committee_anchor_problems(read: ReadCase) -> list[str]:
    """Status objects written since protocol 7.4 named the committee chain's head name it:
    that object must still be there, and a signed closure must be followed by its closure
    record. A server that deletes the committee's notes, triage, actions or closure is then
    caught by anyone who reads the thread after the next status change."""
    problems: list[str] = []
    committee = {o.seq: o for o in read.objects if o.chain == "committee"}
    for o in read.thread():
        anchor = o.body.get("committee_head") if o.kind == "status" and o.verified else None
        if not (isinstance(anchor, list) and len(anchor) == 2):
            continue
        seq, digest = anchor
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(digest, str):
            problems.append(f"thread message {o.seq}: its committee head is malformed")
            continue
        named = committee.get(seq)
        if seq >= 0 and (named is None or b64e(named.hash) != digest):
            problems.append(
                f"the committee's internal record differs from the one signed with thread "
                f"message {o.seq}: records were deleted or replaced"
            )
        if o.body.get("status") == "closed":
            closure = committee.get(seq + 1)
            if closure is None or closure.kind != "closure" or not closure.verified:
                problems.append(
                    f"the closure record signed with thread message {o.seq} is missing from "
                    "the committee's internal record"
                )
    return problems


def sealed_by_server(read: ReadCase) -> int | None:
    """The thread position of the first verified report or reporter message that says, inside
    its signed plaintext, that the server-sealed path wrote it (None: none does)."""
    for o in read.thread():
        if not o.verified or o.sender != REPORTER:
            continue
        if (o.kind == "report" and read.report is not None and read.report.sealed_by_server) or (
            o.kind == "message" and o.body.get("intake") == SERVER_SEALED
        ):
            return o.seq
    return None


def intake_problems(read: ReadCase, state: SignedState, intake_mode: str) -> list[str]:
    """A case whose signed report or messages say the server sealed them must be listed, and
    attested, as server-sealed: its plaintext passed through server memory."""
    seq = sealed_by_server(read)
    if seq is None:
        return []
    problems: list[str] = []
    if intake_mode != SERVER_SEALED:
        problems.append(
            f"thread message {seq} was sealed by the server (its plaintext passed through "
            f"server memory), but the server lists the case's intake mode as {intake_mode}"
        )
    if state.intake_mode not in (None, SERVER_SEALED):
        problems.append(
            f"thread message {seq} was sealed by the server, but a signed status attests the "
            f"intake mode {state.intake_mode}"
        )
    return problems


def server_field_problems(
    state: SignedState,
    *,
    status: str,
    outcome: str | None,
    acknowledged: bool,
    received_on: str | None,
    intake_mode: str | None,
    feedback_due: str | None,
) -> list[str]:
    """Where the server's metadata disagrees with what the committee signed. Only what is
    signed is shown to the reader; these are the warnings that say the server's fields differ
    (``outcome``/``intake_mode`` None: the server did not send them)."""
    problems: list[str] = []
    if status != state.status:
        problems.append(
            f"the server says the case is {status}, but the last status a committee member "
            f"signed is {state.status}"
            if state.seq is not None
            else f"the server says the case is {status}, but no committee member signed a "
            "status change"
        )
    elif outcome is not None and status == "closed" and outcome != state.outcome:
        problems.append(
            f"the server says the outcome is {outcome}, but the committee signed {state.outcome}"
        )
    if acknowledged and state.acknowledged_on is None:
        problems.append(
            "the server says the case was acknowledged, but no committee member signed an "
            "acknowledgement"
        )
    if received_on is not None and state.received_on not in (None, received_on):
        problems.append(
            f"the server says the report was received on {received_on}, but the committee "
            f"signed {state.received_on}"
        )
    if intake_mode is not None and state.intake_mode not in (None, intake_mode):
        problems.append(
            f"the server says the intake mode is {intake_mode}, but the committee signed "
            f"{state.intake_mode}"
        )
    if feedback_due is not None and state.feedback_due not in (None, feedback_due):
        problems.append(
            f"the server says feedback is due by {feedback_due}, but the committee signed "
            f"{state.feedback_due}"
        )
    return problems


# A corrective action's state may move on without a signed record (only a reason is signed):
# from the last signed state, these are the states the server may show.
ACTION_STATES_AFTER = {
    "planned": frozenset({"planned", "in_progress", "done"}),
    "in_progress": frozenset({"in_progress", "done"}),
    "done": frozenset({"done"}),
    "dropped": frozenset({"dropped"}),
}


def action_problems(read: ReadCase, actions: Sequence[ActionOut]) -> list[str]:
    """Compare the server's list of a case's corrective actions (owner, due day and state in
    the clear) with the signed ``action`` records of the committee chain: an action signed but
    missing or changed, or one listed that nobody signed, is named."""
    signed: dict[str, dict[str, str]] = {}
    for o in read.objects:
        if o.chain != "committee" or o.kind != "action" or not o.verified:
            continue
        action_id = _text_field(o.body, "action_id")
        owner, due_on = _text_field(o.body, "owner"), _text_field(o.body, "due_on")
        state = _text_field(o.body, "state")
        if action_id is None:
            continue
        if owner is not None and due_on is not None:
            signed.setdefault(action_id, {"owner": owner, "due_on": due_on, "state": "planned"})
        elif state in ACTION_STATES_AFTER and action_id in signed:
            signed[action_id]["state"] = state
    listed = {a.id: a for a in actions}
    problems: list[str] = []
    for action_id, record in signed.items():
        shown = listed.get(action_id)
        if shown is None:
            problems.append(
                f"corrective action {action_id}, signed in the committee's record, is missing "
                "from the server's list of actions"
            )
            continue
        if shown.owner != record["owner"] or shown.due_on.isoformat() != record["due_on"]:
            problems.append(
                f"the server shows corrective action {action_id} owned by {shown.owner} and "
                f"due by {shown.due_on}, but the committee signed {record['owner']} and "
                f"{record['due_on']}"
            )
        if shown.state not in ACTION_STATES_AFTER[record["state"]]:
            problems.append(
                f"the server says corrective action {action_id} is {shown.state}, but the "
                f"committee signed it {record['state']}"
            )
    problems.extend(
        f"the server lists corrective action {a.id}, but no committee member signed it"
        for a in actions
        if a.id not in signed
    )
    return problems


def receipt_problems(
    receipt: Receipt, read: ReadCase, *, case_id: str, received_on: str, manifest: Manifest
) -> list[str]:
    """Check the receipt the reporter kept from the submission against the case the server
    shows now: signed by an instance key the committee's manifest lists, for this instance,
    this case and this report, and for the day the server (and any signed status) names.
    Before the acknowledgement, the receipt is what authenticates the day of receipt."""
    verified = False
    for audit_key in manifest.audit_keys:
        try:
            receipt.verify(audit_key.key)
        except VerificationFailed:
            continue
        verified = True
        break
    if not verified:
        return ["your receipt is not signed by an instance key your committee's manifest lists"]
    report = next((o for o in read.thread() if o.kind == "report" and o.seq == 0), None)
    if (
        receipt.instance_id != manifest.instance_id
        or receipt.case_id != case_id
        or report is None
        or receipt.report_hash != report.hash
    ):
        return ["your receipt is for another report than the one the server shows"]
    problems: list[str] = []
    if receipt.day != received_on:
        problems.append(
            f"the server says the report was received on {received_on}, but your receipt "
            f"says {receipt.day}"
        )
    signed = read.signed
    if signed is not None and signed.received_on not in (None, receipt.day):
        problems.append(
            f"the committee signed {signed.received_on} as the day of receipt, but your "
            f"receipt says {receipt.day}"
        )
    return problems


def compare_with_seen(read: ReadCase, seen: dict[str, Any] | None) -> list[str]:
    """Warnings when the server shows an older or a different history of either chain than
    seen before: the conversation, and the committee's internal record (notes, triage,
    actions, closure)."""
    if not seen:
        return []
    warnings: list[str] = []
    for chain, what, items in (
        ("thread", "messages", "Messages"),
        ("committee", "internal records", "Internal records"),
    ):
        if chain not in seen or chain not in read.heads:
            continue
        seen_seq, seen_hash = int(seen[chain][0]), str(seen[chain][1])
        shown = {o.seq: o for o in read.objects if o.chain == chain}
        where = "thread" if chain == "thread" else "committee's internal record"
        if seen_seq >= 0 and seen_seq not in shown:
            warnings.append(
                f"The server now shows fewer {what} than you saw before in the {where} (you "
                f"saw up to #{seen_seq}): {what} were removed or the {where} was rolled back."
            )
        elif seen_seq >= 0 and b64e(shown[seen_seq].hash) != seen_hash:
            warnings.append(
                f"The server shows a different history than before: {where} #{seen_seq} is not "
                f"the one you saw. {items} were replaced or reordered."
            )
    return warnings


def heads_to_state(read: ReadCase) -> dict[str, list[int | str]]:
    """What a member's client remembers of a case that verified: each chain's head, and the
    status and outcome the committee signed (so that listings can flag a server that changes
    them later without decrypting every case again)."""
    state: dict[str, list[int | str]] = {
        chain: [seq, b64e(digest)] for chain, (seq, digest) in read.heads.items()
    }
    if read.signed is not None:
        state["status"] = [read.signed.status, read.signed.outcome or ""]
    return state


def status_unverified(case_status: str, outcome: str | None, seen: dict[str, Any] | None) -> bool:
    """Whether a listing must flag the server's status: it differs from the status signed in
    the case when this member last verified it, or the case was moved but never verified
    here."""
    remembered = (seen or {}).get("status")
    if not isinstance(remembered, list) or len(remembered) != 2:
        return case_status != "received"
    return [case_status, outcome or ""] != remembered
