"""A committee member syncs realistic cases: 10,000 by default (DESIGN.md, Performance: ≤ 10 s;
100,000 ≤ 60 s with --cases 100000).

Creates an instance on SQLite whose cases look like real ones, written straight into the
database: each a report of a few hundred words encrypted to three members, a member's question,
the reporter's answer, a signed acknowledgement, a member's reply in the thread, and in the
committee's chain a triage note and a corrective action (with its row). They arrived over the
past year, and each was last changed a few days after it arrived. Then the real server starts,
a member logs in with the real CLI and the benchmark times:

- the first `safevoice cases sync`, which fetches every case, checks every signature and
  chain, and decrypts everything on the member's machine;
- a second `safevoice cases sync` after a few changes made through the API as members make
  them (replies, notes, an action moved on), which fetches and verifies only what changed;
  `cli_start_s` is what `safevoice --help` takes, the command line's own start, for comparison.

Usage: .venv/bin/python -m benchmarks.committee [--cases 10000] [--changes 20] [--allow-busy]
Prints its figures and one JSON object on its last line.
The last line carries the load average at the start and the end; timings from a machine
busier than its cores are withheld (null, exit status 3) unless --allow-busy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

from benchmarks.harness import (
    BIN,
    Instance,
    LoadWatch,
    add_busy_option,
    fresh_database,
    running_server,
    safevoice_server,
    set_up,
)
from benchmarks.ingest import random_reporter
from safevoice.cases.models import Case, CaseObject, CorrectiveAction, StatusChange, WrappedKey
from safevoice.client import member
from safevoice.clock import utcnow
from safevoice.crypto.casefile import (
    ACTION_FORMAT,
    NOTE_FORMAT,
    STATUS_FORMAT,
    body_plaintext,
    create_case,
    member_label,
    message_plaintext,
)
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64e, canonical_json
from safevoice.crypto.envelope import GENESIS, CaseKeys, Envelope, seal
from safevoice.crypto.keys import KeyPair, open_keyfile, seal_keyfile
from safevoice.crypto.login import random_id
from safevoice.protocol import deadlines
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.reader import ReadCase
from safevoice.storage.batch import RowWriter
from safevoice.storage.db import Database

PASSPHRASE = "benchmark passphrase"  # noqa: S105 - a throwaway key made for this run
BATCH = 1000
TEXT = (
    "the night shift skipped the pressure test on line four again because the supervisor said "
    "the order was late and nobody wanted to be the one who stopped the belt; two of us saw the "
    "gauge above the red mark and the log was filled in afterwards as if everything was normal"
)
WORDS = TEXT.split()

Rows = dict[type, list[dict[str, object]]]


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count)).capitalize() + "."


class Chain:
    """One of a case's two chains while it is being written: its next position and head."""

    def __init__(self, case_id: bytes, key: bytes, *, seq: int = 0, head: bytes = GENESIS):
        self.case_id, self.key, self.seq, self.head = case_id, key, seq, head
        self.objects: list[Envelope] = []

    def add(self, kind: str, plaintext: bytes, *, sender: str, sign_seed: bytes) -> Envelope:
        """A member's object at the chain's next position."""
        envelope = seal(
            self.key,
            plaintext,
            case_id=self.case_id,
            kind=kind,
            sender=sender,
            seq=self.seq,
            prev=self.head,
            epoch=0,
            sign_seed=sign_seed,
        )
        return self._append(envelope)

    def add_reporter_message(self, text: str, reporter: ReporterKeys) -> Envelope:
        """The reporter's next message in this thread, sealed by the reporter's own step. The
        benchmark wrote the thread itself, so its head is known without reading the case."""
        read = ReadCase(
            report=None,
            objects=[],
            problems=[],
            heads={"thread": (self.seq - 1, self.head)},
            keys=CaseKeys(thread=self.key, committee=None),
        )
        return self._append(
            reporter_steps.next_message(read, reporter, case_id=self.case_id, epoch=0, text=text)
        )

    def _append(self, envelope: Envelope) -> Envelope:
        self.objects.append(envelope)
        self.seq, self.head = self.seq + 1, envelope.transcript_hash()
        return envelope


def object_rows(case_id: str, chain: str, envelopes: list[Envelope]) -> list[dict[str, object]]:
    return [
        {
            "id": random_id(),
            "case_id": case_id,
            "chain": chain,
            "seq": e.seq,
            "kind": e.kind,
            "sender": e.sender,
            "epoch": e.epoch,
            "envelope": canonical_json(e.to_json()),
            "hash": e.transcript_hash(),
        }
        for e in envelopes
    ]


def realistic_case(
    inst: Instance, rng: random.Random, reporter: ReporterKeys, today: date, rows: Rows
) -> None:
    """One case as a year of real work leaves it, every object encrypted and signed."""
    handler = inst.members[0]
    by = member_label(handler.public.id)
    received = today - timedelta(days=rng.randrange(10, 365))
    acknowledged = received + timedelta(days=rng.randrange(1, 7))
    new = create_case(inst.manifest, reporter, channel="general", text=words(rng, 250))
    case_id = b64e(new.case_id)
    thread = Chain(new.case_id, new.keys.thread, seq=1, head=new.report.transcript_hash())
    assert new.keys.committee is not None
    committee = Chain(new.case_id, new.keys.committee)
    sign = handler.sign_seed
    thread.add("message", message_plaintext(words(rng, 40) + "?"), sender=by, sign_seed=sign)
    thread.add_reporter_message(words(rng, 80), reporter)
    last_reporter_seq = thread.seq - 1
    committee.add(
        "note", body_plaintext(NOTE_FORMAT, text=words(rng, 60)), sender=by, sign_seed=sign
    )
    action_id, due = random_id(), acknowledged + timedelta(days=30)
    committee.add(
        "action",
        body_plaintext(
            ACTION_FORMAT,
            action_id=action_id,
            owner=handler.public.id,
            due_on=due.isoformat(),
            description=words(rng, 30),
        ),
        sender=by,
        sign_seed=sign,
    )
    feedback_due = deadlines.feedback_due(received, acknowledged)
    thread.add(
        "status",
        body_plaintext(
            STATUS_FORMAT,
            status="acknowledged",
            outcome=None,
            on=acknowledged.isoformat(),
            text=words(rng, 40),
            received_on=received.isoformat(),
            intake_mode="e2e",
            feedback_due=feedback_due.isoformat(),
            committee_head=[committee.seq - 1, b64e(committee.head)],
        ),
        sender=by,
        sign_seed=sign,
    )
    thread.add("message", message_plaintext(words(rng, 50)), sender=by, sign_seed=sign)
    rows[Case].append(
        {
            "id": case_id,
            "channel": "general",
            "status": "acknowledged",
            "intake_mode": "e2e",
            "received_on": received,
            "ack_due_on": deadlines.ack_due(received),
            "feedback_due_on": feedback_due,
            "acknowledged_on": acknowledged,
            "feedback_on": acknowledged,
            "closed_on": None,
            "outcome": None,
            "handler": handler.public.id,
            "epoch": 0,
            "reply_key": reporter.reply_public,
            "sign_key": reporter.sign_public,
            "thread_next": thread.seq,
            "last_reporter_seq": last_reporter_seq,
            "thread_head": thread.head,
            "committee_next": committee.seq,
            "committee_head": committee.head,
            "version": 1 + len(thread.objects) + len(committee.objects),
            "changed_on": acknowledged + timedelta(days=2),
        }
    )
    rows[CaseObject] += object_rows(case_id, "thread", [new.report, *thread.objects])
    rows[CaseObject] += object_rows(case_id, "committee", committee.objects)
    rows[WrappedKey] += [
        {"case_id": case_id, "epoch": 0, "recipient": label, "sealed": sealed}
        for label, sealed in new.wrapped.items()
    ]
    rows[StatusChange].append(
        {"id": random_id(), "case_id": case_id, "status": "acknowledged", "on": acknowledged}
    )
    rows[CorrectiveAction].append(
        {
            "id": action_id,
            "case_id": case_id,
            "owner": handler.public.id,
            "due_on": due,
            "state": "planned",
            "created_on": acknowledged,
            "done_on": None,
        }
    )


def populate(url: str, count: int) -> Path:
    inst = set_up(url)
    database = Database.connect(url, pool_size=2)
    writer = RowWriter(database)
    rng = random.Random(1937)
    today = utcnow().date()
    rows: Rows = {m: [] for m in (Case, CaseObject, WrappedKey, StatusChange, CorrectiveAction)}
    for i in range(count):
        realistic_case(inst, rng, random_reporter(), today, rows)
        if (i + 1) % BATCH == 0 or i + 1 == count:
            writer.write([(model, values) for model, values in rows.items() if values])
            rows = {model: [] for model in rows}
    database.dispose()
    folder = Path(tempfile.mkdtemp(prefix="sv-committee-"))
    for keys, name in zip(inst.members, ("member.key", "other.key"), strict=False):
        # A light key-file derivation: the benchmark measures syncing, not opening key files.
        sealed = seal_keyfile(keys, PASSPHRASE, opslimit=1, memlimit=8192)
        (folder / name).write_text(json.dumps(sealed))
    (folder / "pin").write_text(inst.root.public.fingerprint)
    return folder


class Populated(NamedTuple):
    url: str
    folder: Path  # two members' key files ("member.key", "other.key") and the root pin ("pin")
    seconds: float  # how long filling the database took


@contextmanager
def populated_instance(cases: int) -> Iterator[Populated]:
    """A fresh SQLite instance holding ``cases`` realistic encrypted cases, dropped afterwards."""
    with fresh_database("sqlite") as url:
        started = time.monotonic()
        folder = populate(url, cases)
        yield Populated(url, folder, time.monotonic() - started)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "safevoice"), *args], env=env, check=False, capture_output=True, text=True
    )


def timed_sync(env: dict[str, str], *args: str) -> tuple[float, dict[str, object]]:
    started = time.monotonic()
    synced = cli(env, "cases", "sync", "--json", *args)
    elapsed = time.monotonic() - started
    if synced.returncode not in (0, 2):
        raise RuntimeError(f"cases sync failed: {synced.stderr}")
    return elapsed, dict(json.loads(synced.stdout))


def make_changes(base: str, folder: Path, home: Path, count: int) -> list[str]:
    """``count`` cases changed as members change them (replies, notes, an action moved on), by
    another member than the one who syncs, with the members' own client code."""
    key_file = folder / "other.key"
    env = {**os.environ, "SAFEVOICE_HOME": str(home), "SAFEVOICE_PASSPHRASE": PASSPHRASE}
    pin = (folder / "pin").read_text()
    done = cli(env, "login", "--server", base, "--key", str(key_file), "--pin", pin)
    if done.returncode != 0:
        raise RuntimeError(f"login failed: {done.stderr}")
    keys: KeyPair = open_keyfile(json.loads(key_file.read_text()), PASSPHRASE)
    session = member.session_for(base, home=home)
    with session.api:
        actions = {a.case_id: a for a in session.api.actions()}
        rng = random.Random(18)
        ids = rng.sample(sorted(actions), count)
        for n, case_id in enumerate(ids):
            if n % 3 == 0:
                member.reply(session, case_id, keys, text="Could you tell us which shift it was?")
            elif n % 3 == 1:
                member.add_note(session, case_id, keys, text="Spoke with the safety officer.")
            else:
                member.update_action(session, actions[case_id], keys, state="in_progress")
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=20, help="cases changed before the 2nd sync")
    add_busy_option(parser)
    options = parser.parse_args()
    target = 10 if options.cases <= 10_000 else 60
    watch = LoadWatch(allow_busy=options.allow_busy)
    with populated_instance(options.cases) as (url, folder, populated):
        print(f"{options.cases:,} realistic cases written in {populated:.1f} s", flush=True)
        env = {
            **os.environ,
            "SAFEVOICE_HOME": str(folder / "home"),
            "SAFEVOICE_PASSPHRASE": PASSPHRASE,
        }
        with running_server(safevoice_server(url)) as (base, _process):
            pin = (folder / "pin").read_text()
            key = str(folder / "member.key")
            done = cli(env, "login", "--server", base, "--key", key, "--pin", pin)
            if done.returncode != 0:
                raise RuntimeError(f"login failed: {done.stderr}")
            first_s, first = timed_sync(env)
            print(f"first sync: {first['fetched']:,} cases in {first_s:.1f} s", flush=True)
            changed = make_changes(base, folder, folder / "other-home", options.changes)
            second_s, second = timed_sync(env)
            # What the command line costs before it syncs anything, for comparison.
            started = time.monotonic()
            cli(env, "--help")
            start_s = time.monotonic() - started
            print(
                f"second sync after {len(changed)} changes: {second['fetched']} fetched in "
                f"{second_s:.2f} s",
                flush=True,
            )
    watch.emit(
        {
            "cases": first["cases"],
            "objects_per_case": 8,
            "first_sync_s": round(first_s, 2),
            "first_failing": len(first["failing"]),  # type: ignore[arg-type]  # parsed JSON: a list
            "changes": len(changed),
            "second_sync_s": round(second_s, 2),
            "second_fetched": second["fetched"],
            "second_failing": len(second["failing"]),  # type: ignore[arg-type]  # parsed JSON: a list
            "cli_start_s": round(start_s, 2),
            "target_s": target,
            "setup_s": round(populated, 1),
        },
        figures=["first_sync_s", "second_sync_s"],
    )


if __name__ == "__main__":
    main()
