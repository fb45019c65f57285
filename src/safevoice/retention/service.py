"""Retention rules applied to the database: policies, legal holds, the purge and its record.

Purging a case deletes its wrapped keys first (crypto-shredding: from then on no copy of the
ciphertext anywhere, a backup included, can be opened with what the server holds), then every
row and blob of the case, and leaves a tombstone and a ``case.purged`` audit entry, all in one
transaction. Cases are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serialises
writers), so several purge jobs on several hosts never purge one case twice; a case under
legal hold is never claimed. The services never commit: the job's unit of work does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session

from safevoice.attachments.models import Attachment, Upload
from safevoice.audit import service as audit
from safevoice.cases.models import (
    Case,
    CaseObject,
    CorrectiveAction,
    Recusal,
    StatusChange,
    WrappedKey,
)
from safevoice.cases.service import readable_case
from safevoice.errors import BadRequest, ConfigError, Conflict, NotFound
from safevoice.instance.models import Channel, SpentChallenge
from safevoice.intake.models import IdempotencyKey
from safevoice.lessons.models import Lesson
from safevoice.members.models import LoginSession
from safevoice.protocol.wire import (
    CaseRetention,
    ChannelPolicy,
    HoldOut,
    RetentionOverview,
    TombstoneOut,
)
from safevoice.retention import policy as rules
from safevoice.retention.models import LegalHold, Tombstone
from safevoice.storage import dialect
from safevoice.storage.base import Base
from safevoice.storage.blobs import BlobStore, delete_uploads
from safevoice.storage.db import Database

RETENTION_ACTOR = "retention"
OPERATOR_ACTOR = "operator"
REASON_MAX = 500

# Every table that holds rows of a case, in the order the purge empties them: the wrapped keys
# first, the case row last.
CASE_TABLES = (
    WrappedKey,
    CaseObject,
    StatusChange,
    Recusal,
    CorrectiveAction,
    Attachment,
    LegalHold,
    Lesson,  # its approvals go with it (foreign key, on delete cascade)
)
# Tables a purge or a prune frees rows in (what PostgreSQL's VACUUM is run on).
TOUCHED_TABLES = (
    "wrapped_key",
    "case_object",
    "status_change",
    "recusal",
    "corrective_action",
    "attachment",
    "upload",
    "blob_chunk",
    "legal_hold",
    "lesson",
    "lesson_approval",
    "case_file",
    "spent_challenge",
    "idempotency_key",
    "login_session",
)


# -- policies ----------------------------------------------------------------------------


def policy_of(channel: Channel) -> rules.Policy:
    return rules.Policy(
        days_after_closure=channel.retain_days_after_closure,
        max_age_days=channel.retain_max_days,
        unused_days=channel.retain_unused_days,
    )


def channel_policy(channel: Channel) -> ChannelPolicy:
    return ChannelPolicy(
        channel=channel.name,
        days_after_closure=channel.retain_days_after_closure,
        max_age_days=channel.retain_max_days,
        unused_days=channel.retain_unused_days,
    )


def _channel(session: Session, name: str, *, lock: bool = False) -> Channel:
    query = select(Channel).where(Channel.name == name)
    if lock:
        query = query.with_for_update()
    channel = session.scalars(query).one_or_none()
    if channel is None:
        known = ", ".join(session.scalars(select(Channel.name).order_by(Channel.name)))
        raise NotFound(f"There is no channel of that name; the channels are: {known or 'none'}.")
    return channel


def show_policy(session: Session, *, name: str) -> ChannelPolicy:
    return channel_policy(_channel(session, name))


def set_policy(
    session: Session,
    *,
    name: str,
    days_after_closure: int | None,
    max_age_days: int | None,
    unused_days: int | None,
    today: date,
) -> ChannelPolicy:
    """Change some limits of a channel's policy (audited as ``policy.changed``)."""
    channel = _channel(session, name, lock=True)
    current = policy_of(channel)
    changed = rules.Policy(
        days_after_closure=current.days_after_closure
        if days_after_closure is None
        else days_after_closure,
        max_age_days=current.max_age_days if max_age_days is None else max_age_days,
        unused_days=current.unused_days if unused_days is None else unused_days,
    )
    try:
        rules.validate(changed)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if changed == current:
        return channel_policy(channel)
    channel.retain_days_after_closure = changed.days_after_closure
    channel.retain_max_days = changed.max_age_days
    channel.retain_unused_days = changed.unused_days
    audit.record(
        session,
        event="policy.changed",
        case_id=None,
        actor=OPERATOR_ACTOR,
        on=today,
        detail={
            "channel": channel.name,
            "days_after_closure": changed.days_after_closure,
            "max_age_days": changed.max_age_days,
            "unused_days": changed.unused_days,
        },
    )
    return channel_policy(channel)


def all_policies(session: Session) -> dict[str, ChannelPolicy]:
    return {channel.name: channel_policy(channel) for channel in session.scalars(select(Channel))}


def record_seeded_changes(
    session: Session, *, before: dict[str, ChannelPolicy], today: date
) -> list[str]:
    """Check the policies a configuration file set; audit those it changed (``admin init``
    run again).

    A new channel's first policy is part of setting it up; changing an existing one is a
    ``policy.changed`` like ``admin channel``, so no change of a limit goes unrecorded.
    """
    session.flush()
    changed = []
    for name, policy in sorted(all_policies(session).items()):
        try:
            rules.validate(
                rules.Policy(policy.days_after_closure, policy.max_age_days, policy.unused_days)
            )
        except ValueError as exc:
            raise ConfigError(f"The retention policy of channel {name!r} is wrong: {exc}") from None
        if name in before and before[name] != policy:
            changed.append(name)
            audit.record(
                session,
                event="policy.changed",
                case_id=None,
                actor=OPERATOR_ACTOR,
                on=today,
                detail={
                    "channel": name,
                    "days_after_closure": policy.days_after_closure,
                    "max_age_days": policy.max_age_days,
                    "unused_days": policy.unused_days,
                },
            )
    return changed


def _policies(session: Session) -> dict[str, rules.Policy]:
    return {channel.name: policy_of(channel) for channel in session.scalars(select(Channel))}


# -- legal holds -------------------------------------------------------------------------


def place_hold(session: Session, *, label: str, case_id: str, reason: str, today: date) -> HoldOut:
    """Suspend deletion of a case the member can read; the reason stays out of the audit log."""
    reason = reason.strip()
    if not reason:
        raise BadRequest("A legal hold needs a reason.")
    if len(reason) > REASON_MAX:
        raise BadRequest(f"Keep the reason of a legal hold under {REASON_MAX} characters.")
    case = readable_case(session, label=label, case_id=case_id)
    # Lock the case so a purge running now either finishes first or sees the hold.
    session.scalars(select(Case.id).where(Case.id == case.id).with_for_update()).one()
    if session.get(LegalHold, case.id) is not None:
        raise Conflict("This case is already under legal hold.")
    session.add(LegalHold(case_id=case.id, held_by=label, held_on=today, reason=reason))
    audit.record(session, event="case.held", case_id=case.id, actor=label, on=today)
    return HoldOut(case_id=case.id, held_by=label, held_on=today, reason=reason)


def release_hold(session: Session, *, label: str, case_id: str, today: date) -> None:
    case = readable_case(session, label=label, case_id=case_id)
    hold = session.get(LegalHold, case.id, with_for_update=True)
    if hold is None:
        raise Conflict("This case is not under legal hold.")
    session.delete(hold)
    audit.record(session, event="case.released", case_id=case.id, actor=label, on=today)


# -- what is due -------------------------------------------------------------------------


def _due_condition(policies: dict[str, rules.Policy], today: date) -> ColumnElement[bool]:
    """Cases due on ``today`` under their channel's policy, as one SQL condition."""
    per_channel = []
    for name, policy in policies.items():
        per_channel.append(
            and_(
                Case.channel == name,
                or_(
                    Case.received_on <= today - timedelta(days=policy.max_age_days),
                    and_(
                        Case.closed_on.is_not(None),
                        Case.closed_on <= today - timedelta(days=policy.days_after_closure),
                    ),
                    and_(
                        Case.acknowledged_on.is_(None),
                        Case.received_on <= today - timedelta(days=policy.unused_days),
                    ),
                ),
            )
        )
    if not per_channel:
        return false()
    return and_(or_(*per_channel), ~exists().where(LegalHold.case_id == Case.id))


def _due_of(case: Case, policy: rules.Policy) -> rules.Due:
    return rules.due(
        policy,
        received_on=case.received_on,
        acknowledged_on=case.acknowledged_on,
        closed_on=case.closed_on,
    )


@dataclass(frozen=True)
class Planned:
    case_id: str
    channel: str
    policy: str
    due_on: date


def plan(session: Session, *, today: date) -> list[Planned]:
    """The cases a purge on ``today`` would delete (held cases excluded); changes nothing."""
    policies = _policies(session)
    cases = session.scalars(select(Case).where(_due_condition(policies, today)))
    planned = []
    for case in cases:
        entry = _due_of(case, policies[case.channel])
        planned.append(Planned(case.id, case.channel, entry.policy, entry.on))
    return planned


def count_due(session: Session, *, today: date) -> int:
    condition = _due_condition(_policies(session), today)
    return session.scalar(select(func.count()).select_from(Case).where(condition)) or 0


# -- the purge ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    case_id: str
    channel: str
    policy: str
    received_on: date


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


@dataclass(frozen=True)
class Claimed:
    """The metadata of a case claimed for purging (all a tombstone and the rules need)."""

    id: str
    channel: str
    received_on: date
    acknowledged_on: date | None
    closed_on: date | None


def _erase(
    session: Session,
    blobs: BlobStore,
    claimed: Sequence[Claimed],
    chosen: dict[str, rules.Due],
    *,
    today: date,
) -> list[Purged]:
    """Delete every row and blob of the claimed cases; write their tombstones and entries.

    Plain SQL statements over the whole batch (no ORM objects), so a purge of many cases costs a
    few statements per batch rather than per case.
    """
    ids = [case.id for case in claimed]
    if not ids:
        return []
    # Crypto-shredding first: without the wrapped keys nothing below can be decrypted again.
    for model in CASE_TABLES:
        table = _table(model)
        session.execute(delete(table).where(dialect.among(table.c.case_id, ids, session)))
    uploads = _table(Upload)
    upload_ids = list(
        session.scalars(select(uploads.c.id).where(dialect.among(uploads.c.case_id, ids, session)))
    )
    if upload_ids:
        delete_uploads(blobs, session, upload_ids)
        session.execute(delete(uploads).where(dialect.among(uploads.c.id, upload_ids, session)))
    cases = _table(Case)
    session.execute(delete(cases).where(dialect.among(cases.c.id, ids, session)))
    purged = [
        Purged(case.id, case.channel, chosen[case.id].policy, case.received_on) for case in claimed
    ]
    session.execute(
        insert(_table(Tombstone)),
        [
            {
                "case_id": case.id,
                "channel": case.channel,
                "received_on": case.received_on,
                "purged_on": today,
                "policy": chosen[case.id].policy,
                "policy_days": chosen[case.id].days,
                "since_on": chosen[case.id].since,
            }
            for case in claimed
        ],
    )
    # One lock of the chain's head for the whole batch (``audit.record`` would take it per case).
    audit.append_many(
        session,
        (
            (
                "case.purged",
                entry.case_id,
                RETENTION_ACTOR,
                today,
                {
                    "channel": entry.channel,
                    "policy": entry.policy,
                    "received": entry.received_on.isoformat(),
                },
            )
            for entry in purged
        ),
    )
    return purged


def _claim(session: Session, condition: ColumnElement[bool], *, limit: int) -> list[Claimed]:
    # FOR UPDATE OF case_file locks only the case rows; SKIP LOCKED leaves the cases another
    # job holds to it. SQLite ignores the clause: its writers are serialised anyway.
    cases = _table(Case)
    query = (
        select(
            cases.c.id,
            cases.c.channel,
            cases.c.received_on,
            cases.c.acknowledged_on,
            cases.c.closed_on,
        )
        .where(condition)
        .limit(limit)
        .with_for_update(skip_locked=True, of=cases)
    )
    return [Claimed(*row) for row in session.execute(query)]


def purge_case(
    session: Session, blobs: BlobStore, case_id: str, *, today: date, policy: str
) -> bool:
    """Purge one case under the named policy; False if it is already gone (or being purged).

    Refuses a case under legal hold.
    """
    if policy not in rules.POLICIES:
        raise BadRequest(f"There is no retention policy {policy!r}.")
    claimed = _claim(session, Case.id == case_id, limit=1)
    if not claimed:
        return False
    case = claimed[0]
    if session.get(LegalHold, case.id) is not None:
        raise Conflict("This case is under legal hold and cannot be purged.")
    days = _policies(session)[case.channel].days(policy)
    since = case.closed_on if policy == rules.AFTER_CLOSURE else case.received_on
    if since is None:
        raise BadRequest("An open case cannot be purged under the policy after closure.")
    chosen = {case.id: rules.Due(policy, since + timedelta(days=days), days, since)}
    return bool(_erase(session, blobs, claimed, chosen, today=today))


def purge_due(session: Session, blobs: BlobStore, *, today: date, limit: int) -> list[Purged]:
    """Claim and purge up to ``limit`` due cases in the caller's transaction."""
    policies = _policies(session)
    claimed = _claim(session, _due_condition(policies, today), limit=limit)
    chosen = {
        case.id: rules.due(
            policies[case.channel],
            received_on=case.received_on,
            acknowledged_on=case.acknowledged_on,
            closed_on=case.closed_on,
        )
        for case in claimed
    }
    return _erase(session, blobs, claimed, chosen, today=today)


# -- short-lived rows --------------------------------------------------------------------


def prune_short_lived(session: Session, *, now: datetime) -> dict[str, int]:
    """Delete spent challenges, idempotency keys and sessions past their coarse expiry."""
    counts = {}
    for name, table in (
        ("challenges", SpentChallenge),
        ("idempotency_keys", IdempotencyKey),
        ("sessions", LoginSession),
    ):
        result = session.execute(
            delete(table).where(table.expires_at < now),
            execution_options={"synchronize_session": False},
        )
        counts[name] = int(result.rowcount or 0)  # type: ignore[attr-defined]  # Session.execute is typed as Result; an UPDATE/DELETE returns a CursorResult, which has rowcount
    return counts


# -- the auditor's view ------------------------------------------------------------------


def overview(session: Session, *, today: date) -> RetentionOverview:
    """Every live case's retention state and every tombstone: metadata only."""
    policies = _policies(session)
    held = set(session.scalars(select(LegalHold.case_id)))
    cases = []
    for case in session.scalars(select(Case).order_by(Case.id)):
        entry = _due_of(case, policies[case.channel])
        cases.append(
            CaseRetention(
                case_id=case.id,
                channel=case.channel,
                received_on=case.received_on,
                status=case.status,
                acknowledged_on=case.acknowledged_on,
                closed_on=case.closed_on,
                held=case.id in held,
                policy=entry.policy,
                due_on=entry.on,
            )
        )
    tombstones = [
        TombstoneOut(
            case_id=row.case_id,
            channel=row.channel,
            received_on=row.received_on,
            purged_on=row.purged_on,
            policy=row.policy,
            policy_days=row.policy_days,
            since_on=row.since_on,
        )
        for row in session.scalars(select(Tombstone).order_by(Tombstone.case_id))
    ]
    return RetentionOverview(
        today=today,
        grace_days=rules.GRACE_DAYS,
        policies=[
            channel_policy(channel)
            for channel in session.scalars(select(Channel).order_by(Channel.name))
        ],
        cases=cases,
        tombstones=tombstones,
    )


@dataclass(frozen=True)
class Findings:
    violations: list[str]
    upcoming: list[CaseRetention]


RECEIVED = "case.received"
PURGED = "case.purged"


def _logged_lifecycle(
    log: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, int], dict[str, tuple[int, str, str]]]:
    """From the audit log: the first receipt of each case (its seq), and each case's logged
    purge (seq, day, policy)."""
    received: dict[str, int] = {}
    purges: dict[str, tuple[int, str, str]] = {}
    for body in log:
        case_id, seq = body.get("case_id"), body.get("seq")
        if not isinstance(case_id, str) or not isinstance(seq, int):
            continue
        if body.get("event") == RECEIVED:
            received.setdefault(case_id, seq)
        elif body.get("event") == PURGED:
            detail = body.get("detail")
            policy = detail.get("policy") if isinstance(detail, dict) else None
            purges[case_id] = (seq, str(body.get("on")), str(policy))
    return received, purges


def _purge_violations(
    view: RetentionOverview,
    purges: dict[str, tuple[int, str, str]],
    *,
    live: set[str],
    stones: dict[str, TombstoneOut],
) -> list[str]:
    """Each logged purge must be on a day not in the future, of a case no longer live, with a
    tombstone of the same day and policy."""
    violations: list[str] = []
    for case_id, (seq, on, policy) in sorted(purges.items()):
        stone = stones.get(case_id)
        if on > view.today.isoformat():
            violations.append(
                f"Audit entry {seq} records the purge of case {case_id} on {on}, a day still in "
                f"the future (today is {view.today}): the purge ran with its clock moved forward."
            )
        if case_id in live:
            violations.append(
                f"Case {case_id} is live although audit entry {seq} records its purge."
            )
        elif stone is None:
            violations.append(
                f"Audit entry {seq} records the purge of case {case_id}, but the server keeps no "
                "tombstone for it."
            )
        elif stone.purged_on.isoformat() != on or stone.policy != policy:
            violations.append(
                f"The tombstone of case {case_id} (purged on {stone.purged_on} under "
                f"{stone.policy}) does not match the logged purge in audit entry {seq} (on {on} "
                f"under {policy})."
            )
    return violations


def account(view: RetentionOverview, log: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every case the audit log says was received is live, or was purged by a logged purge.

    ``log`` holds the parsed bodies of a verified chain. A logged purge must be on a day that is
    not in the future, with a tombstone of the same day and policy; a tombstone needs its logged
    purge. Anything else (rows deleted by hand, a purge run with the clock moved forward) is
    named.
    """
    live = {case.case_id for case in view.cases}
    stones = {stone.case_id: stone for stone in view.tombstones}
    received, purges = _logged_lifecycle(log)
    violations = _purge_violations(view, purges, live=live, stones=stones)
    for case_id, stone in sorted(stones.items()):
        if stone.purged_on > view.today:
            violations.append(
                f"The tombstone of case {case_id} is dated {stone.purged_on}, a day still in the "
                f"future (today is {view.today})."
            )
        if case_id not in purges:
            violations.append(
                f"Case {case_id} has a tombstone but the audit log records no purge of it."
            )
    for case_id, seq in sorted(received.items(), key=lambda item: item[1]):
        if case_id not in live and case_id not in purges:
            violations.append(
                f"Case {case_id}, received according to audit entry {seq}, is neither live nor "
                "purged by a logged purge: its rows were deleted outside SafeVoice."
            )
    return violations


def check(
    view: RetentionOverview,
    *,
    upcoming_days: int = 30,
    log: Sequence[Mapping[str, Any]] | None = None,
) -> Findings:
    """An auditor's check: live cases within policy, purges matching one, what comes next.

    With the audit log, also that every case the log says was received is accounted for.
    """
    violations = []
    policies = {p.channel: p for p in view.policies}
    for case in view.cases:
        channel = policies.get(case.channel)
        if channel is None:
            violations.append(f"Case {case.case_id} belongs to a channel without a policy.")
            continue
        policy = rules.Policy(channel.days_after_closure, channel.max_age_days, channel.unused_days)
        entry = rules.due(
            policy,
            received_on=case.received_on,
            acknowledged_on=case.acknowledged_on,
            closed_on=case.closed_on,
        )
        if entry.policy != case.policy or entry.on != case.due_on:
            violations.append(
                f"Case {case.case_id} is reported due on {case.due_on} under {case.policy}, "
                f"but its channel's policy makes it due on {entry.on} under {entry.policy}."
            )
        if not case.held and rules.is_overdue(entry, view.today):
            violations.append(
                f"Case {case.case_id} ({case.channel}) was due for deletion on {entry.on} "
                f"under the {entry.policy} policy and still exists without a legal hold."
            )
    for stone in view.tombstones:
        if stone.policy not in rules.POLICIES:
            violations.append(
                f"The purge of case {stone.case_id} names no known policy ({stone.policy})."
            )
            continue
        if stone.policy != rules.AFTER_CLOSURE and stone.since_on != stone.received_on:
            violations.append(
                f"The purge of case {stone.case_id} counts its {stone.policy} limit from "
                f"{stone.since_on}, not from the day of receipt {stone.received_on}."
            )
        due_on = stone.since_on + timedelta(days=stone.policy_days)
        if stone.purged_on < due_on:
            violations.append(
                f"Case {stone.case_id} was purged on {stone.purged_on}, before it was due on "
                f"{due_on} under the {stone.policy} policy of {stone.policy_days} days."
            )
    if log is not None:
        violations.extend(account(view, log))
    horizon = view.today + timedelta(days=upcoming_days)
    overdue_on = view.today - timedelta(days=rules.GRACE_DAYS)
    upcoming = sorted(
        (c for c in view.cases if not c.held and overdue_on <= c.due_on <= horizon),
        key=lambda c: (c.due_on, c.case_id),
    )
    return Findings(violations=violations, upcoming=upcoming)


# -- making the database forget ----------------------------------------------------------


# Tables with a row per case (or per upload, or per survey answer) whose storage order would
# otherwise follow the order in which cases or answers arrived; each is keyed by a random id.
# On PostgreSQL the daily run gives all their rows one transaction id and rewrites them in key
# order (CLUSTER), which also rebuilds their indexes, so no B-tree page keeps a purged
# reporter's key in its free space. An answer's new transaction id also ends the one it shared
# with the proof-of-work challenge it spent (``spent_challenge``, whose expiry is a coarse time).
ORDERED_TABLES = (
    "case_file",
    "case_object",
    "wrapped_key",
    "status_change",
    "recusal",
    "corrective_action",
    "attachment",
    "upload",
    "legal_hold",
    "tombstone",
    "blob_chunk",
    "survey_answer",
)


def forget(database: Database, *, attempts: int = dialect.CHECKPOINT_ATTEMPTS) -> None:
    """Make the database drop what it freed and forget the order in which rows arrived.

    SQLite overwrites deleted content already (``secure_delete`` on every connection). The WAL
    is checkpointed, then ``VACUUM`` rebuilds the file: freed pages are gone and every table
    and index is laid out in the order of its (random) key instead of the order of arrival;
    the WAL is then checkpointed and truncated. A reader's open transaction keeps the
    checkpoint from reaching the end of the WAL, so the purged rows would stay in the ``-wal``
    file: the checkpoint is retried, then ``IncompleteDeletion`` names what is left.

    PostgreSQL keeps dead row versions until VACUUM, which is run on the tables a purge touches
    first (CLUSTER alone carried a purged row into the rebuilt index, as a test found). The
    tables that hold cases and survey answers are then rewritten (one UPDATE of all their rows,
    then CLUSTER) so that neither transaction ids nor physical places nor a dump's order follow
    arrival, and their B-tree indexes, which keep removed entries' bytes in free space, are
    rebuilt.
    PostgreSQL's own WAL keeps the deleted rows until the server recycles the segments.
    """
    dialect.reclaim_deleted(database, TOUCHED_TABLES, ordered=ORDERED_TABLES, attempts=attempts)
