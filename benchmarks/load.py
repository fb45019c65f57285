"""Many concurrent clients on loopback for a bounded time: throughput, p50/p99 and errors.

For SQLite and PostgreSQL (or one of them): start the real server (two workers), then run
``--clients`` client threads for ``--seconds`` against it. Each client loops over what a
reporter's visit does: it fetches the intake (manifest, channels and a challenge in one round
trip) and, every ``--submit-every`` iterations, sends a valid submission prepared before the
timed window (its challenge issued and solved at the minimum difficulty, 8 KiB report). Every
request is timed; anything but the expected status counts as an error. The resident memory of
the server and its workers is read from /proc afterwards.

Usage: .venv/bin/python -m benchmarks.load [--seconds 20] [--clients 32] [--db sqlite]
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.harness import (
    emit,
    fresh_database,
    peak_rss_kib,
    running_server,
    safevoice_server,
    set_up,
)
from benchmarks.ingest import make_valid


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    submissions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, elapsed_ms: float, ok: bool, *, submitted: bool = False) -> None:
        with self.lock:
            self.latencies_ms.append(elapsed_ms)
            if not ok:
                self.errors += 1
            elif submitted:
                self.submissions += 1


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def client_loop(
    base: str, until: float, bodies: list[str], lock: threading.Lock, tally: Tally, every: int
) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        iteration = 0
        while time.monotonic() < until:
            iteration += 1
            started = time.perf_counter()
            try:
                ok = http.get("/api/v1/intake").status_code == 200
            except httpx.HTTPError:
                ok = False
            tally.add((time.perf_counter() - started) * 1000, ok)
            if iteration % every:
                continue
            with lock:
                body = bodies.pop() if bodies else None
            if body is None:
                continue
            started = time.perf_counter()
            try:
                answer = http.post(
                    "/api/v1/cases",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "Idempotency-Key": secrets.token_urlsafe(16),
                    },
                )
                ok = answer.status_code == 201
            except httpx.HTTPError:
                ok = False
            tally.add((time.perf_counter() - started) * 1000, ok, submitted=ok)


def run(kind: str, *, seconds: float, clients: int, every: int) -> dict[str, Any]:
    with fresh_database(kind) as url:
        inst = set_up(url)
        # Enough prepared submissions for the whole window, at most one in ``every`` requests.
        bodies = make_valid(inst, max(50, int(seconds * 40)))
        with running_server(
            safevoice_server(url),
            env={"SAFEVOICE_FLOOD_PER_MINUTE": "0", "SAFEVOICE_LOG_LEVEL": "WARNING"},
        ) as (base, process):
            tally = Tally()
            lock = threading.Lock()
            until = time.monotonic() + seconds
            started = time.monotonic()
            threads = [
                threading.Thread(target=client_loop, args=(base, until, bodies, lock, tally, every))
                for _ in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            rss_mib = peak_rss_kib(process.pid) / 1024
    requests = len(tally.latencies_ms)
    return {
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "submissions": tally.submissions,
        "errors": tally.errors,
        "p50_ms": round(statistics.median(tally.latencies_ms), 1) if requests else 0.0,
        "p99_ms": round(percentile(tally.latencies_ms, 0.99), 1),
        "server_peak_rss_mib": round(rss_mib, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--submit-every", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    options = parser.parse_args()
    kinds = ("sqlite", "postgresql") if options.db == "both" else (options.db,)
    result: dict[str, Any] = {
        "seconds": options.seconds,
        "clients": options.clients,
        "cpus": os.cpu_count(),
    }
    for kind in kinds:
        result[kind] = run(
            kind, seconds=options.seconds, clients=options.clients, every=options.submit_every
        )
    emit(result)


if __name__ == "__main__":
    main()
