"""The offline half of the key ceremonies: root and archive shares, and manifest changes.

These commands run on the committee's offline machine and touch no server: the shares of a
3-of-5 root backup, and each manifest change producing the next version signed by the root.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from safevoice.crypto.keys import format_fingerprint, generate, open_keyfile
from safevoice.crypto.manifest import SignedManifest, parse_payload
from tests.conftest import Cli
from tests.support.world import PASSPHRASE, World, write_keyfile


def split_root(cli: Cli, world: World, threshold: int, shares: int) -> list[str]:
    result = cli.safevoice(
        "keys",
        "split",
        str(world.key_file("root")),
        "--threshold",
        str(threshold),
        "--shares",
        str(shares),
        "--json",
    )
    data = json.loads(result.stdout)
    assert data["fingerprint"] == world.pin
    return list(data["shares"])


def combine(cli: Cli, world: World, shares: list[str], *args: str, expect: int = 0) -> Any:
    return cli.safevoice(
        "keys",
        "combine",
        "--public",
        str(world.key_dir / "root.pub.json"),
        *(args or ("--check",)),
        stdin="\n".join(shares) + "\n",
        expect=expect,
    )


def test_every_three_of_five_root_shares_rebuild_the_root_and_every_two_are_refused(
    cli: Cli, world: World, tmp_path: Path
) -> None:
    shares = split_root(cli, world, 3, 5)

    rebuilt = [combine(cli, world, list(s)) for s in itertools.combinations(shares, 3)]
    refused = [combine(cli, world, list(s), expect=1) for s in itertools.combinations(shares, 2)]
    written = combine(cli, world, shares[2:], "--out", str(tmp_path / "root.key"))

    fingerprint = "-".join(world.pin[i : i + 4] for i in range(0, 40, 4))
    assert len(rebuilt) == 10
    assert all(fingerprint in r.stdout for r in rebuilt)
    assert len(refused) == 10
    for r in refused:
        assert r.stderr.startswith("Error: 2 different shares are not enough"), r.stderr
        assert "needs 3" in r.stderr
        assert r.stdout == ""
    assert fingerprint in written.stdout
    reopened = open_keyfile(json.loads((tmp_path / "root.key").read_text()), PASSPHRASE)
    assert reopened == world.root


def test_the_shares_are_printed_as_numbered_word_lists_that_type_back(
    cli: Cli, world: World
) -> None:
    printed = cli.safevoice(
        "keys", "split", str(world.key_file("root")), "--threshold", "2", "--shares", "2"
    ).stdout
    sheets = printed.split("Share ")[1:]
    typed = [" ".join(sheet.splitlines()[1:]).split("Check the paper")[0] for sheet in sheets]

    assert "Any 2 of these 2 shares rebuild the key" in printed
    assert " 1 " in typed[0]
    assert "Then keep" in printed
    assert "rebuild the root key" in combine(cli, world, typed).stdout


def test_splitting_and_combining_refuse_what_would_go_wrong(
    cli: Cli, world: World, tmp_path: Path
) -> None:
    member = cli.safevoice(
        "keys",
        "split",
        str(world.key_file("alice")),
        "--threshold",
        "2",
        "--shares",
        "3",
        expect=1,
    )
    shares = split_root(cli, world, 2, 3)
    existing = tmp_path / "root.key"
    existing.write_text("{}")
    neither = cli.safevoice(
        "keys", "combine", "--public", str(world.key_dir / "root.pub.json"), expect=1
    )
    overwrite = combine(cli, world, shares[:2], "--out", str(existing), expect=1)
    other = split_root(cli, world, 2, 3)
    mixed = combine(cli, world, [shares[0], other[1]], expect=1)
    typo = combine(
        cli, world, [shares[0], shares[1].replace(shares[1].split()[5], "zzz")], expect=1
    )
    archive = generate("archive", "archive", "Archive")
    write_keyfile(tmp_path / "archive", archive)
    wrong_key = cli.safevoice(
        "keys",
        "combine",
        "--public",
        str(tmp_path / "archive" / "archive.pub.json"),
        "--check",
        stdin="\n".join(shares[:2]),
        expect=1,
    )

    assert "Only the committee root key and the archive key" in member.stderr
    assert "--out FILE" in neither.stderr
    assert "never overwrites" in overwrite.stderr
    assert "different backup" in mixed.stderr
    assert "Share 2 is not a valid share" in typo.stderr
    assert "another kind" in wrong_key.stderr
    assert existing.read_text() == "{}"


@pytest.fixture
def offline(world: World, tmp_path: Path) -> Path:
    """A signed first manifest on the committee's offline machine."""
    instance = generate("instance", "instance", "Instance")
    _, signed = world.manifest(instance.public.sign_key)
    path = tmp_path / "manifest-1.json"
    path.write_text(json.dumps(signed.to_json()))
    return path


def change(
    cli: Cli, world: World, previous: Path, command: str, *args: str, expect: int = 0
) -> tuple[Any, Path]:
    out = previous.with_name(f"{command}-{previous.name}")
    result = cli.safevoice(
        "manifest",
        command,
        *args,
        "--previous",
        str(previous),
        "--root-key",
        str(world.key_file("root")),
        "--out",
        str(out),
        expect=expect,
    )
    return result, out


def payload(path: Path) -> Any:
    return parse_payload(SignedManifest.from_json(json.loads(path.read_text())).payload)


def test_each_membership_change_is_the_next_version_signed_by_the_root(
    cli: Cli, world: World, offline: Path, tmp_path: Path
) -> None:
    dana = generate("member", "dana", "Dana")
    new_alice = generate("member", "alice", "Alice")
    archive = generate("archive", "archive", "Legal archive")
    for keys in (dana, new_alice, archive):
        write_keyfile(tmp_path / keys.public.kind / keys.public.id, keys)
    pub = {
        k.public.id: tmp_path / k.public.kind / k.public.id / f"{k.public.id}.pub.json"
        for k in (dana, new_alice, archive)
    }

    added_out, added = change(cli, world, offline, "add-member", str(pub["dana"]))
    rotated_out, rotated = change(cli, world, added, "rotate-member-key", str(pub["alice"]))
    removed_out, removed = change(cli, world, rotated, "remove-member", "bob")
    _, archived = change(cli, world, removed, "set-archive", str(pub["archive"]))
    _, unarchived = change(cli, world, archived, "set-archive", "--off")
    shown = json.loads(cli.safevoice("manifest", "show", str(archived), "--json").stdout)

    assert [payload(p).version for p in (added, rotated, removed, archived, unarchived)] == [
        2,
        3,
        4,
        5,
        6,
    ]
    assert [m.id for m in payload(added).members] == ["alice", "bob", "carol", "dana"]
    assert (
        f"Compare the fingerprint {format_fingerprint(dana.public.fingerprint)} with Dana over a "
        "second channel before publishing." in added_out.stdout
    )
    assert (
        f"Compare the new fingerprint {format_fingerprint(new_alice.public.fingerprint)} with "
        "Alice over a second channel before publishing." in rotated_out.stdout
    )
    assert payload(rotated).member("alice") == new_alice.public
    assert [m.id for m in payload(removed).members] == ["alice", "carol", "dana"]
    assert "cases rekey --all" in removed_out.stdout
    assert payload(archived).archive == archive.public
    assert payload(unarchived).archive is None
    retired = {(r.label, r.until_version) for r in payload(unarchived).retired}
    assert retired == {("member:alice", 3), ("member:bob", 4), ("archive:archive", 6)}
    assert shown["archive"]["id"] == "archive"
    assert {r["label"] for r in shown["retired"]} == {"member:alice", "member:bob"}
    assert payload(unarchived).instance_salt == payload(offline).instance_salt


def test_membership_changes_that_make_no_sense_are_refused_with_a_sentence(
    cli: Cli, world: World, offline: Path, tmp_path: Path
) -> None:
    other_root = generate("root", "root", "Other root")
    other_root_file = write_keyfile(tmp_path / "other", other_root)
    write_keyfile(tmp_path / "alice-again", world.members["alice"])
    stranger = generate("member", "erin", "Erin")
    write_keyfile(tmp_path / "erin", stranger)

    again, _ = change(
        cli,
        world,
        offline,
        "add-member",
        str(tmp_path / "alice-again" / "alice.pub.json"),
        expect=1,
    )
    same_key, _ = change(
        cli,
        world,
        offline,
        "rotate-member-key",
        str(tmp_path / "alice-again" / "alice.pub.json"),
        expect=1,
    )
    unknown, _ = change(
        cli, world, offline, "rotate-member-key", str(tmp_path / "erin" / "erin.pub.json"), expect=1
    )
    nobody, _ = change(cli, world, offline, "remove-member", "erin", expect=1)
    not_archive, _ = change(
        cli, world, offline, "set-archive", str(tmp_path / "erin" / "erin.pub.json"), expect=1
    )
    no_archive, _ = change(cli, world, offline, "set-archive", "--off", expect=1)
    foreign = cli.safevoice(
        "manifest",
        "remove-member",
        "bob",
        "--previous",
        str(offline),
        "--root-key",
        str(other_root_file),
        "--out",
        str(tmp_path / "never.json"),
        expect=1,
    )

    assert "already in the manifest" in again.stderr
    assert "generate a new key pair" in same_key.stderr
    assert "add-member" in unknown.stderr
    assert "no member 'erin'" in nobody.stderr
    assert "not an archive key" in not_archive.stderr
    assert "names no archive recipient" in no_archive.stderr
    assert "not to this root key" in foreign.stderr
    assert not (tmp_path / "never.json").exists()


def test_renewing_with_a_replaced_member_key_says_the_cases_must_be_re_keyed(
    cli: Cli, world: World, offline: Path, tmp_path: Path
) -> None:
    write_keyfile(tmp_path / "new", generate("member", "bob", "Bob"))

    replaced, _ = change(
        cli, world, offline, "sign", "--member", str(tmp_path / "new/bob.pub.json")
    )
    renewed, _ = change(cli, world, offline, "sign")

    assert "cases rekey --all" in replaced.stdout
    assert "cases rekey --all" not in renewed.stdout
