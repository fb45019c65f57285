"""Flood capacity of the intake (DESIGN.md, Performance).

For SQLite and PostgreSQL: start the real server (two workers), prepare valid 8 KiB
submissions with their challenges solved at the minimum difficulty before the timed window,
send them with wrk from 32 connections (a 30 s timeout, so slow answers count in p99), and
count the cases actually created and the server's CPU time (every process). Then send junk in
equal shares, each kind refused on its own path: a forged challenge (MAC), an expired one, a
new valid case carrying an accepted case's spent challenge (the database lookup), and a fresh
challenge with a stamped but failing answer (one Argon2id). One body of each kind is checked
for its refusal first; wrk tallies every refusal by its message; nothing may be written.

``cpu_ms_per_submission`` is all the server's CPU during the valid run divided by the cases
created: if the prepared bodies ran out (``bodies_exhausted``), the refused resends are in it.

The baseline is a bare FastAPI endpoint accepting the same JSON, run before, between and
after the databases' runs; each ratio is against the mean of the two bare runs around it, in
throughput (``ratio``) and in server CPU per request (``cpu_ratio``, steadier under load).
The last line also carries the load average at the start and the end; if it exceeded the
number of cores, the ratios are withheld (null) and the exit status is 3, unless
``--allow-busy``.

Usage: .venv/bin/python -m benchmarks.ingest [--duration 10] [--connections 32] [--allow-busy]
Needs wrk (Debian package "wrk"). Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from benchmarks.harness import (
    BIN,
    Instance,
    LoadWatch,
    add_busy_option,
    fresh_database,
    running_server,
    safevoice_server,
    server_cpu_s,
    set_up,
)
from safevoice.cases.models import Case
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import create_case
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.keys import generate, random_bytes
from safevoice.instance.models import SpentChallenge
from safevoice.intake.models import IdempotencyKey
from safevoice.protocol import reporter as reporter_steps
from safevoice.storage.db import Database

HERE = Path(__file__).resolve().parent
TEXT = "x" * 7000  # with the report's JSON around it, this fills the 8 KiB padding bucket
WRK_TIMEOUT_S = 30


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


# Each kind of junk, and the words of the refusal that shows the server took that path.
JUNK_KINDS = {
    "forged": "not issued by this server",
    "expired": "has expired",
    "spent": "challenge was already used",
    "unsolved": "does not solve the challenge",
}


def _forged(body: dict[str, Any]) -> dict[str, Any]:
    """An accepted body whose challenge's MAC is changed: refused by the MAC check."""
    raw = bytearray(b64d(body["proof"]["challenge"]))
    raw[-1] ^= 1
    return {**body, "proof": {**body["proof"], "challenge": b64e(bytes(raw))}}


def _expired(inst: Instance, body: dict[str, Any]) -> dict[str, Any]:
    """A challenge issued by the server that expired long ago: refused by the expiry check
    (and one read looking for an earlier answer to the same idempotency key)."""
    challenge = powmod.issue(inst.challenge_key, purpose="submit", difficulty=1, expires=10**6)
    return {**body, "proof": {"challenge": challenge.token, "solution": b64e(bytes(16))}}


def _spent(inst: Instance, body: dict[str, Any]) -> dict[str, Any]:
    """A new, valid case carrying the proof of work of a case already accepted: it passes
    every check before the database and is refused by the lookup of spent challenges."""
    reporter = random_reporter()
    case = create_case(inst.manifest, reporter, channel="general", text=TEXT)
    return reporter_steps.submission_body(
        case,
        reporter,
        channel="general",
        challenge=body["proof"]["challenge"],
        solution=body["proof"]["solution"],
    )


def _unsolved(inst: Instance, body: dict[str, Any], expires: int) -> dict[str, Any]:
    """A fresh challenge answered with a counter that fails but carries a valid stamp: the
    server runs its Argon2id check once and refuses it."""
    challenge = powmod.issue(inst.challenge_key, purpose="submit", difficulty=1, expires=expires)
    n = int.from_bytes(random_bytes(7), "big")
    while powmod.worked(challenge, b64e(n.to_bytes(8, "big") + bytes(8))):
        n += 1
    counter = n.to_bytes(8, "big")
    solution = b64e(counter + powmod._find_stamp(challenge, counter))
    return {**body, "proof": {"challenge": challenge.token, "solution": solution}}


def _make_junk(args: tuple[Instance, str, list[str], int]) -> list[str]:
    inst, kind, accepted, expires = args
    junk = []
    for line in accepted:
        body = json.loads(line)
        if kind == "forged":
            made = _forged(body)
        elif kind == "expired":
            made = _expired(inst, body)
        elif kind == "spent":
            made = _spent(inst, body)
        else:
            made = _unsolved(inst, body, expires)
        junk.append(json.dumps(made, separators=(",", ":")))
    return junk


def make_junk(inst: Instance, accepted: list[str], per_kind: int) -> dict[str, list[str]]:
    """``per_kind`` bodies of each kind of junk, built from submissions the server accepted
    (so that their challenges are really spent)."""
    expires = int(time.time()) + 3600
    jobs = []
    for kind in JUNK_KINDS:
        picked = [accepted[i % len(accepted)] for i in range(per_kind)]
        jobs += [(inst, kind, picked[half::2], expires) for half in (0, 1)]
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(_make_junk, jobs))
    return {kind: parts[2 * i] + parts[2 * i + 1] for i, kind in enumerate(JUNK_KINDS)}


def probe_junk(base: str, junk: dict[str, list[str]]) -> None:
    """Send one body of each kind and check that the server refused it for that reason."""
    with httpx.Client(base_url=base, timeout=30) as client:
        for kind, words in JUNK_KINDS.items():
            answer = client.post(
                "/api/v1/cases",
                content=junk[kind][0],
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"probe-{kind}-{secrets.token_hex(8)}",
                },
            )
            if answer.status_code // 100 != 4 or words not in answer.text:
                sys.exit(f"{kind} junk was not refused as such: {answer.status_code} {answer.text}")


def accepted_bodies(url: str, valid: list[str]) -> list[str]:
    """The bodies whose challenge the server recorded as spent."""
    database = Database.connect(url, pool_size=1)
    try:
        with database.session(write=False) as session:
            spent = set(session.scalars(select(SpentChallenge.digest)))
    finally:
        database.dispose()
    return [
        line
        for line in valid
        if powmod.parse(json.loads(line)["proof"]["challenge"]).digest in spent
    ]


def wrk(
    base: str, bodies_file: Path, *, duration: int, connections: int, tag: str
) -> dict[str, Any]:
    threads = 2
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            # Long enough that no slow answer is dropped from the latency figures.
            f"--timeout={WRK_TIMEOUT_S}s",
            "--latency",
            "-s",
            str(HERE / "wrk_bodies.lua"),
            base,
            "--",
            str(bodies_file),
            str(threads),
            "/api/v1/cases",
            tag,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    return dict(json.loads(line.removeprefix("WRK ")))


def timed_wrk(
    base: str, leader: int, bodies_file: Path, *, duration: int, connections: int, tag: str
) -> tuple[dict[str, Any], float]:
    """wrk's figures and the server's CPU seconds (all its processes) during the run."""
    before = server_cpu_s(leader)
    result = wrk(base, bodies_file, duration=duration, connections=connections, tag=tag)
    return result, server_cpu_s(leader) - before


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


def run_kind(
    kind: str,
    *,
    duration: int,
    connections: int,
    folder: Path,
    junk_per_kind: int,
    bodies: int = 0,
    before: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Valid submissions, then junk, against a fresh instance; ``before`` runs on the bodies
    file once it is written, before the server starts."""
    with fresh_database(kind) as url:
        inst = set_up(url)
        valid = make_valid(inst, bodies or 1600 * duration)
        valid_file = folder / f"{kind}-valid.jsonl"
        valid_file.write_text("\n".join(valid) + "\n")
        if before is not None:
            before(valid_file)
        with running_server(safevoice_server(url)) as (base, process):
            rows_before = counts(url)
            result, cpu_s = timed_wrk(
                base,
                process.pid,
                valid_file,
                duration=duration,
                connections=connections,
                tag=f"{kind}-valid",
            )
            after = counts(url)
            created = after["case_file"] - rows_before["case_file"]
            accepted = accepted_bodies(url, valid)
            if not accepted:
                sys.exit(f"{kind}: no submission was accepted")
            junk = make_junk(inst, accepted, junk_per_kind)
            junk_file = folder / f"{kind}-junk.jsonl"
            # Two of each kind in turn: wrk's two threads take alternate lines, so each
            # thread sends every kind in equal shares.
            groups = zip(*(zip(b[::2], b[1::2], strict=False) for b in junk.values()), strict=False)
            mixed = [body for group in groups for pair in group for body in pair]
            junk_file.write_text("\n".join(mixed) + "\n")
            before_junk = counts(url)
            probe_junk(base, junk)
            junk_result, junk_cpu_s = timed_wrk(
                base,
                process.pid,
                junk_file,
                duration=max(3, duration // 2),
                connections=connections,
                tag=f"{kind}-junk",
            )
            after_junk = counts(url)
        seconds = result["duration_us"] / 1e6
        reasons = junk_result["reasons"]
        return {
            "submissions_per_s": round(created / seconds),
            "cpu_ms_per_submission": round(1000 * cpu_s / max(1, created), 3),
            "p99_ms": round(result["p99_us"] / 1000, 1),
            "p50_ms": round(result["p50_us"] / 1000, 1),
            "timeouts": result["timeouts"],
            "bodies_exhausted": bool(result["exhausted"]),
            "non_4xx_errors": result["other"] + result["errors"],
            "junk": {
                "rejected_per_s": round(
                    junk_result["refused"] / (junk_result["duration_us"] / 1e6)
                ),
                "cpu_ms_per_rejection": round(
                    1000 * junk_cpu_s / max(1, junk_result["refused"]), 3
                ),
                "refusals": {k: v for k, v in reasons.items() if v},
                "paths_not_taken": [k for k in JUNK_KINDS if not reasons.get(k)],
                "bodies_exhausted": bool(junk_result["exhausted"]),
                "accepted": junk_result["ok"],
                "wrote_rows": after_junk != before_junk,
            },
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
    with running_server(args) as (base, process):
        result, cpu_s = timed_wrk(
            base, process.pid, bodies_file, duration=duration, connections=connections, tag="bare"
        )
    return {
        "per_s": round(result["ok"] / (result["duration_us"] / 1e6)),
        "cpu_ms_per_request": round(1000 * cpu_s / max(1, result["ok"]), 3),
        "p99_ms": round(result["p99_us"] / 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    parser.add_argument("--junk", type=int, default=2000, help="junk bodies of each kind")
    parser.add_argument(
        "--bodies",
        type=int,
        default=0,
        help="valid bodies to prepare (default 1600 a second); once exhausted, wrk resends "
        "them, the server refuses their spent challenges and the result says so",
    )
    add_busy_option(parser)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    watch = LoadWatch(allow_busy=options.allow_busy)
    kinds = options.kinds.split(",")
    summary: dict[str, Any] = {
        "connections": options.connections,
        "duration_s": options.duration,
        "envelope_bytes": 8192,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The bare endpoint runs before, between and after the databases' runs: each ratio is
        # taken against the mean of the two bare runs around it, on the same machine state.
        bare: list[dict[str, Any]] = []

        def baseline(bodies: Path) -> None:
            bare.append(
                run_bare(bodies, duration=options.duration, connections=options.connections)
            )

        results = {}
        for kind in kinds:
            results[kind] = run_kind(
                kind,
                duration=options.duration,
                connections=options.connections,
                folder=folder,
                junk_per_kind=options.junk,
                bodies=options.bodies,
                before=baseline if not bare else None,
            )
            baseline(folder / f"{kind}-valid.jsonl")
    summary["baseline"] = bare
    for i, (kind, figures) in enumerate(results.items()):
        around = bare[i : i + 2]
        per_s = statistics.mean(b["per_s"] for b in around)
        cpu_ms = statistics.mean(b["cpu_ms_per_request"] for b in around)
        summary[kind] = {
            **figures,
            "baseline_per_s": round(per_s),
            "baseline_cpu_ms_per_request": round(cpu_ms, 3),
            "ratio": round(figures["submissions_per_s"] / per_s, 3),
            "cpu_ratio": round(cpu_ms / figures["cpu_ms_per_submission"], 3),
            "junk_to_valid": round(
                figures["junk"]["rejected_per_s"] / max(1, figures["submissions_per_s"]), 2
            ),
        }
    watch.emit(
        summary,
        figures=[
            f"{kind}.{key}" for kind in kinds for key in ("ratio", "cpu_ratio", "junk_to_valid")
        ],
    )


if __name__ == "__main__":
    main()
