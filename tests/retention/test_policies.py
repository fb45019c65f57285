"""Retention policies per channel: shown and changed by the operator (audited), validated, and
required of every channel (COMPLIANCE.md G2, G3); the pruning of short-lived rows."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from safevoice.attachments.models import Upload
from safevoice.clock import utcnow
from safevoice.errors import ConfigError
from safevoice.instance.models import SpentChallenge
from safevoice.intake import service as intake
from safevoice.intake.models import IdempotencyKey
from safevoice.members.models import LoginSession
from safevoice.retention import service
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.retention.support import audit_events, noon, tombstones
from tests.support.workflow import insert_case


def channel(cli: Cli, url: str, *args: str, expect: int = 0) -> object:
    return cli.safevoice("admin", "channel", *args, "--database", url, expect=expect)


def test_the_operator_shows_and_changes_a_channels_policy_and_the_change_is_audited(
    cli: Cli, database: Database, database_url: str
) -> None:
    shown = cli.safevoice("admin", "channel", "safety", "--json", "--database", database_url)
    changed = cli.safevoice(
        "admin", "channel", "safety", "--days-after-closure", "45", "--database", database_url
    )

    assert json.loads(shown.stdout) == {
        "channel": "safety",
        "days_after_closure": 30,
        "max_age_days": 365,
        "unused_days": 60,
    }
    assert "kept 45 days after closure" in changed.stdout
    assert "at most 365 days" in changed.stdout
    entries = audit_events(database, "policy.changed")
    assert [(e["actor"], e["case_id"], e["detail"]) for e in entries] == [
        (
            "operator",
            None,
            {"channel": "safety", "days_after_closure": 45, "max_age_days": 365, "unused_days": 60},
        )
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nowhere", "--max-age-days", "10"), "There is no channel of that name"),
        (("safety", "--unused-days", "400"), "cannot be longer than the maximum age"),
        (("safety", "--max-age-days", "0"), "greater than or equal to 1"),
        (("safety", "--days-after-closure", "-3"), "greater than or equal to 1"),
        (("safety", "--days-after-closure", "many"), "should be a valid integer"),
    ],
)
def test_impossible_policies_are_refused_with_a_sentence_and_nothing_changes(
    cli: Cli, database: Database, database_url: str, args: tuple[str, ...], message: str
) -> None:
    result = cli.safevoice("admin", "channel", *args, "--database", database_url, expect=None)

    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert audit_events(database, "policy.changed") == []
    with database.session(write=False) as session:
        assert service.show_policy(session, name="safety").max_age_days == 365


def test_g2_retention_has_a_default_so_every_case_gets_a_deadline(database: Database) -> None:
    """A channel cannot be configured without a policy, so no case is ever kept forever."""
    with database.unit_of_work() as session, pytest.raises(ConfigError, match="retention policy"):
        intake.seed_channels(session, [{"name": "hr", "title": "HR"}])
    cases = [
        insert_case(database, date(2026, 3, 1)),
        insert_case(database, date(2026, 3, 1), channel="safety", ack_after=2),
        insert_case(database, date(2026, 3, 1), ack_after=2, close_after=40),
    ]
    with database.session(write=False) as session:
        view = service.overview(session, today=date(2026, 3, 2))
    due = {c.case_id: (c.policy, c.due_on) for c in view.cases}
    assert due == {
        cases[0]: ("unused", date(2026, 5, 30)),
        cases[1]: ("max_age", date(2027, 3, 1)),
        cases[2]: ("after_closure", date(2026, 6, 9)),
    }


def test_g3_a_jurisdictions_profile_deletes_two_months_after_closure_and_keeps_three_years(
    cli: Cli, database: Database, database_url: str, tmp_path: Path
) -> None:
    """E.g. deletion within 2 months of closure when nothing follows; 3-year documentation."""
    cli.safevoice(
        "admin",
        "channel",
        "general",
        "--days-after-closure",
        "61",
        "--max-age-days",
        "1096",
        "--unused-days",
        "1096",
        "--database",
        database_url,
    )
    received = date(2026, 1, 5)
    closed = insert_case(database, received, ack_after=2, close_after=30)
    documented = insert_case(database, received, ack_after=2)
    spec = f"fs:{tmp_path / 'blobs'}"

    from safevoice.cli.retention import purge_all

    closure = received + timedelta(days=30)
    assert purge_all(database, spec, now=noon(closure + timedelta(days=60))).purged == 0
    assert purge_all(database, spec, now=noon(closure + timedelta(days=61))).purged == 1
    assert purge_all(database, spec, now=noon(date(2029, 1, 4))).purged == 0
    assert purge_all(database, spec, now=noon(date(2029, 1, 5))).purged == 1
    stones = tombstones(database)
    assert (stones[closed].policy, stones[closed].purged_on) == ("after_closure", date(2026, 4, 6))
    assert (stones[documented].policy, stones[documented].purged_on) == (
        "max_age",
        date(2029, 1, 5),
    )


def test_the_run_prunes_expired_short_lived_rows_and_unfinished_uploads(
    cli: Cli, database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    spec = f"fs:{tmp_path / 'blobs'}"
    blobs = open_blob_store(spec, database)
    with database.unit_of_work() as session:
        for offset, tag in ((-1, b"old"), (1, b"new")):
            moment = now + timedelta(hours=offset)
            session.add(SpentChallenge(digest=tag * 8, expires_at=moment))
            session.add(
                IdempotencyKey(
                    key_digest=tag * 8, request_digest=b"r", response=b"{}", expires_at=moment
                )
            )
            session.add(
                LoginSession(
                    token_digest=tag * 8, role="member", subject="alice", expires_at=moment
                )
            )
            upload_id = ("O" if offset < 0 else "N") * 22
            session.add(Upload(id=upload_id, case_id="C" * 22, received=1, expires_at=moment))
    blobs.put_chunk("O" * 22, 0, b"stale chunk")
    blobs.put_chunk("N" * 22, 0, b"fresh chunk")
    monkeypatch.setenv("SAFEVOICE_BLOB_STORE", spec)

    result = cli.safevoice("retention", "run", "--json", "--database", database_url)

    counts = json.loads(result.stdout)
    assert counts["purged"] == 0
    assert counts["pruned"] == {
        "challenges": 1,
        "idempotency_keys": 1,
        "sessions": 1,
        "uploads": 1,
    }
    with database.session(write=False) as session:
        for model in (SpentChallenge, IdempotencyKey, LoginSession, Upload):
            assert session.scalar(select(func.count()).select_from(model)) == 1
    assert not (tmp_path / "blobs" / ("O" * 22)).exists()
    assert blobs.get_chunk("N" * 22, 0) == b"fresh chunk"


def test_the_run_command_prints_counts_and_a_dry_run_lists_without_purging(
    cli: Cli, database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = insert_case(database, date(2020, 2, 1), ack_after=1)
    monkeypatch.setenv("SAFEVOICE_BLOB_STORE", f"fs:{tmp_path / 'blobs'}")

    dry = cli.safevoice("retention", "run", "--dry-run", "--database", database_url)
    assert old in dry.stdout
    assert "1 case(s) would be purged (1 max_age); nothing was changed." in dry.stdout
    assert tombstones(database) == {}

    run = cli.safevoice("retention", "run", "--database", database_url)
    assert "Purged 1 case(s)" in run.stdout
    assert "(1 max_age)" in run.stdout
    assert set(tombstones(database)) == {old}


def init_config(path: Path, *, after: int, max_age: int, unused: int) -> Path:
    path.write_text(
        '[[channels]]\nname = "general"\ntitle = "Concerns"\n[channels.retention]\n'
        f"days_after_closure = {after}\nmax_age_days = {max_age}\nunused_days = {unused}\n"
    )
    return path


def test_admin_init_run_again_audits_the_policies_the_configuration_changed(
    cli: Cli, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'instance.sqlite'}"
    env = {"SAFEVOICE_DATABASE_URL": url}
    key_out = ("--instance-key-out", str(tmp_path / "instance.pub.json"))
    config = tmp_path / "instance.toml"
    init_config(config, after=60, max_age=1095, unused=90)
    cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env)
    cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env)
    database = Database.connect(url, pool_size=1)
    try:
        assert audit_events(database, "policy.changed") == []

        init_config(config, after=30, max_age=1095, unused=90)
        cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env)
        wrong = init_config(tmp_path / "wrong.toml", after=30, max_age=100, unused=200)
        refused = cli.safevoice(
            "admin", "init", "--config", str(wrong), *key_out, env=env, expect=1
        )

        (entry,) = audit_events(database, "policy.changed")
        assert entry["detail"]["days_after_closure"] == 30
        assert "The retention policy of channel 'general' is wrong" in refused.stderr
        with database.session(write=False) as session:
            assert service.show_policy(session, name="general").max_age_days == 1095
    finally:
        database.dispose()
