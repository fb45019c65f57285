"""Flood capacity of the intake (DESIGN.md, Performance).

For SQLite and PostgreSQL: start the real server (two workers), prepare valid 8 KiB
submissions with their challenges solved at the minimum difficulty before the timed window,
send them with wrk from 32 connections, and count the cases actually created. Then send junk
(forged, expired, spent and wrongly solved proofs of work) and check that nothing was written.
The baseline is a bare FastAPI endpoint accepting the same JSON, measured in the same run.

Usage: .venv/bin/python benchmarks/ingest.py [--duration 10] [--connections 32]
Needs wrk (Debian package "wrk"). Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.harness import (
    BIN,
    Instance,
    emit,
    fresh_database,
    running_server,
    safevoice_server,
    set_up,
)
from safevoice.cases.models import Case
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import create_case
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import generate
from safevoice.instance.models import SpentChallenge
from safevoice.intake.models import IdempotencyKey
from safevoice.protocol import reporter as reporter_steps
from safevoice.storage.db import Database

HERE = Path(__file__).resolve().parent
TEXT = "x" * 7000  # with the report's JSON around it, this fills the 8 KiB padding bucket


def random_reporter() -> ReporterKeys:
    """Reporter keys without the Argon2id step: the server cannot tell and does not care."""
    keys = generate("member", "reporter", "reporter")
    assert keys.box_secret is not None
    assert keys.public.box_key is not None
    return ReporterKeys(
        reply_secret=keys.box_secret,
        reply_public=keys.public.box_key,
        sign_seed=keys.sign_seed,
        sign_public=keys.public.sign_key,
    )


def _make_valid(args: tuple[Instance, int, int]) -> list[str]:
    inst, count, expires = args
    bodies = []
    for _ in range(count):
        challenge = powmod.issue(
            inst.challenge_key, purpose="submit", difficulty=1, expires=expires
        )
        reporter = random_reporter()
        case = create_case(inst.manifest, reporter, channel="general", text=TEXT)
        body = reporter_steps.submission_body(
            case, reporter, channel="general", challenge=challenge.token
        )
        bodies.append(json.dumps(body, separators=(",", ":")))
    return bodies


def make_valid(inst: Instance, count: int) -> list[str]:
    expires = int(time.time()) + 3600
    workers = 2
    with ProcessPoolExecutor(workers) as pool:
        parts = pool.map(_make_valid, [(inst, math.ceil(count / workers), expires)] * workers)
    return [body for part in parts for body in part][:count]


def make_junk(inst: Instance, valid: list[str], count: int) -> list[str]:
    """Forged MACs, expired challenges, spent challenges (re-used from the valid run with new
    ids) and wrong solutions, in equal shares."""
    junk = []
    for i in range(count):
        body = json.loads(valid[i % len(valid)])
        kind = i % 4
        if kind == 0:
            token = body["proof"]["challenge"]
            body["proof"]["challenge"] = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        elif kind == 1:
            expired = powmod.issue(
                inst.challenge_key, purpose="submit", difficulty=1, expires=1_000_000
            )
            body["proof"] = {"challenge": expired.token, "solution": powmod.solve(expired)}
        elif kind == 2:
            body["case"]["id"] = b64e(i.to_bytes(16, "big"))  # spent challenge, fresh id
        else:
            # A failing counter with a valid stamp: junk that reaches the Argon2id stage.
            challenge = powmod.parse(body["proof"]["challenge"])
            n = 0
            while powmod.worked(challenge, b64e(n.to_bytes(8, "big") + bytes(8))):
                n += 1
            counter = n.to_bytes(8, "big")
            body["proof"]["solution"] = b64e(counter + powmod._find_stamp(challenge, counter))
        junk.append(json.dumps(body, separators=(",", ":")))
    return junk


def wrk(base: str, bodies_file: Path, *, duration: int, connections: int) -> dict[str, Any]:
    threads = 2
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(HERE / "wrk_bodies.lua"),
            base,
            "--",
            str(bodies_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    return dict(json.loads(line.removeprefix("WRK ")))


def counts(url: str) -> dict[str, int]:
    database = Database.connect(url, pool_size=1)
    try:
        with database.session(write=False) as session:
            return {
                m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
                for m in (Case, SpentChallenge, IdempotencyKey)
            }
    finally:
        database.dispose()


def run_kind(kind: str, *, duration: int, connections: int, folder: Path) -> dict[str, Any]:
    with fresh_database(kind) as url:
        inst = set_up(url)
        expected = 1600 * duration
        valid = make_valid(inst, expected)
        valid_file = folder / f"{kind}-valid.jsonl"
        valid_file.write_text("\n".join(valid) + "\n")
        with running_server(safevoice_server(url)) as (base, _process):
            # Warm up both workers' connection pools with a few requests (not counted).
            before = counts(url)
            result = wrk(base, valid_file, duration=duration, connections=connections)
            after = counts(url)
            created = after["case_file"] - before["case_file"]
            junk = make_junk(inst, valid[: max(1, created)], 4000)
            junk_file = folder / f"{kind}-junk.jsonl"
            junk_file.write_text("\n".join(junk) + "\n")
            before_junk = counts(url)
            junk_result = wrk(
                base, junk_file, duration=max(3, duration // 2), connections=connections
            )
            after_junk = counts(url)
        seconds = result["duration_us"] / 1e6
        return {
            "submissions_per_s": round(created / seconds),
            "p99_ms": round(result["p99_us"] / 1000, 1),
            "p50_ms": round(result["p50_us"] / 1000, 1),
            "bodies_exhausted": bool(result["exhausted"]),
            "non_4xx_errors": result["other"] + result["errors"],
            "junk_rejected_per_s": round(
                junk_result["refused"] / (junk_result["duration_us"] / 1e6)
            ),
            "junk_accepted": junk_result["ok"],
            "junk_wrote_rows": after_junk != before_junk,
        }


def run_bare(bodies_file: Path, *, duration: int, connections: int) -> dict[str, Any]:
    args = [
        str(BIN / "uvicorn"),
        "benchmarks.bare_app:create",
        "--factory",
        "--port",
        "{port}",
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with running_server(args) as (base, _process):
        result = wrk(base, bodies_file, duration=duration, connections=connections)
    return {
        "per_s": round(result["ok"] / (result["duration_us"] / 1e6)),
        "p99_ms": round(result["p99_us"] / 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {
            kind: run_kind(
                kind, duration=options.duration, connections=options.connections, folder=folder
            )
            for kind in options.kinds.split(",")
        }
        first = next(iter(results))
        bare = run_bare(
            folder / f"{first}-valid.jsonl",
            duration=options.duration,
            connections=options.connections,
        )
    summary: dict[str, Any] = {
        "connections": options.connections,
        "envelope_bytes": 8192,
        "baseline_per_s": bare["per_s"],
        "baseline_p99_ms": bare["p99_ms"],
    }
    for kind, figures in results.items():
        summary[kind] = {
            **figures,
            "ratio": round(figures["submissions_per_s"] / bare["per_s"], 2),
            "junk_to_valid": round(
                figures["junk_rejected_per_s"] / max(1, figures["submissions_per_s"]), 2
            ),
        }
    emit(summary)


if __name__ == "__main__":
    main()
