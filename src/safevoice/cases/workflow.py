"""The case workflow: status, deadlines, handling, recusal and re-keying, corrective actions.

Status changes follow ``received → acknowledged → investigating → action_planned → closed``
(closing from acknowledged or investigating is allowed when nothing more needs doing, and a
closed case can be reopened into investigating). Every change the reporter sees arrives as a
status object in the thread, signed by the member who made it; the metadata in the clear (the
day of each change, the outcome, the actions' owners, due days and states) is what deadlines
and statistics use. Handling and recusal are enforced by keys (invariant 6): only a member who
holds the case's current key can claim it, and after a recusal nothing new may be written until
a remaining member re-keys the case to a new epoch that the recused member holds no key for.
Every change is an audit entry.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from safevoice.audit import service as audit
from safevoice.cases import service as cases
from safevoice.cases import transcript
from safevoice.cases.models import (
    Case,
    CaseObject,
    CorrectiveAction,
    Recusal,
    StatusChange,
    WrappedKey,
)
from safevoice.cases.schemas import (
    ActionIn,
    ActionUpdateIn,
    ClaimIn,
    DisclosureIn,
    RekeyIn,
    StatusIn,
)
from safevoice.crypto.casefile import REPORTER, member_label
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import wrapped_size
from safevoice.crypto.login import random_id
from safevoice.errors import BadRequest, Conflict, Forbidden, NotFound
from safevoice.instance.service import Snapshot
from safevoice.members.service import Principal
from safevoice.protocol import deadlines
from safevoice.protocol.wire import ActionOut, DisclosureOut, ObjectOut

TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"investigating", "closed"}),
    "investigating": frozenset({"action_planned", "closed"}),
    "action_planned": frozenset({"investigating", "closed"}),
    "closed": frozenset({"investigating"}),
}
OPEN_ACTION_STATES = frozenset({"planned", "in_progress"})


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none"
        raise Conflict(
            f"A case cannot go from {current} to {new}; from {current} it can go to: {allowed}."
        )


def _member_case(
    session: Session,
    snap: Snapshot,
    principal: Principal,
    case_id: str,
    *,
    allow_archive: bool = False,
) -> tuple[Case, transcript.Author]:
    case = transcript.load_case(session, case_id)
    author = transcript.author_for(session, snap, principal, case, allow_archive=allow_archive)
    return case, author


def change_status(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: StatusIn,
    now: datetime,
) -> list[ObjectOut]:
    case, author = _member_case(session, snap, principal, case_id)
    transcript.refuse_if_rekey_needed(case)
    check_transition(case.status, body.status)
    today = snap.today(now)
    if body.on is not None and body.on != today:
        # The signed status object carries the member's idea of today; the stored day and
        # deadline must be the very ones it promises the reporter.
        raise Conflict(
            f"The instance's day is {today.isoformat()}, not {body.on.isoformat()}; "
            "read the case again and retry."
        )
    closing = body.status == "closed"
    if closing and (body.outcome is None or body.closure is None):
        raise BadRequest("Closing a case needs an outcome and the closure record.")
    if not closing and (body.outcome is not None or body.closure is not None):
        raise BadRequest("Only closing a case takes an outcome and a closure record.")
    if closing and not body.confirm_open_actions:
        open_actions = session.scalar(
            select(CorrectiveAction.id)
            .where(
                CorrectiveAction.case_id == case.id,
                CorrectiveAction.state.in_(OPEN_ACTION_STATES),
            )
            .limit(1)
        )
        if open_actions is not None:
            raise Conflict(
                "The case still has open corrective actions; confirm to close it anyway."
            )
    _, posted = transcript.append(
        session, case, author, body.envelope.model_dump(), kinds=frozenset({"status"}), on=today
    )
    results = [posted]
    if body.closure is not None:
        _, closure = transcript.append(
            session,
            case,
            author,
            body.closure.model_dump(),
            kinds=frozenset({"closure"}),
            on=today,
        )
        results.append(closure)
    reopening = case.status == "closed"
    case.status = body.status
    case.feedback_due_on = deadlines.feedback_due_after(
        status=body.status,
        received_on=case.received_on,
        current_due=case.feedback_due_on,
        today=today,
    )
    if body.status == "acknowledged":
        case.acknowledged_on = today
    elif case.acknowledged_on is not None and case.feedback_on is None:
        # Telling the reporter that the case moved on is feedback (Directive Art. 9(1)(f)).
        case.feedback_on = today
    if closing:
        case.closed_on, case.outcome = today, body.outcome
    elif reopening:
        case.closed_on, case.outcome = None, None
    session.add(StatusChange(id=random_id(), case_id=case.id, status=body.status, on=today))
    detail: dict[str, str | int] = {"status": body.status}
    if body.outcome is not None:
        detail["outcome"] = body.outcome
    audit.record(
        session,
        event="case.reopened" if reopening else "case.status",
        case_id=case.id,
        actor=author.label,
        on=today,
        detail=detail,
    )
    return results


def claim(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: ClaimIn,
    now: datetime,
) -> None:
    """Take a case, or offer it to another member (who accepts by claiming it).

    Only a member holding the case's key gets this far; an offer is accepted whatever the
    target, so its answer never tells whether the target can read the case.
    """
    case, author = _member_case(session, snap, principal, case_id)
    me = principal.subject
    today = snap.today(now)
    if body.offer_to is not None:
        if case.handler not in (None, me):
            raise Forbidden("Only the member handling the case may offer it to someone else.")
        if snap.require_manifest().member(body.offer_to) is None:
            raise NotFound("There is no such committee member.")
        case.offered_to = body.offer_to
        cases.mark_changed(session, case.id, on=today)
        audit.record(
            session,
            event="case.offered",
            case_id=case.id,
            actor=author.label,
            on=today,
            detail={"to": body.offer_to},
        )
        return
    if case.handler not in (None, me) and case.offered_to != me:
        raise Conflict(f"The case is handled by {case.handler}; ask them to offer it to you.")
    case.handler, case.offered_to = me, None
    cases.mark_changed(session, case.id, on=today)
    audit.record(session, event="case.assigned", case_id=case.id, actor=author.label, on=today)


def recuse(
    session: Session, snap: Snapshot, *, principal: Principal, case_id: str, now: datetime
) -> None:
    """Declare a conflict of interest: nothing new is written until the case is re-keyed."""
    case, author = _member_case(session, snap, principal, case_id)
    holders = set(
        session.scalars(
            select(WrappedKey.recipient).where(
                WrappedKey.case_id == case.id, WrappedKey.epoch == case.epoch
            )
        )
    )
    recused_labels = {
        member_label(m)
        for m in session.scalars(select(Recusal.member_id).where(Recusal.case_id == case.id))
    }
    others = {
        label for label in holders - recused_labels - {author.label} if label.startswith("member:")
    }
    if not others:
        # One sentence for every reason: the member knows whom the reporter excluded, but
        # whether others recused since is not theirs to learn (SECURITY.md, Recusal).
        raise Conflict(
            "Your recusal from this case cannot be accepted now: raise the conflict with the "
            "committee, which will hand the case over."
        )
    today = snap.today(now)
    session.add(Recusal(case_id=case.id, member_id=principal.subject, on=today))
    case.rekey_needed = True
    if case.handler == principal.subject:
        case.handler = None
    if case.offered_to == principal.subject:
        case.offered_to = None
    cases.mark_changed(session, case.id, on=today)
    audit.record(session, event="case.recused", case_id=case.id, actor=author.label, on=today)


def rekey(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: RekeyIn,
    now: datetime,
) -> ObjectOut:
    """Start the next key epoch: the epoch record goes into the thread, the new wrapped keys
    replace every old one.

    The server cannot see whom the keys are for inside, but it admits only recipients who held
    a key in the current epoch, are still in the manifest and have not recused, so a re-key can
    never add a reader the reporter did not choose. Besides members, the archive recipient may
    re-key a case it holds, so that after every member key was lost the committee's new keys
    can be given the case again.
    """
    case, author = _member_case(session, snap, principal, case_id, allow_archive=True)
    manifest = snap.require_manifest()
    current = set(
        session.scalars(
            select(WrappedKey.recipient).where(
                WrappedKey.case_id == case.id, WrappedKey.epoch == case.epoch
            )
        )
    )
    recused = {
        member_label(m)
        for m in session.scalars(select(Recusal.member_id).where(Recusal.case_id == case.id))
    }
    enrolled = {member_label(m.id) for m in manifest.members}
    if manifest.archive is not None:
        enrolled.add(f"archive:{manifest.archive.id}")
    allowed = (current - recused) & (enrolled | {REPORTER})
    labels = [w.recipient for w in body.wrapped_keys]
    if len(labels) != len(set(labels)) or labels.count(REPORTER) != 1:
        raise BadRequest("The new keys must go once to each recipient and once to the reporter.")
    if not set(labels) <= allowed:
        raise BadRequest(
            "A new key goes to someone who did not hold the case's key, has recused or is no "
            "longer in the manifest."
        )
    if not any(label.startswith("member:") for label in labels):
        raise BadRequest("At least one committee member must keep the case's key.")
    new_epoch = case.epoch + 1
    sealed = []
    for wrap in body.wrapped_keys:
        data = b64d(wrap.sealed, what="wrapped key")
        if len(data) != wrapped_size(wrap.recipient, with_committee=wrap.recipient != REPORTER):
            raise BadRequest("A wrapped key has the wrong length.")
        sealed.append((wrap.recipient, data))
    _, posted = transcript.append(
        session,
        case,
        author,
        body.envelope.model_dump(),
        kinds=frozenset({"epoch"}),
        on=snap.today(now),
        epoch=new_epoch,
    )
    # Crypto-shredding of the old epochs: their wrapped keys are deleted, not kept.
    session.execute(delete(WrappedKey).where(WrappedKey.case_id == case.id))
    for recipient, data in sealed:
        session.add(WrappedKey(case_id=case.id, epoch=new_epoch, recipient=recipient, sealed=data))
    case.epoch = new_epoch
    case.rekey_needed = False
    audit.record(
        session,
        event="case.rekeyed",
        case_id=case.id,
        actor=author.label,
        on=snap.today(now),
        detail={"epoch": new_epoch},
    )
    return posted


def _action_out(action: CorrectiveAction, today: date) -> ActionOut:
    return ActionOut(
        id=action.id,
        case_id=action.case_id,
        owner=action.owner,
        due_on=action.due_on,
        state=action.state,
        created_on=action.created_on,
        done_on=action.done_on,
        overdue=action.state in OPEN_ACTION_STATES and deadlines.is_overdue(action.due_on, today),
    )


def add_action(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: ActionIn,
    now: datetime,
) -> ActionOut:
    """Plan a corrective action: owner and due day in the clear, description encrypted."""
    case, author = _member_case(session, snap, principal, case_id)
    transcript.refuse_if_rekey_needed(case)
    if snap.require_manifest().member(body.owner) is None:
        raise BadRequest("The owner of an action must be a committee member.")
    today = snap.today(now)
    if body.due_on < today:
        raise BadRequest("The due day of a new action cannot be in the past.")
    if session.get(CorrectiveAction, body.id) is not None:
        raise Conflict("An action with this id already exists.")
    transcript.append(
        session, case, author, body.envelope.model_dump(), kinds=frozenset({"action"}), on=today
    )
    action = CorrectiveAction(
        id=body.id,
        case_id=case.id,
        owner=body.owner,
        due_on=body.due_on,
        state="planned",
        created_on=today,
        done_on=None,
    )
    session.add(action)
    audit.record(
        session,
        event="action.added",
        case_id=case.id,
        actor=author.label,
        on=today,
        detail={"action": body.id, "owner": body.owner},
    )
    return _action_out(action, today)


def update_action(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    action_id: str,
    body: ActionUpdateIn,
    now: datetime,
) -> ActionOut:
    action = session.get(CorrectiveAction, action_id)
    if action is None:
        raise NotFound("There is no such action, or you cannot see its case.")
    try:
        case, author = _member_case(session, snap, principal, action.case_id)
    except NotFound:
        raise NotFound("There is no such action, or you cannot see its case.") from None
    transcript.refuse_if_rekey_needed(case)
    if action.state in ("done", "dropped"):
        raise Conflict(f"The action is already {action.state}.")
    if body.state == "dropped" and body.envelope is None:
        raise BadRequest("Dropping an action needs a reason (encrypted for the committee).")
    today = snap.today(now)
    if body.envelope is not None:
        transcript.append(
            session,
            case,
            author,
            body.envelope.model_dump(),
            kinds=frozenset({"action"}),
            on=today,
        )
    else:
        # The state is in the clear, beside the case: a member's sync fetches it again.
        cases.mark_changed(session, case.id, on=today)
    action.state = body.state
    action.done_on = today if body.state == "done" else None
    audit.record(
        session,
        event="action.updated",
        case_id=case.id,
        actor=author.label,
        on=today,
        detail={"action": action.id, "state": body.state},
    )
    return _action_out(action, today)


def list_actions(
    session: Session, *, member_id: str, today: date, overdue_only: bool
) -> list[ActionOut]:
    readable = {case.id for case in cases.readable_cases(session, label=member_label(member_id))}
    rows = session.scalars(
        select(CorrectiveAction)
        .where(CorrectiveAction.case_id.in_(readable))
        .order_by(CorrectiveAction.id)
    )
    actions = [_action_out(row, today) for row in rows]
    return [a for a in actions if a.overdue] if overdue_only else actions


def record_disclosure_ground(
    session: Session,
    snap: Snapshot,
    *,
    principal: Principal,
    case_id: str,
    body: DisclosureIn,
    now: datetime,
) -> DisclosureOut:
    """Record, before any disclosure of the reporter's identity, the ground for it (COMPLIANCE.md
    D8): the reporter's explicit consent, which must be a message the reporter signed in this
    case's thread (the member points at it; the server checks its sender and kind), or a
    documented legal obligation. The audit entry names the basis and the message or the legal
    reference, never what the reporter wrote."""
    case, author = _member_case(session, snap, principal, case_id)
    detail: dict[str, str | int] = {"basis": body.basis}
    ground: str | None = None
    if body.basis == "consent":
        if body.consent_message is None or body.legal_ground is not None:
            raise BadRequest(
                "Consent is recorded by pointing at the reporter's message that gives it "
                "(consent_message), and nothing else."
            )
        sender = session.scalar(
            select(CaseObject.sender).where(
                CaseObject.case_id == case.id,
                CaseObject.chain == "thread",
                CaseObject.seq == body.consent_message,
                CaseObject.kind == "message",
            )
        )
        if sender != REPORTER:
            raise BadRequest(
                f"Message #{body.consent_message} is not a message from the reporter; only the "
                "reporter can consent to the disclosure of their identity."
            )
        detail["consent_message"] = body.consent_message
    else:
        if body.legal_ground is None or not body.legal_ground.strip():
            raise BadRequest(
                "A legal obligation is recorded with its reference (legal_ground), for example "
                "the provision or the order that requires the disclosure."
            )
        if body.consent_message is not None:
            raise BadRequest("A legal obligation is recorded without a consent message.")
        detail["legal_ground"] = ground = body.legal_ground.strip()
    today = snap.today(now)
    audit.record(
        session,
        event="case.disclosure_ground",
        case_id=case.id,
        actor=author.label,
        on=today,
        detail=detail,
    )
    return DisclosureOut(
        case_id=case.id,
        basis=body.basis,
        on=today,
        consent_message=body.consent_message,
        legal_ground=ground,
    )
