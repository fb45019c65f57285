"""Shared set-up for the benchmarks: a fresh instance on SQLite or PostgreSQL and a real
server (uvicorn, two workers) on a loopback port."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from safevoice.cases.manifest import publish_manifest
from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import KeyPair, generate, random_bytes
from safevoice.crypto.manifest import AuditKey, CodeKdf, Manifest, sign_manifest
from safevoice.instance import service as instance
from safevoice.intake import service as intake
from safevoice.storage import migrate
from safevoice.storage.db import Database
from safevoice.web import bundle

BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CHANNEL: dict[str, object] = {
    "name": "general",
    "title": "Concerns",
    "retention": {"days_after_closure": 60, "max_age_days": 1095, "unused_days": 90},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    url: str
    root: KeyPair
    members: list[KeyPair]
    manifest: Manifest
    challenge_key: bytes


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    name = f"sv_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_up(url: str, *, difficulty: int = 1, members: int = 3, code_opslimit: int = 2) -> Instance:
    """Migrate, initialise, seed a channel and publish a manifest signed by a new root."""
    root = generate("root", "root", "Benchmark root")
    keys = [generate("member", f"m{i}", f"Member {i}") for i in range(members)]
    database = Database.connect(url, pool_size=1)
    try:
        migrate.upgrade(database.writer)
        now = utcnow().replace(microsecond=0)
        with database.unit_of_work() as session:
            instance.initialise(session, timezone="UTC", difficulty=difficulty)
            instance.set_difficulty(session, difficulty)
            intake.seed_channels(session, [CHANNEL])
            instance_key = instance.instance_public_key(session)
        manifest = Manifest(
            instance_id=b64e(random_bytes(16)),
            version=1,
            issued_at=now,
            expires_at=now + timedelta(days=30),
            root=root.public.fingerprint,
            instance_salt=random_bytes(16),
            code_kdf=(CodeKdf(1, code_opslimit, 64 * 1024 * 1024),),
            envelope_versions=(1,),
            members=tuple(k.public for k in keys),
            auditors=(),
            audit_keys=(AuditKey(key=instance_key, from_seq=0),),
        )
        with database.unit_of_work() as session:
            publish_manifest(session, sign_manifest(manifest, [root]), today=now.date(), now=now)
            challenge_key = instance.snapshot(session).challenge_key
    finally:
        database.dispose()
    return Instance(
        url=url, root=root, members=keys, manifest=manifest, challenge_key=challenge_key
    )


def release_bundle(instance: Instance, folder: Path) -> dict[str, str]:
    """Build the release bundle pinned to the instance's root into ``folder / "bundle"`` and
    return the server environment that serves it, as a production instance would."""
    built = bundle.build(
        pin=instance.root.public.fingerprint,
        out=folder / "bundle",
        node_modules=bundle.default_node_modules(),
    )
    return {"SAFEVOICE_BUNDLE_DIR": str(built.folder)}


@contextmanager
def running_server(
    args: list[str], *, env: dict[str, str] | None = None, ready_path: str = "/api/v1/manifest"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run a server command (``{port}`` in args is replaced) until the block ends."""
    port = free_port()
    command = [a.replace("{port}", str(port)) for a in args]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode(errors='replace')}")
            try:
                httpx.get(base + ready_path, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)
        yield base, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def safevoice_server(url: str, *, workers: int = 2) -> list[str]:
    return [
        str(BIN / "safevoice"),
        "serve",
        "--port",
        "{port}",
        "--workers",
        str(workers),
        "--database",
        url,
    ]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def server_pids(leader: int) -> list[int]:
    """Every live process of a server started by ``running_server``: the leader of its own
    session and everything it spawned (workers, their helpers), however deep."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[3] == str(leader):  # field 6: session id
                pids.append(int(entry.name))
    return pids


def server_cpu_s(leader: int) -> float:
    """User + system CPU time used so far by every live process of the server, in seconds.
    Counted by the kernel per process, so it does not depend on how busy the machine is."""
    ticks = 0
    for pid in server_pids(leader):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_kib(pid: int) -> int:
    """The peak resident memory (VmHWM) of every process of the server, summed: an upper
    bound of the whole server's peak, since the processes may not peak at the same moment."""
    return sum(_status_kib(p, "VmHWM") for p in server_pids(pid))


def rss_kib(pid: int) -> int:
    """The resident memory (VmRSS) of every process of the server right now, summed."""
    return sum(rss_kib_each(pid))


def rss_kib_each(pid: int) -> list[int]:
    """The resident memory (VmRSS) of each process of the server right now, smallest first."""
    return sorted(_status_kib(p, "VmRSS") for p in server_pids(pid))


class RssSampler:
    """Samples the whole server's summed resident memory in a thread; ``peak_kib`` is the
    largest sum seen (a lower bound of the true peak, ``peak_rss_kib`` the upper one)."""

    def __init__(self, leader: int, every_s: float = 0.05) -> None:
        self.peak_kib = 0
        self._leader = leader
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self._leader))
            self._stop.wait(self._every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load_average() -> float:
    """The one-minute load average, rounded."""
    return round(os.getloadavg()[0], 2)


def add_busy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-busy",
        action="store_true",
        help="report the figures even if the load average exceeded the number of cores",
    )


class LoadWatch:
    """Records the load average when a benchmark starts; ``emit`` adds it with the load at
    the end. A figure measured while the load average exceeded the number of cores is not
    trusted: unless the run allows a busy machine, ``emit`` replaces it with null, says why,
    and the benchmark exits with status 3."""

    def __init__(self, *, allow_busy: bool) -> None:
        self.allow_busy = allow_busy
        self.start = load_average()
        self.cores = os.cpu_count() or 1

    def emit(self, result: dict[str, Any], *, figures: Iterable[str]) -> None:
        """Print ``result`` as the last line; ``figures`` are the keys (``kind.key`` inside a
        nested object) that a busy machine makes untrustworthy, ratios first."""
        end = load_average()
        busy = max(self.start, end) > self.cores
        result["load"] = {"start": self.start, "end": end, "cores": self.cores}
        result["busy"] = busy
        refused = busy and not self.allow_busy
        if refused:
            for name in figures:
                *path, key = name.split(".")
                target = result
                for part in path:
                    target = target[part]
                target[key] = None
            result["refused"] = (
                "the load average exceeded the number of cores during the run, so its figures "
                "are not reported; run again on a quieter machine or pass --allow-busy"
            )
        emit(result)
        if refused:
            sys.exit(3)


def emit(result: dict[str, object]) -> None:
    """Print the result as one JSON object on the last line."""
    print(json.dumps(result, sort_keys=True))
