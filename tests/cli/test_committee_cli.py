"""The committee's and operator's command-line tools, against the real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safevoice.crypto.keys import format_fingerprint
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.server import ServerProcess
from tests.support.world import World


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"where": "Lab 2", "ongoing": "Yes"}))
    return path


def login(cli: Cli, server: ServerProcess, world: World, member: str = "alice") -> None:
    cli.safevoice(
        "login",
        "--server",
        server.url,
        "--key",
        str(world.key_file(member)),
        "--pin",
        format_fingerprint(world.pin),
    )


def test_a_member_lists_and_reads_a_case_with_answers_and_verified_signature(
    cli: Cli, server: ServerProcess, world: World, answers: Path
) -> None:
    case_id = submit_with_cli(cli, server, world, "Samples are mislabelled.", answers=answers)[
        "case_id"
    ]
    login(cli, server, world)

    listed = json.loads(cli.safevoice("cases", "list", "--json").stdout)
    shown = cli.safevoice("cases", "show", case_id).stdout

    entry = next(c for c in listed if c["id"] == case_id)
    assert entry["status"] == "received"
    assert entry["channel"] == "general"
    assert entry["ack_due_on"]
    assert entry["feedback_due_on"]
    assert "Samples are mislabelled." in shown
    assert "where: Lab 2" in shown
    assert "signature verified" in shown


def test_the_pin_is_required_on_first_login_and_remembered_afterwards(
    cli: Cli, server: ServerProcess, world: World
) -> None:
    first = cli.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file("alice")), expect=1
    )
    assert "--pin" in first.stderr

    login(cli, server, world)
    again = cli.safevoice("login", "--server", server.url, "--key", str(world.key_file("alice")))

    assert "Logged in" in again.stdout


def test_a_wrong_pin_is_refused_with_a_sentence(
    cli: Cli, server: ServerProcess, world: World
) -> None:
    result = cli.safevoice(
        "login",
        "--server",
        server.url,
        "--key",
        str(world.key_file("alice")),
        "--pin",
        "ab" * 20,
        expect=1,
    )

    assert "not signed by the committee root you pinned" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_passphrase_is_a_sentence_not_a_traceback(
    cli: Cli, server: ServerProcess, world: World
) -> None:
    result = cli.safevoice(
        "login",
        "--server",
        server.url,
        "--key",
        str(world.key_file("alice")),
        "--pin",
        world.pin,
        env={"SAFEVOICE_PASSPHRASE": "not the passphrase"},
        expect=1,
    )

    assert "passphrase does not open" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_a_sentence(cli: Cli, world: World) -> None:
    result = cli.safevoice(
        "login",
        "--server",
        "http://127.0.0.1:9",
        "--key",
        str(world.key_file("alice")),
        "--pin",
        world.pin,
        expect=1,
    )

    assert "Cannot reach the SafeVoice server" in result.stderr


def test_commands_that_need_a_session_say_so(cli: Cli) -> None:
    result = cli.safevoice("cases", "list", expect=1)

    assert "not logged in" in result.stderr


def test_a_member_excluded_from_a_case_is_told_it_does_not_exist(
    cli: Cli, server: ServerProcess, world: World, answers: Path
) -> None:
    case_id = submit_with_cli(
        cli, server, world, "About Bob.", "--exclude", "bob", answers=answers
    )["case_id"]
    login(cli, server, world, "bob")

    listed = json.loads(cli.safevoice("cases", "list", "--json").stdout)
    refused = cli.safevoice("cases", "show", case_id, expect=1)

    assert case_id not in {c["id"] for c in listed}
    assert "no such case, or you are not one of its recipients" in refused.stderr


def test_keys_manifest_and_admin_commands_set_up_an_instance(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "instance.toml"
    config.write_text(
        '[instance]\ntimezone = "Europe/Vienna"\n\n[[channels]]\nname = "general"\n'
        'title = "Concerns"\n[channels.retention]\ndays_after_closure = 60\n'
        "max_age_days = 1095\nunused_days = 90\n"
    )
    database = f"sqlite:///{tmp_path / 'instance.sqlite'}"
    env = {"SAFEVOICE_DATABASE_URL": database}

    cli.safevoice("admin", "init", "--config", str(config), env=env)
    cli.safevoice("keys", "generate", "root", "Committee Root", "--out", "keys")
    cli.safevoice("keys", "generate", "member", "Dana Ortiz", "--out", "keys")
    signed = cli.safevoice(
        "manifest",
        "sign",
        "--root-key",
        "keys/committee-root.key",
        "--member",
        "keys/dana-ortiz.pub.json",
        "--instance-key",
        "keys/instance.pub.json",
        "--out",
        "keys/manifest.json",
    )
    published = cli.safevoice("manifest", "publish", "keys/manifest.json", env=env)
    shown = json.loads(cli.safevoice("manifest", "show", "keys/manifest.json", "--json").stdout)

    assert "version 1" in signed.stdout
    assert "Published manifest version 1" in published.stdout
    assert [m["id"] for m in shown["members"]] == ["dana-ortiz"]
    again = cli.safevoice("keys", "generate", "member", "Dana Ortiz", "--out", "keys", expect=1)
    assert "never overwrites" in again.stderr
    renewed = cli.safevoice(
        "manifest",
        "sign",
        "--root-key",
        "keys/committee-root.key",
        "--previous",
        "keys/manifest.json",
        "--out",
        "keys/manifest-2.json",
    )
    assert "version 2" in renewed.stdout
    cli.safevoice("manifest", "publish", "keys/manifest-2.json", env=env)
    stale = cli.safevoice("manifest", "publish", "keys/manifest.json", env=env, expect=1)
    assert "not newer" in stale.stderr


def test_admin_init_refuses_a_channel_without_a_retention_policy(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "instance.toml"
    config.write_text('[[channels]]\nname = "general"\ntitle = "Concerns"\n')

    result = cli.safevoice(
        "admin",
        "init",
        "--config",
        str(config),
        "--instance-key-out",
        str(tmp_path / "i.pub.json"),
        env={"SAFEVOICE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"},
        expect=1,
    )

    assert "retention" in result.stderr


def test_the_demo_prepares_keys_a_database_and_a_manifest_it_can_reuse(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    first = cli.safevoice("demo", "--prepare-only")
    second = cli.safevoice("demo", "--prepare-only")

    assert "safevoice-report" in first.stdout
    assert "cases show CASE_ID" in first.stdout
    assert (tmp_path / "keys/demo/alice.key").exists()
    assert (tmp_path / "var/demo/safevoice.sqlite").exists()
    pin = next(line for line in first.stdout.splitlines() if "fingerprint" in line).split()[-1]
    assert pin in second.stdout


def test_login_after_an_expired_session_remembers_the_server_and_the_key(
    cli: Cli, server: ServerProcess, world: World
) -> None:
    login(cli, server, world)
    state_file = next(cli.home.glob("*.json"))
    state = json.loads(state_file.read_text())
    for remembered in state["servers"].values():
        remembered["token_expires_at"] = "2000-01-01T00:00:00+00:00"
    state_file.write_text(json.dumps(state))
    expired = cli.safevoice("cases", "list", expect=1)
    assert "run `safevoice login` again" in expired.stderr

    again = cli.safevoice("login")

    assert f"Logged in to {server.url}" in again.stdout
    assert cli.safevoice("cases", "list", "--json").stdout.startswith("[")


def test_login_the_first_time_asks_for_the_server_and_the_key_in_a_sentence(cli: Cli) -> None:
    result = cli.safevoice("login", expect=1)

    assert "--server" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_unique_id_prefix_is_taken_wherever_a_case_id_is(
    cli: Cli, server: ServerProcess, world: World, answers: Path
) -> None:
    case_id = submit_with_cli(cli, server, world, "Prefixes.", answers=answers)["case_id"]
    login(cli, server, world)
    prefix = case_id[:10]

    shown = cli.safevoice("cases", "show", prefix).stdout
    files = cli.safevoice("cases", "files", prefix, "--json").stdout
    claimed = cli.safevoice("cases", "claim", prefix).stdout
    unknown = cli.safevoice("cases", "show", "~~~~", expect=1)

    assert "Prefixes." in shown
    assert case_id in shown
    assert json.loads(files) == []
    assert f"You now handle case {case_id}." in claimed
    assert "No case you can read has an id starting with ~~~~." in unknown.stderr

    # An action's id is taken by a unique prefix too, as `actions list` prints it.
    planned = cli.safevoice(
        "actions",
        "add",
        prefix,
        "--owner",
        "alice",
        "--due",
        "2030-01-31",
        "--description-file",
        "-",
        stdin="Replace the guard rail.",
    ).stdout
    action_id = planned.split("Planned action ", 1)[1].split(" ", 1)[0]
    moved = cli.safevoice("actions", "update", action_id[:8], "--state", "in_progress").stdout
    missing = cli.safevoice("actions", "update", "~~~~", "--state", "done", expect=1)

    assert f"Action {action_id} is now in_progress." in moved
    assert "There is no such action among the cases you can read." in missing.stderr


def test_an_ambiguous_prefix_is_refused_with_the_candidates() -> None:
    from safevoice.client.member import unique_match
    from safevoice.errors import BadRequest, NotFound

    ids = ["abcdef", "abcxyz", "zzz"]
    assert unique_match("abcd", ids, what="case") == "abcdef"
    assert unique_match("zzz", ids, what="case") == "zzz"
    with pytest.raises(BadRequest) as several:
        unique_match("abc", ids, what="case")
    assert "2 cases have an id starting with abc (abcdef, abcxyz)" in several.value.message
    with pytest.raises(NotFound):
        unique_match("q", ids, what="case")


def test_a_member_records_a_legal_ground_for_disclosure_before_disclosing(
    cli: Cli, server: ServerProcess, world: World, answers: Path
) -> None:
    case_id = submit_with_cli(cli, server, world, "Disclosure.", answers=answers)["case_id"]
    login(cli, server, world)

    neither = cli.safevoice("cases", "disclose", case_id, expect=1)
    recorded = cli.safevoice(
        "cases", "disclose", case_id[:8], "--legal-ground", "Order 12 O 34/27", "--json"
    )
    said = cli.safevoice("cases", "disclose", case_id, "--consent-message", "0", expect=1)

    assert "--consent-message N or --legal-ground" in neither.stderr
    answer = json.loads(recorded.stdout)
    assert (answer["case_id"], answer["basis"]) == (case_id, "legal_obligation")
    assert "Traceback" not in said.stderr
