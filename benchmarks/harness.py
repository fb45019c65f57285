"""Shared set-up for the benchmarks: a fresh instance on SQLite or PostgreSQL and a real
server (uvicorn, two workers) on a loopback port."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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


def peak_rss_kib(pid: int) -> int:
    """Peak resident memory of a process and its children, from /proc (VmHWM)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if entry.name == str(pid) or fields.get("PPid", "").strip() == str(pid):
            total += int(fields.get("VmHWM", "0 kB").split()[0])
    return total


def emit(result: dict[str, object]) -> None:
    """Print the result as one JSON object on the last line."""
    print(json.dumps(result, sort_keys=True))
