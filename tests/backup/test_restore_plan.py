"""The refusal rules of a restore, one by one, on the pure plan (no database, no backup file).

Each test starts from a restore the plan accepts and changes one thing; the plan must refuse
with the sentence of that rule, and nothing else about the plan may change.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from safevoice.backup.approval import Approval, approve
from safevoice.backup.export import AuditExport, ExportEntry, Head
from safevoice.backup.service import (
    LiveState,
    PurgeRecord,
    RestorePlan,
    check_usable,
    plan_restore,
)
from safevoice.crypto.backup import BackupHeader
from safevoice.crypto.manifest import Manifest
from safevoice.errors import ConfigError, Conflict, Forbidden
from tests.support.world import MEMBER_IDS, World

TODAY = date(2026, 6, 1)


def digest(seq: int) -> bytes:
    return bytes([seq + 1]) * 32


def header(seq: int = 2, **changes: Any) -> BackupHeader:
    base = BackupHeader(
        backup_id="b" * 22,
        instance_id="instance-a",
        created_on=TODAY,
        key_id="k" * 22,
        revision="0001",
        audit_seq=seq,
        audit_head=digest(seq),
    )
    return dataclasses.replace(base, **changes)


def export(
    upto: int, *, purge_at: int | None = None, instance_id: str = "instance-a"
) -> AuditExport:
    entries = tuple(
        ExportEntry(
            seq=seq,
            body=b"{}",
            hash=digest(seq),
            data={"event": "case.purged", "case_id": f"case-{seq}", "on": "2026-05-01"}
            if seq == purge_at
            else {"event": "case.received"},
        )
        for seq in range(upto + 1)
    )
    return AuditExport(instance_id=instance_id, entries=entries)


def blank() -> LiveState:
    return LiveState(None, None, None, set(), False, {}, [])


NEWEST = Head(5, digest(5))


def signed_by(world: World, who: str = "alice") -> Approval:
    """A roll-back approval from the newest head (seq 5) to the backup's (seq 2)."""
    return approve(header(), checkpoint=NEWEST, instance_id="instance-a", keys=world.members[who])


def committee(world: World, *members: str) -> Manifest:
    """The committee's manifest, for the instance the backups here belong to."""
    manifest, _ = world.manifest(
        b"\x02" * 32, instance_id="instance-a", members=members or MEMBER_IDS
    )
    return manifest


def plan(
    h: BackupHeader | None = None,
    live: LiveState | None = None,
    **options: object,
) -> RestorePlan:
    arguments: dict[str, object] = {
        "export": export(2),
        "approval": None,
        "without_export": False,
        "replace": False,
        "can_reapply": True,
    }
    arguments.update(options)
    return plan_restore(h or header(), live or blank(), **arguments)  # type: ignore[arg-type]  # the options are the keyword arguments, checked by the call itself


def test_a_backup_at_the_newest_head_into_a_blank_database_is_planned_without_roll_back() -> None:
    assert plan() == RestorePlan(older=False, newest=Head(2, digest(2)), purges=[])


def test_a_backup_past_the_maximum_age_is_refused() -> None:
    old = header(created_on=date(2026, 1, 1))
    check_usable(header(), today=TODAY, max_age_days=30, export=None)
    with pytest.raises(Forbidden, match="days old, past the maximum backup age of 30"):
        check_usable(old, today=TODAY, max_age_days=30, export=None)


def test_an_export_of_another_instance_is_refused() -> None:
    with pytest.raises(Forbidden, match="belongs to another instance than the backup"):
        check_usable(
            header(), today=TODAY, max_age_days=30, export=export(2, instance_id="instance-b")
        )


def test_a_database_of_another_instance_is_refused(world: World) -> None:
    manifest, _ = world.manifest(b"\x02" * 32)
    live = dataclasses.replace(blank(), manifest=manifest)
    with pytest.raises(Forbidden, match=f"belongs to instance {manifest.instance_id}"):
        plan(live=live)


def test_a_database_holding_data_is_replaced_only_when_confirmed() -> None:
    live = dataclasses.replace(blank(), holds_data=True)
    with pytest.raises(Conflict, match="confirm with --yes"):
        plan(live=live)
    assert plan(live=live, replace=True).older is False


def test_without_any_newest_head_an_export_or_its_explicit_absence_is_required() -> None:
    with pytest.raises(Forbidden, match="--no-audit-export"):
        plan(export=None)
    assert plan(export=None, without_export=True) == RestorePlan(False, None, [])


def test_a_backup_from_another_history_is_refused() -> None:
    with pytest.raises(Forbidden, match="comes from another history"):
        plan(header(audit_head=b"\xff" * 32))


def test_the_live_log_and_the_export_must_agree() -> None:
    live = dataclasses.replace(blank(), head=Head(3, b"\xee" * 32))
    with pytest.raises(Forbidden, match="disagree at seq 3"):
        plan(live=live, export=export(4))


def test_a_roll_back_needs_the_export() -> None:
    live = dataclasses.replace(blank(), head=Head(5, digest(5)), hashes={2: digest(2)})
    with pytest.raises(Forbidden, match="give the newest audit export"):
        plan(live=live, export=None, without_export=True)


def test_a_roll_back_needs_an_approval() -> None:
    with pytest.raises(Forbidden, match="needs an approval"):
        plan(export=export(5))


def test_a_roll_back_approval_needs_a_manifest_to_check_the_approver_against(
    world: World,
) -> None:
    with pytest.raises(Forbidden, match="No manifest is known"):
        plan(export=export(5), approval=signed_by(world))


def test_a_roll_back_approval_with_a_forged_signature_is_refused(world: World) -> None:
    forged = dataclasses.replace(signed_by(world), signature=bytes(64))
    with pytest.raises(Forbidden):
        plan(export=export(5), approval=forged, backup_manifest=committee(world))


def test_a_roll_back_approval_from_a_member_the_manifest_no_longer_lists_is_refused(
    world: World,
) -> None:
    with pytest.raises(Forbidden, match="not in the manifest"):
        plan(export=export(5), approval=signed_by(world), backup_manifest=committee(world, "bob"))


def test_the_live_manifest_decides_the_approver_over_the_backups_own(world: World) -> None:
    """A backup holds the manifest of its day; a member removed since must not approve."""
    live = dataclasses.replace(blank(), manifest=committee(world, "bob"))
    with pytest.raises(Forbidden, match="not in the manifest"):
        plan(
            live=live,
            export=export(5),
            approval=signed_by(world),
            backup_manifest=committee(world),
        )


def test_an_approval_for_an_older_checkpoint_than_the_newest_log_is_refused(
    world: World,
) -> None:
    with pytest.raises(Forbidden, match="save a current checkpoint"):
        plan(export=export(6), approval=signed_by(world), backup_manifest=committee(world))


def test_a_roll_back_with_purges_needs_an_installation_that_can_reapply_them(
    world: World,
) -> None:
    with pytest.raises(ConfigError, match="cannot re-apply purges"):
        plan(
            export=export(5, purge_at=4),
            approval=signed_by(world),
            backup_manifest=committee(world),
            can_reapply=False,
        )


def test_an_approved_roll_back_lists_the_later_purges_to_apply_again(world: World) -> None:
    planned = plan(
        export=export(5, purge_at=4), approval=signed_by(world), backup_manifest=committee(world)
    )

    assert planned.older
    assert planned.newest == Head(5, digest(5))
    assert planned.purges == [PurgeRecord(seq=4, case_id="case-4", on=date(2026, 5, 1), detail={})]
