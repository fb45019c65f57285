"""The key lifecycle end to end, with the real server and the real command-line tools.

Each test gets its own server on its own database, because it changes the committee's manifest:
a member removed, a key rotated or lost, the root handed over, the archive recipient enabled.
Whether a key still opens a case is checked against the raw database rows, not against what
the server chooses to show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from safevoice.client.state import State
from safevoice.clock import utcnow
from safevoice.crypto.casefile import REPORTER
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import unwrap_case_keys
from safevoice.crypto.keys import KeyPair, generate, open_keyfile
from safevoice.crypto.manifest import (
    Manifest,
    SignedManifest,
    parse_payload,
    sign_manifest,
    successor,
)
from safevoice.errors import SafeVoiceError
from safevoice.protocol.reader import read_objects
from safevoice.protocol.wire import CaseObjectOut
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.support.canary import new_canary
from tests.support.databases import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.world import PASSPHRASE, World, write_keyfile

pytestmark = pytest.mark.e2e


@pytest.fixture
def fresh(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own (two workers) that sees a newly published manifest at once."""
    url = db_factory.clone()
    process = ServerProcess.start(
        url, tmp_path / "server", extra_env={"SAFEVOICE_SNAPSHOT_TTL_MS": "0"}
    )
    yield process
    process.stop()
    db_factory.drop(url)


@pytest.fixture
def rows(fresh: ServerProcess) -> Iterator[Database]:
    database = Database.connect(fresh.database_url, pool_size=1)
    yield database
    database.dispose()


@dataclass
class Committee:
    """The committee's offline machine, the operator, members and a reporter, all by CLI."""

    cli: Cli
    server: ServerProcess
    world: World
    folder: Path
    root_key: Path
    version: int = 1

    def as_member(
        self, who: str, *args: str, expect: int | None = 0, stdin: str | None = None
    ) -> Any:
        return self.cli.safevoice(
            *args, expect=expect, stdin=stdin, env={"SAFEVOICE_HOME": str(self.cli.home / who)}
        )

    def login(self, who: str, key: Path, *, expect: int = 0) -> Any:
        return self.as_member(
            who,
            "login",
            "--server",
            self.server.url,
            "--key",
            str(key),
            "--pin",
            self.world.pin,
            expect=expect,
        )

    def current(self) -> Path:
        path = self.folder / f"manifest-{self.version}.json"
        path.write_text(json.dumps(httpx.get(f"{self.server.url}/api/v1/manifest").json()))
        return path

    def manifest(self) -> Manifest:
        return parse_payload(
            SignedManifest.from_json(json.loads(self.current().read_text())).payload
        )

    def change(self, command: str, *args: str, root_key: Path | None = None) -> Any:
        """Sign the next manifest version on the offline machine, then publish it."""
        previous = self.current()
        out = self.folder / f"manifest-{self.version + 1}.json"
        self.cli.safevoice(
            "manifest",
            command,
            *args,
            "--previous",
            str(previous),
            "--root-key",
            str(root_key or self.root_key),
            "--out",
            str(out),
        )
        self.version += 1
        return self.publish(out)

    def publish(self, path: Path, *extra: str) -> Any:
        return self.cli.safevoice(
            "manifest",
            "publish",
            str(path),
            *extra,
            env={"SAFEVOICE_DATABASE_URL": self.server.database_url},
        )

    def submit(self, text_: str, *extra: str) -> dict[str, Any]:
        answers = self.folder / "answers.json"
        answers.write_text(json.dumps({"where": "Depot"}))
        result = self.cli.report(
            "submit",
            "--server",
            self.server.url,
            "--channel",
            "general",
            "--text-file",
            "-",
            "--answers-file",
            str(answers),
            "--json",
            *(extra or ("--pin", self.world.pin)),
            stdin=text_,
        )
        return dict(json.loads(result.stdout))

    def reply(self, who: str, case_id: str, text_: str, *, expect: int = 0) -> Any:
        return self.as_member(
            who, "cases", "reply", case_id, "--text-file", "-", stdin=text_, expect=expect
        )

    def show(self, who: str, case_id: str, *extra: str, expect: int = 0) -> dict[str, Any]:
        result = self.as_member(who, "cases", "show", case_id, "--json", *extra, expect=expect)
        return dict(json.loads(result.stdout)) if expect == 0 else {"stderr": result.stderr}

    def rekey_all(self, who: str, *extra: str, expect: int = 0) -> dict[str, Any]:
        result = self.as_member(who, "cases", "rekey", "--all", "--json", *extra, expect=expect)
        return dict(json.loads(result.stdout))


@pytest.fixture
def committee(cli: Cli, fresh: ServerProcess, world: World, tmp_path: Path) -> Committee:
    folder = tmp_path / "offline"
    folder.mkdir()
    return Committee(cli, fresh, world, folder, world.key_file("root"))


def new_key(folder: Path, kind: str, ident: str) -> tuple[KeyPair, Path]:
    keys = generate(kind, ident, ident.title())
    return keys, write_keyfile(folder, keys)


def texts(shown: dict[str, Any]) -> list[str]:
    return [str(o.get("text") or "") for o in shown["objects"]]


def opens_with(
    box_secret: bytes, database: Database, case_id: str, manifest: Manifest, labels: list[str]
) -> list[str] | None:
    """Try a private key against every wrapped-key row of the case under every given label;
    with a key that opens, read what the same rows allow (report text, messages, problems)."""
    with database.reader.connect() as connection:
        wraps = connection.execute(
            text("SELECT epoch, sealed FROM wrapped_key WHERE case_id = :id"), {"id": case_id}
        ).all()
        objects = [
            CaseObjectOut.model_validate({"chain": c, "seq": s, "envelope": json.loads(bytes(e))})
            for c, s, e in connection.execute(
                text("SELECT chain, seq, envelope FROM case_object WHERE case_id = :id"),
                {"id": case_id},
            ).all()
        ]
        epoch = connection.execute(
            text("SELECT epoch FROM case_file WHERE id = :id"), {"id": case_id}
        ).scalar_one()
    for wrap_epoch, sealed in wraps:
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
            )
            return [o.text or "" for o in read.objects] + read.problems
    return None


def wrapped_epochs(database: Database, case_id: str) -> set[int]:
    with database.reader.connect() as connection:
        return set(
            connection.execute(
                text("SELECT epoch FROM wrapped_key WHERE case_id = :id"), {"id": case_id}
            ).scalars()
        )


def test_after_a_member_is_removed_new_messages_do_not_open_with_their_old_key(
    committee: Committee, world: World, rows: Database
) -> None:
    before, after = new_canary("BEFORE"), new_canary("AFTER")
    case_id = committee.submit("The depot scales are rigged.")["case_id"]
    for who in ("alice", "carol"):
        committee.login(who, world.key_file(who))
    committee.reply("alice", case_id, f"Alice asks {before}")
    committee.reply("carol", case_id, "Carol asks too.")
    with_carol = committee.manifest()
    carol_secret = world.members["carol"].box_secret or b""
    labels = ["member:alice", "member:bob", "member:carol", REPORTER]
    assert opens_with(carol_secret, rows, case_id, with_carol, labels) is not None

    published = committee.change("remove-member", "carol")
    held = committee.reply("alice", case_id, "Too early.", expect=1)
    gone = committee.as_member("carol", "cases", "list", expect=1)
    refused = committee.login("carol", world.key_file("carol"), expect=1)
    result = committee.rekey_all("alice")
    committee.reply("alice", case_id, f"Alice asks again {after}")

    assert "1 case(s) wait" in published.stdout
    assert "re-keyed" in held.stderr
    assert "log in again" in gone.stderr or "expired" in gone.stderr
    assert "not enrolled" in refused.stderr
    assert result == {"rekeyed": [case_id], "unchanged": 0, "failed": []}
    without_carol = committee.manifest()
    assert opens_with(carol_secret, rows, case_id, with_carol, labels) is None
    for who in ("alice", "bob"):
        seen = opens_with(
            world.members[who].box_secret or b"", rows, case_id, without_carol, labels
        )
        assert seen is not None
        assert any(before in line for line in seen), seen
        assert any(after in line for line in seen), seen
        assert "Carol asks too." in seen
        assert not [line for line in seen if "does not verify" in line or "unknown" in line]
    shown = committee.show("alice", case_id)
    assert shown["problems"] == []
    assert wrapped_epochs(rows, case_id) == {1}


def test_after_rotating_their_key_a_member_reads_old_and_new_messages_with_the_new_key_only(
    committee: Committee, world: World, rows: Database, tmp_path: Path
) -> None:
    before, after = new_canary("BEFORE"), new_canary("AFTER")
    submitted = committee.submit("Invoices are being back-dated.")
    case_id = submitted["case_id"]
    committee.login("alice", world.key_file("alice"))
    committee.reply("alice", case_id, f"Alice asks {before}")
    new_alice, new_file = new_key(tmp_path / "alice-new", "member", "alice")
    old_secret = world.members["alice"].box_secret or b""
    labels = ["member:alice", REPORTER]
    assert opens_with(old_secret, rows, case_id, committee.manifest(), labels) is not None

    committee.change("rotate-member-key", str(new_file.with_suffix(".pub.json")))
    committee.login("alice", new_file)
    locked = committee.show("alice", case_id, expect=1)
    committee.server.proxy.clear()
    held = committee.cli.report(
        "follow-up",
        "--server",
        committee.server.url,
        "--pin",
        world.pin,
        "--reply-file",
        "-",
        stdin=submitted["code"] + "\nWritten while Alice's old key may still open the case.",
        expect=1,
    )
    posted = [r.target for r in committee.server.proxy.requests() if r.method == "POST"]
    result = committee.rekey_all("alice", "--old-key", str(world.key_file("alice")))
    committee.reply("alice", case_id, f"Alice asks again {after}")
    shown = committee.show("alice", case_id)

    assert "--old-key" in locked["stderr"]
    assert "renewing the keys of this case" in held.stderr
    assert "/api/v1/reporter/objects" not in posted  # refused by the client, not the server
    assert result == {"rekeyed": [case_id], "unchanged": 0, "failed": []}
    assert shown["problems"] == []
    assert any(before in t for t in texts(shown))
    assert any(after in t for t in texts(shown))
    assert all(o["verified"] for o in shown["objects"])
    rotated = committee.manifest()
    assert opens_with(old_secret, rows, case_id, rotated, labels) is None
    seen = opens_with(new_alice.box_secret or b"", rows, case_id, rotated, labels)
    assert seen is not None
    assert any(before in line for line in seen)
    assert any(after in line for line in seen)


def test_a_lost_key_is_recovered_through_another_member(
    committee: Committee, world: World, rows: Database, tmp_path: Path
) -> None:
    before, after = new_canary("BEFORE"), new_canary("AFTER")
    shared = committee.submit("A supplier is paying bribes.")["case_id"]
    without_bob = committee.submit("About Bob.", "--pin", world.pin, "--exclude", "bob")["case_id"]
    committee.login("bob", world.key_file("bob"))
    committee.login("alice", world.key_file("alice"))
    committee.reply("bob", shared, f"Bob asks {before}")
    new_bob, new_file = new_key(tmp_path / "bob-new", "member", "bob")

    committee.change("rotate-member-key", str(new_file.with_suffix(".pub.json")))
    result = committee.rekey_all("alice")
    committee.reply("alice", shared, f"Alice asks {after}")
    committee.login("bob", new_file)
    shown = committee.show("bob", shared)

    assert result == {"rekeyed": [shared], "unchanged": 1, "failed": []}
    assert shown["problems"] == []
    assert any(before in t for t in texts(shown))
    assert any(after in t for t in texts(shown))
    assert without_bob not in {
        c["id"] for c in json.loads(committee.as_member("bob", "cases", "list", "--json").stdout)
    }
    labels = ["member:bob", REPORTER]
    assert (
        opens_with(
            world.members["bob"].box_secret or b"", rows, shared, committee.manifest(), labels
        )
        is None
    )
    assert opens_with(new_bob.box_secret or b"", rows, shared, committee.manifest(), labels)


def test_a_root_rotation_is_accepted_once_and_the_retired_root_alone_is_refused_after(
    committee: Committee, world: World, tmp_path: Path
) -> None:
    state = tmp_path / "reporter-state"
    submitted = committee.submit(
        "Safety checks are skipped.", "--pin", world.pin, "--state", str(state)
    )
    committee.login("alice", world.key_file("alice"))
    new_root, new_root_file = new_key(tmp_path / "new-root", "root", "root")

    committee.change("sign", "--new-root-key", str(new_root_file))
    synced = committee.as_member("alice", "cases", "sync", "--json")
    follow = committee.cli.report(
        "follow-up",
        "--server",
        committee.server.url,
        "--pin",
        world.pin,
        "--state",
        str(state),
        "--json",
        stdin=submitted["code"] + "\n",
    )

    member_state = State.load(committee.cli.home / "alice").server(committee.server.url)
    reporter_state = State.load(state).server(committee.server.url)
    for remembered in (member_state, reporter_state):
        assert remembered.pin == new_root.public.fingerprint
        assert remembered.former_pins == [world.pin]
    assert {k: json.loads(synced.stdout)[k] for k in ("cases", "failing")} == {
        "cases": 1,
        "failing": [],
    }
    assert json.loads(follow.stdout)["problems"] == []

    rotated = committee.manifest()
    forged = successor(rotated, root=world.pin, now=utcnow(), days=30)
    forged_path = committee.folder / "retired-root-alone.json"
    forged_path.write_text(json.dumps(sign_manifest(forged, [world.root]).to_json()))
    committee.publish(forged_path, "--accept-new-root")  # as a compromised server would
    member_refusal = committee.as_member("alice", "cases", "sync", expect=1)
    reporter_refusal = committee.cli.report(
        "follow-up",
        "--server",
        committee.server.url,
        "--pin",
        world.pin,
        "--state",
        str(state),
        stdin=submitted["code"] + "\n",
        expect=1,
    )

    for refusal in (member_refusal, reporter_refusal):
        assert "not signed by the committee root you pinned" in refusal.stderr


def test_with_the_archive_recipient_a_case_is_read_back_from_shares_after_every_member_key_is_lost(
    committee: Committee, world: World, rows: Database, tmp_path: Path
) -> None:
    secret = new_canary("RETAINED")
    ceremony = tmp_path / "ceremony"
    committee.cli.safevoice(
        "keys", "generate", "archive", "Legal archive", "--id", "archive", "--out", str(ceremony)
    )
    split = json.loads(
        committee.cli.safevoice(
            "keys",
            "split",
            str(ceremony / "archive.key"),
            "--threshold",
            "2",
            "--shares",
            "3",
            "--json",
        ).stdout
    )
    (ceremony / "archive.key").unlink()
    committee.change("set-archive", str(ceremony / "archive.pub.json"))
    submitted = committee.submit(f"Records of the spill were destroyed. {secret}")
    case_id = submitted["case_id"]
    committee.login("alice", world.key_file("alice"))
    committee.reply("alice", case_id, "We are looking into it.")

    replaced = tmp_path / "replaced"
    new_files = {m: new_key(replaced, "member", m)[1] for m in ("alice", "bob", "carol")}
    member_args: list[str] = []
    for path in new_files.values():
        member_args += ["--member", str(path.with_suffix(".pub.json"))]
    committee.change("sign", *member_args)
    committee.login("alice", new_files["alice"])
    stuck = committee.rekey_all("alice", expect=2)

    rebuilt = tmp_path / "rebuilt" / "archive.key"
    combined = committee.cli.safevoice(
        "keys",
        "combine",
        "--public",
        str(ceremony / "archive.pub.json"),
        "--out",
        str(rebuilt),
        stdin="\n".join([split["shares"][2], split["shares"][0]]) + "\n",
    )
    committee.login("archive", rebuilt)
    read_back = committee.show("archive", case_id)
    handed_back = committee.rekey_all("archive")
    shown = committee.show("alice", case_id)

    assert submitted["archive"] is True
    assert [f["id"] for f in stuck["failed"]] == [case_id]
    assert split["fingerprint"] in combined.stdout.replace("-", "")
    assert any(secret in t for t in texts(read_back))
    assert read_back["problems"] == []
    assert handed_back == {"rekeyed": [case_id], "unchanged": 0, "failed": []}
    assert any(secret in t for t in texts(shown))
    assert shown["problems"] == []
    archive_keys = open_keyfile(json.loads(rebuilt.read_text()), PASSPHRASE)
    seen = opens_with(
        archive_keys.box_secret or b"", rows, case_id, committee.manifest(), ["archive:archive"]
    )
    assert seen is not None
    assert any(secret in line for line in seen)
