"""The committee desk with 10,000 cases synced (DESIGN.md, Performance: inbox ≤ 2 s after sync,
a case ≤ 300 ms, filtering the table ≤ 500 ms).

Creates an instance on SQLite with 10,000 encrypted cases (as ``benchmarks.committee`` does),
starts the real server, then the desk (in this process, on its own loopback port) and an
admitted HTTP client. It times the unlock (login, then fetching, verifying and decrypting every
case into the desk's memory), the first inbox render after it, opening cases (each fetched
afresh, verified and decrypted) and filtering and searching the case table.

Usage: .venv/bin/python -m benchmarks.desk [--cases 10000]
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from benchmarks.committee import PASSPHRASE, populated_instance
from benchmarks.harness import emit, running_server, safevoice_server
from safevoice.desk.server import DeskServer
from safevoice.desk.state import Desk


def timed(client: httpx.Client, path: str, **params: str) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params or None)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    options = parser.parse_args()
    with (
        populated_instance(options.cases) as (url, folder, populated),
        running_server(safevoice_server(url)) as (base, _process),
    ):
        desk = Desk(home=folder / "home", server=base, key_file=None, pin=None)
        runner = DeskServer(desk)
        thread = runner.start_in_thread()
        while not runner.server.started:
            time.sleep(0.05)
        admission = runner.admission
        with httpx.Client(base_url=admission.origin, timeout=600) as client:
            client.get(admission.open_url)
            started = time.perf_counter()
            unlocked = client.post(
                "/unlock",
                data={
                    "csrf": admission.csrf,
                    "server": base,
                    "key_file": str(folder / "member.key"),
                    "pin": (folder / "pin").read_text(),
                    "passphrase": PASSPHRASE,
                },
                headers={"Origin": admission.origin},
            )
            unlock_s = time.perf_counter() - started
            if unlocked.status_code != 303:
                raise SystemExit(f"unlock failed: {unlocked.status_code}")
            inbox_s = timed(client, "/")
            ids = sorted(desk.cases)[:: max(1, len(desk.cases) // 20)][:20]
            case_s = [timed(client, f"/cases/{case_id}") for case_id in ids]
            filters = [
                {"q": "unit 5"},
                {"status": "received", "sort": "ack_due", "order": "asc"},
                {"channel": "general", "overdue": "true"},
                {"q": "number 9999", "page": "1"},
                {"sort": "received", "page": "100"},
            ]
            filter_s = [timed(client, "/cases", **f) for f in filters]
        runner.stop()
        thread.join(timeout=30)
    emit(
        {
            "cases": options.cases,
            "unlock_login_sync_decrypt_s": round(unlock_s, 2),
            "inbox_after_sync_s": round(inbox_s, 3),
            "inbox_target_s": 2,
            "case_open_median_ms": round(statistics.median(case_s) * 1000, 1),
            "case_open_max_ms": round(max(case_s) * 1000, 1),
            "case_target_ms": 300,
            "filter_median_ms": round(statistics.median(filter_s) * 1000, 1),
            "filter_max_ms": round(max(filter_s) * 1000, 1),
            "filter_target_ms": 500,
            "setup_s": round(populated, 1),
        }
    )


if __name__ == "__main__":
    main()
