"""A 1 GiB attachment through the real server (DESIGN.md, Performance).

Targets: ≥ 100 MB/s on loopback and a server peak resident memory below 150 MiB. The client
encrypts and uploads chunk by chunk with the project's own client code; the server streams each
chunk to the filesystem blob store. Memory is the whole server's, every process summed: the
sum of each process's peak (VmHWM, an upper bound) and the largest sum of resident memory
sampled every 50 ms during the upload. Each process's resident memory when idle is listed too
(what the supervisor and one worker cost before any upload), and the server's CPU time per MiB
(the kernel's count for every server process, which a busy machine disturbs far less than the
rate). The last line carries the load average at the start and the end; figures from a machine
busier than its cores are withheld unless --allow-busy.

Usage: .venv/bin/python -m benchmarks.upload [--mib 1024] [--workers 2] [--allow-busy]
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    LoadWatch,
    RssSampler,
    add_busy_option,
    fresh_database,
    peak_rss_kib,
    rss_kib,
    rss_kib_each,
    running_server,
    safevoice_server,
    server_cpu_s,
    set_up,
)
from safevoice.client.api import Api
from safevoice.client.files import upload_file
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    add_busy_option(parser)
    options = parser.parse_args()
    watch = LoadWatch(allow_busy=options.allow_busy)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "evidence.bin"
        with source.open("wb") as handle:
            for _ in range(options.mib):
                handle.write(os.urandom(1024 * 1024))
        with fresh_database("sqlite") as url:
            inst = set_up(url)
            env = {
                "SAFEVOICE_BLOB_DIR": str(Path(folder) / "blobs"),
                "SAFEVOICE_MAX_FILE_BYTES": str((options.mib + 1) * 1024 * 1024),
            }
            with (
                running_server(safevoice_server(url, workers=options.workers), env=env) as (
                    base,
                    process,
                ),
                RssSampler(process.pid) as sampled,
            ):
                idle_kib = rss_kib(process.pid)
                idle_each_kib = rss_kib_each(process.pid)
                processes = len(idle_each_kib)
                case_id = b64e(new_case_id())
                with Api(base, timeout=120) as api:

                    def start() -> str:
                        parsed = powmod.parse(api.challenge("upload").challenge)
                        proof = {"challenge": parsed.token, "solution": powmod.solve(parsed)}
                        return api.start_upload(case_id, proof=proof).id

                    cpu_before = server_cpu_s(process.pid)
                    started = time.monotonic()
                    upload_file(api, source, case_id=case_id, start=start)
                    elapsed = time.monotonic() - started
                    cpu = server_cpu_s(process.pid) - cpu_before
                peaks_kib = peak_rss_kib(process.pid)
    del inst
    size = options.mib * 1024 * 1024
    watch.emit(
        {
            "bytes": size,
            "seconds": round(elapsed, 2),
            "mb_per_s": round(size / elapsed / 1e6, 1),
            "server_cpu_ms_per_mib": round(cpu * 1000 / options.mib, 2),
            "server_processes": processes,
            "server_idle_rss_mib": round(idle_kib / 1024, 1),
            "server_idle_rss_mib_each": [round(kib / 1024, 1) for kib in idle_each_kib],
            "server_peak_rss_mib": round(peaks_kib / 1024, 1),
            "server_sampled_peak_rss_mib": round(sampled.peak_kib / 1024, 1),
            "targets": {"mb_per_s": 100, "peak_rss_mib": 150},
        },
        figures=["mb_per_s", "seconds"],
    )


if __name__ == "__main__":
    main()
