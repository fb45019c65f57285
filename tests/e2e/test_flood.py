"""A flood against the real server (two workers) while an honest reporter uses it.

Many concurrent connections send junk — missing, forged, spent or wrong proofs of work,
malformed and oversized bodies, reporter logins and uploads without a valid proof — and hold
slow connections open (headers or bodies trickled a byte at a time, as slowloris does), while
a spammer sends valid submissions (proofs of work solved, which is what raises the difficulty:
junk is refused before it costs the server more than it cost the sender). Meanwhile an honest
reporter submits and logs in. Checked from outside: every honest request succeeds; the
difficulty of submissions, reporter logins and uploads rises and falls back by itself once the
flood stops (the server's surge lasts a few seconds here, through its settings, instead of a
quarter of an hour); junk is refused with a 4xx and writes nothing to the database, the blob
store or the server's temporary folder; the server's resident memory stays bounded.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from safevoice.crypto import pow as powmod
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.keys import generate, random_bytes
from safevoice.crypto.login import sign_login
from safevoice.crypto.manifest import Manifest, parse_payload
from safevoice.instance import service as instance
from safevoice.storage.db import Database
from tests.support.databases import DatabaseFactory
from tests.support.reporter import build_submission, reporter_keys
from tests.support.server import ServerProcess

PURPOSES = ("submit", "reporter-login", "upload")
# Long enough for the difficulty watcher, which runs from before the first accepted request, to
# see a raise; short enough that the test does not wait long for it to lapse.
SURGE_SECONDS = 6
JUNK_CONNECTIONS = 12
SLOW_CONNECTIONS = 40
SPAM_SUBMISSIONS = 6
HONEST_ROUNDS = 3
# The server (supervisor and two workers) holds about 350 MiB at rest; a flood may add the
# thread pools' Argon2id buffers (1 MiB each) and request buffers, never an amount that grows
# with the flood (about 10 MiB was seen).
MEMORY_GROWTH_BOUND_MIB = 192
FALL_BACK_WITHIN_S = 60.0
TIMEOUT = httpx.Timeout(60.0)


@dataclass
class Flooded:
    server: ServerProcess
    manifest: Manifest
    database: Database


@pytest.fixture
def flooded(db_factory: DatabaseFactory, tmp_path: Path) -> Iterator[Flooded]:
    url = db_factory.clone()
    database = Database.connect(url, pool_size=1)
    server = ServerProcess.start(
        url,
        tmp_path / "server",
        extra_env={
            # Two accepted proofs of work a minute on one worker make a flood (the one before
            # them does not), so the honest and spamming clients raise it for certain however
            # slowly a busy machine lets them solve their proofs; each raise lasts seconds: the
            # test sees the difficulty rise and fall back without waiting a quarter of an hour.
            "SAFEVOICE_FLOOD_PER_MINUTE": "1",
            "SAFEVOICE_FLOOD_SURGE_SECONDS": str(SURGE_SECONDS),
        },
    )
    try:
        with database.session(write=False) as session:
            signed = instance.current_signed_manifest(session)
        assert signed is not None
        yield Flooded(server, parse_payload(signed.payload), database)
    finally:
        server.stop()
        database.dispose()
        db_factory.drop(url)


def row_counts(database: Database) -> dict[str, int]:
    with database.writer.connect() as connection:
        names = inspect(connection).get_table_names()
        return {
            name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())  # noqa: S608 - table names come from the database's own catalogue
            for name in names
        }


def surge_state(database: Database) -> bytes | None:
    with database.session(write=False) as session:
        return instance.get_state(session, instance.SURGE)


def files_under(folder: Path) -> set[str]:
    return (
        {str(path.relative_to(folder)) for path in folder.rglob("*")} if folder.exists() else set()
    )


def server_rss_mib(leader: int) -> float:
    """The resident memory of every process of the server's session, summed."""
    total_kib = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2 :].split()[3] != str(leader):  # field 6: session id
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def difficulty(http: httpx.Client, purpose: str) -> int:
    answer = http.post("/api/v1/challenges", json={"purpose": purpose})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["difficulty"])


def challenge(http: httpx.Client, purpose: str) -> str:
    answer = http.post("/api/v1/challenges", json={"purpose": purpose})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["challenge"])


def submit(http: httpx.Client, manifest: Manifest, keys: tuple[str, ReporterKeys]) -> None:
    body = build_submission(manifest, challenge(http, "submit"), keys=keys).body
    answer = http.post(
        "/api/v1/cases", json=body, headers={"Idempotency-Key": secrets.token_urlsafe(16)}
    )
    assert answer.status_code == 201, answer.text


def log_in(http: httpx.Client, manifest: Manifest, keys: ReporterKeys) -> None:
    token = challenge(http, "reporter-login")
    parsed = powmod.parse(token)
    answer = http.post(
        "/api/v1/reporter/login",
        json={
            "sign_key": b64e(keys.sign_public),
            "challenge": token,
            "solution": powmod.solve(parsed),
            "signature": b64e(sign_login(keys.sign_seed, manifest.instance_id, parsed)),
        },
    )
    assert answer.status_code == 200, answer.text


def throwaway_reporter() -> tuple[str, ReporterKeys]:
    """A spammer's reporter keys: random, without the code's Argon2id (the server cannot tell)."""
    keys = generate("member", "spam", "spam")
    assert keys.box_secret is not None
    assert keys.public.box_key is not None
    return "", ReporterKeys(
        reply_secret=keys.box_secret,
        reply_public=keys.public.box_key,
        sign_seed=keys.sign_seed,
        sign_public=keys.public.sign_key,
    )


@dataclass
class Junk:
    """Requests that must each be refused with a 4xx without touching any stored state."""

    spent_body: dict[str, Any]
    sent: int = 0
    refused: int = 0
    wrong: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, http: httpx.Client) -> list[Callable[[], httpx.Response]]:
        token = challenge(http, "submit")
        solved_elsewhere = self.spent_body["proof"]
        forged = bytearray(b64d(token))
        forged[-1] ^= 1  # the challenge's MAC no longer matches
        bad_proof = {"challenge": token, "solution": b64e(random_bytes(16))}
        upload = challenge(http, "upload")
        key = {"Idempotency-Key": secrets.token_urlsafe(16)}
        return [
            # No proof at all, then a wrong answer, a spent one and a forged challenge.
            lambda: http.post(
                "/api/v1/cases",
                json={k: v for k, v in self.spent_body.items() if k != "proof"},
                headers=key,
            ),
            lambda: http.post(
                "/api/v1/cases", json={**self.spent_body, "proof": bad_proof}, headers=key
            ),
            lambda: http.post(
                "/api/v1/cases",
                json={**self.spent_body, "proof": solved_elsewhere},
                headers={"Idempotency-Key": secrets.token_urlsafe(16)},
            ),
            lambda: http.post(
                "/api/v1/cases",
                json={**self.spent_body, "proof": {**bad_proof, "challenge": b64e(bytes(forged))}},
                headers=key,
            ),
            # Malformed and oversized bodies.
            lambda: http.post(
                "/api/v1/cases",
                content=b'{"case": [' + random_bytes(64),
                headers={**key, "Content-Type": "application/json"},
            ),
            lambda: http.post(
                "/api/v1/cases",
                content=b" " * (3 * 1024 * 1024),
                headers={**key, "Content-Type": "application/json"},
            ),
            # Logins and uploads without a valid proof, and chunks for uploads that do not exist.
            lambda: http.post(
                "/api/v1/reporter/login",
                json={
                    "sign_key": b64e(random_bytes(32)),
                    "challenge": token,
                    "solution": b64e(random_bytes(16)),
                    "signature": b64e(random_bytes(64)),
                },
            ),
            lambda: http.post(
                "/api/v1/uploads",
                json={
                    "case_id": b64e(random_bytes(16)),
                    "proof": {"challenge": upload, "solution": b64e(random_bytes(16))},
                },
            ),
            lambda: http.put(
                f"/api/v1/uploads/{b64e(random_bytes(16))}/chunks/0",
                content=random_bytes(64 * 1024),
                headers={"Content-Type": "application/octet-stream"},
            ),
        ]

    def flood(self, base: str, stop: threading.Event) -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT) as http:
            while not stop.is_set():
                for send in self.requests(http):
                    answer = send()
                    with self.lock:
                        self.sent += 1
                        if 400 <= answer.status_code < 500:
                            self.refused += 1
                        else:
                            self.wrong.append(f"{answer.status_code} {answer.text[:200]}")


def slow_connections(port: int, stop: threading.Event) -> None:
    """Hold connections open that send their headers, or their body, a byte at a time."""
    sockets = []
    for i in range(SLOW_CONNECTIONS):
        sock = socket.create_connection(("127.0.0.1", port))
        head = b"POST /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if i % 2:
            head += b"Content-Type: application/json\r\nContent-Length: 9000\r\n\r\n{"
        sock.sendall(head)
        sockets.append((sock, i % 2 == 1))
    try:
        while not stop.wait(0.5):
            for sock, body in sockets:
                # The server may close a connection that it finds too slow.
                with contextlib.suppress(OSError):
                    sock.send(b" " if body else b"X-Slow: 1\r\n")
    finally:
        for sock, _ in sockets:
            sock.close()


def spam(base: str, manifest: Manifest, count: int) -> None:
    """Valid submissions, proofs of work solved: the part of a flood that costs the server."""
    with httpx.Client(base_url=base, timeout=TIMEOUT) as http:
        for _ in range(count):
            submit(http, manifest, throwaway_reporter())


def watch_difficulty(base: str, stop: threading.Event, highest: dict[str, int]) -> None:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as http:
        while not stop.wait(0.25):
            for purpose in PURPOSES:
                highest[purpose] = max(highest[purpose], difficulty(http, purpose))


@contextlib.contextmanager
def difficulty_watched(base_url: str, base: dict[str, int]) -> Iterator[dict[str, int]]:
    """The highest difficulty of each proof of work seen while the block runs."""
    stop = threading.Event()
    highest = dict(base)
    watcher = threading.Thread(target=watch_difficulty, args=(base_url, stop, highest))
    watcher.start()
    try:
        yield highest
    finally:
        stop.set()
        watcher.join()


def watch_memory(leader: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.wait(0.2):
        peak[0] = max(peak[0], server_rss_mib(leader))


def test_a_flood_of_junk_leaves_honest_reports_through_and_stores_nothing(
    flooded: Flooded,
) -> None:
    server, manifest, database = flooded.server, flooded.manifest, flooded.database
    base_url = server.direct_url
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as http, contextlib.ExitStack() as watch:
        base = {purpose: difficulty(http, purpose) for purpose in PURPOSES}
        assert surge_state(database) is None
        # Watched from before the first accepted request, which may already raise the surge:
        # however briefly a raise lasts, it is seen.
        highest = watch.enter_context(difficulty_watched(base_url, base))

        # What one accepted submission and one accepted login store, to account for every row.
        before = row_counts(database)
        honest = reporter_keys(manifest)
        submit(http, manifest, honest)
        one_submission = row_counts(database)
        log_in(http, manifest, honest[1])
        one_login = row_counts(database)
        per_submission = {t: one_submission[t] - before[t] for t in before}
        per_login = {t: one_login[t] - one_submission[t] for t in before}
        # The server state changes only by the surge (accounted for below), which these first
        # requests may already raise.
        per_submission["server_state"] = per_login["server_state"] = 0
        spent_body = build_submission(
            manifest, challenge(http, "submit"), keys=throwaway_reporter()
        ).body
        assert (
            http.post(
                "/api/v1/cases",
                json=spent_body,
                headers={"Idempotency-Key": secrets.token_urlsafe(16)},
            ).status_code
            == 201
        )
        submissions, logins = 2, 1

        # The accepted requests above may already have raised the surge (two a minute on one worker
        # make a flood here); the flood below raises it anyway.
        surge_stored = surge_state(database) is not None
        start_counts = row_counts(database)
        start_blobs = files_under(server.workdir / "blobs")
        start_temporary = files_under(server.tmp_dir)
        rss_at_rest = server_rss_mib(server.process.pid)

        stop = threading.Event()
        junk = Junk(spent_body)
        peak = [rss_at_rest]
        background = [
            threading.Thread(target=junk.flood, args=(base_url, stop))
            for _ in range(JUNK_CONNECTIONS)
        ]
        background += [
            threading.Thread(target=slow_connections, args=(server.port, stop)),
            threading.Thread(target=watch_memory, args=(server.process.pid, stop, peak)),
        ]
        spammers = [
            threading.Thread(target=spam, args=(base_url, manifest, SPAM_SUBMISSIONS // 2))
            for _ in range(2)
        ]
        for thread in background + spammers:
            thread.start()
        try:
            for _ in range(HONEST_ROUNDS):
                keys = reporter_keys(manifest)
                submit(http, manifest, keys)
                log_in(http, manifest, keys[1])
            submissions += HONEST_ROUNDS
            logins += HONEST_ROUNDS
            for thread in spammers:
                thread.join()
            submissions += SPAM_SUBMISSIONS
        finally:
            stop.set()
            for thread in background:
                thread.join()
            watch.close()

        # The difficulty rose for all three proofs of work during the flood...
        assert all(highest[p] > base[p] for p in PURPOSES), (base, highest)
        # ... and falls back by itself once the flood is over.
        deadline = time.monotonic() + FALL_BACK_WITHIN_S
        while (now := {p: difficulty(http, p) for p in PURPOSES}) != base:
            assert time.monotonic() < deadline, (base, now)
            time.sleep(0.5)
        # After it, an honest reporter pays the usual price again.
        keys = reporter_keys(manifest)
        submit(http, manifest, keys)
        submissions += 1

        assert junk.sent > 100
        assert not junk.wrong, junk.wrong[:5]
        assert junk.refused == junk.sent
        # Every stored row is accounted for by an accepted submission or login: none by junk.
        # The surge itself is one value in the server state, stored once.
        end_counts = row_counts(database)
        expected = {
            table: start_counts[table]
            + (submissions - 2) * per_submission[table]
            + (logins - 1) * per_login[table]
            + (1 if table == "server_state" and not surge_stored else 0)
            for table in start_counts
        }
        assert end_counts == expected
        assert surge_state(database) is not None
        assert files_under(server.workdir / "blobs") == start_blobs
        assert files_under(server.tmp_dir) == start_temporary
        assert peak[0] - rss_at_rest < MEMORY_GROWTH_BOUND_MIB, (rss_at_rest, peak[0])
        assert server.process.poll() is None
        assert "Traceback" not in server.log()
