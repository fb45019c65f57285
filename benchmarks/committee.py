"""A committee member syncs and decrypts 10,000 cases (DESIGN.md, Performance: ≤ 10 s).

Creates an instance on SQLite with 10,000 encrypted cases (each a real report encrypted to
three members, written straight into the database), starts the real server, logs in as a
member with the real CLI and times `safevoice cases sync`, which fetches every case, checks
every signature and chain, and decrypts every report on the member's machine.

Usage: .venv/bin/python -m benchmarks.committee [--cases 10000] [--allow-busy]
Prints one JSON object on its last line.
The last line carries the load average at the start and the end; timings from a machine
busier than its cores are withheld (null, exit status 3) unless --allow-busy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from benchmarks.harness import (
    BIN,
    LoadWatch,
    add_busy_option,
    fresh_database,
    running_server,
    safevoice_server,
    set_up,
)
from benchmarks.ingest import random_reporter
from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import create_case
from safevoice.crypto.keys import seal_keyfile
from safevoice.instance.service import snapshot
from safevoice.intake import service as intake
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.wire import SubmissionIn
from safevoice.storage.batch import RowWriter
from safevoice.storage.db import Database

PASSPHRASE = "benchmark passphrase"  # noqa: S105 - a throwaway key made for this run


def populate(url: str, count: int) -> Path:
    inst = set_up(url)
    database = Database.connect(url, pool_size=2)
    writer = RowWriter(database)
    with database.session(write=False) as session:
        snap = snapshot(session)
    now = utcnow()
    merged: dict[object, list[dict[str, object]]] = {}
    for i in range(count):
        reporter = random_reporter()
        case = create_case(
            inst.manifest,
            reporter,
            channel="general",
            text=f"Report number {i}: something happened in unit {i % 17}.",
        )
        challenge = powmod.issue(
            inst.challenge_key, purpose="submit", difficulty=1, expires=int(time.time()) + 3600
        )
        body = SubmissionIn.model_validate(
            # The rows are written directly, so the proof is never checked: no work is spent.
            reporter_steps.submission_body(
                case, reporter, channel="general", challenge=challenge.token, solution="A" * 22
            )
        )
        envelope, reply_key, sign_key = intake._validated_report(body, snap)
        rows, _ = intake._case_rows(
            snap,
            body=body,
            envelope=envelope,
            reply_key=reply_key,
            sign_key=sign_key,
            wraps=intake._validated_wraps(body, snap),
            challenge=challenge,
            key_digest=os.urandom(32),
            request_digest=os.urandom(32),
            now=now,
        )
        for model, values in rows:
            merged.setdefault(model, []).extend(values)
        if (i + 1) % 1000 == 0:
            writer.write(list(merged.items()))
            merged.clear()
    if merged:
        writer.write(list(merged.items()))
    database.dispose()
    folder = Path(tempfile.mkdtemp(prefix="sv-committee-"))
    member = inst.members[0]
    # A light key-file derivation: the benchmark measures syncing, not opening the key file.
    sealed = seal_keyfile(member, PASSPHRASE, opslimit=1, memlimit=8192)
    key_file = folder / "member.key"
    key_file.write_text(json.dumps(sealed))
    (folder / "pin").write_text(inst.root.public.fingerprint)
    return folder


class Populated(NamedTuple):
    url: str
    folder: Path  # the first member's key file ("member.key") and root pin ("pin")
    seconds: float  # how long filling the database took


@contextmanager
def populated_instance(cases: int) -> Iterator[Populated]:
    """A fresh SQLite instance holding ``cases`` encrypted cases, dropped afterwards."""
    with fresh_database("sqlite") as url:
        started = time.monotonic()
        folder = populate(url, cases)
        yield Populated(url, folder, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    add_busy_option(parser)
    options = parser.parse_args()
    watch = LoadWatch(allow_busy=options.allow_busy)
    with populated_instance(options.cases) as (url, folder, populated):
        env = {
            **os.environ,
            "SAFEVOICE_HOME": str(folder / "home"),
            "SAFEVOICE_PASSPHRASE": PASSPHRASE,
        }
        with running_server(safevoice_server(url)) as (base, _process):
            subprocess.run(
                [
                    str(BIN / "safevoice"),
                    "login",
                    "--server",
                    base,
                    "--key",
                    str(folder / "member.key"),
                    "--pin",
                    (folder / "pin").read_text(),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            started = time.monotonic()
            synced = subprocess.run(
                [str(BIN / "safevoice"), "cases", "sync", "--json"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            elapsed = time.monotonic() - started
    result = json.loads(synced.stdout)
    watch.emit(
        {
            "cases": result["cases"],
            "failing": len(result["failing"]),
            "sync_and_decrypt_s": round(elapsed, 2),
            "target_s": 10,
            "setup_s": round(populated, 1),
        },
        figures=["sync_and_decrypt_s"],
    )


if __name__ == "__main__":
    main()
