"""A 1 GiB attachment through the real server (DESIGN.md, Performance).

Targets: ≥ 100 MB/s on loopback and a server peak resident memory below 150 MiB. The client
encrypts and uploads chunk by chunk with the project's own client code; the server streams each
chunk to the filesystem blob store. Peak memory is read from /proc (VmHWM) for each server
process after the upload.

Usage: .venv/bin/python -m benchmarks.upload [--mib 1024]
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import emit, fresh_database, running_server, safevoice_server, set_up
from safevoice.client.api import Api
from safevoice.client.files import upload_file
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import new_case_id


def peak_rss_mib(pids: list[int]) -> dict[str, float]:
    peaks = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[str(pid)] = int(line.split()[1]) / 1024
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    options = parser.parse_args()
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
            with running_server(safevoice_server(url), env=env) as (base, process):
                workers = [
                    int(p)
                    for p in subprocess.run(
                        ["pgrep", "-P", str(process.pid)],
                        capture_output=True,
                        text=True,
                        check=False,
                    ).stdout.split()
                ]
                case_id = b64e(new_case_id())
                with Api(base, timeout=120) as api:

                    def start() -> str:
                        parsed = powmod.parse(api.challenge("upload").challenge)
                        proof = {"challenge": parsed.token, "solution": powmod.solve(parsed)}
                        return api.start_upload(case_id, proof=proof).id

                    started = time.monotonic()
                    upload_file(api, source, case_id=case_id, start=start)
                    elapsed = time.monotonic() - started
                peaks = peak_rss_mib([process.pid, *workers])
    del inst
    size = options.mib * 1024 * 1024
    worker_peaks = [v for k, v in peaks.items() if int(k) != process.pid]
    emit(
        {
            "bytes": size,
            "seconds": round(elapsed, 2),
            "mb_per_s": round(size / elapsed / 1e6, 1),
            "server_peak_rss_mib_per_worker": round(max(worker_peaks or [0.0]), 1),
            "server_peak_rss_mib_all_processes": round(sum(peaks.values()), 1),
            "targets": {"mb_per_s": 100, "peak_rss_mib": 150},
        }
    )


if __name__ == "__main__":
    main()
