"""SIGKILL at random moments loses nothing acknowledged, duplicates nothing, shows nothing
half-written, and leaves nothing to clean up by hand.

Several reporter clients submit reports (some with a file uploaded in chunks), retry with the
same idempotency key whenever an answer is lost, log in with their code and add messages to
their thread, while the server (its own processes, never the session's shared server) is
killed with SIGKILL at random moments and started again. The clients behave as real ones do:
a lost answer is retried with the same request, an interrupted upload resumes from what the
server reports. At the end every receipt names a case stored exactly once that a member
decrypts, every acknowledged message is in its thread exactly once, every file reads back
whole, and no temporary blob is left. The kill moments and the clients' choices come from a
seeded random generator; the seed is printed (``SAFEVOICE_CRASH_SEED`` repeats it; thread
timing still varies between runs).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from safevoice.attachments.models import Attachment
from safevoice.cases.models import Case
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import create_case, member_label
from safevoice.crypto.encoding import b64e
from safevoice.crypto.login import sign_login
from safevoice.crypto.manifest import Manifest, parse_payload
from safevoice.crypto.receipt import Receipt
from safevoice.crypto.stream import CHUNK_CIPHERTEXT
from safevoice.instance import service as instance
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.reader import read_as_reporter, read_case
from safevoice.protocol.wire import CaseDetail, ReporterCaseView, SubmissionOut
from safevoice.storage.blobs import INCOMING
from safevoice.storage.db import Database
from tests.api.test_login import login_body
from tests.support.databases import DatabaseFactory
from tests.support.reporter import Submission
from tests.support.server import ServerProcess, free_port
from tests.support.world import World

# A longer run: SAFEVOICE_CRASH_KILLS=100 SAFEVOICE_CRASH_WORKERS=2.
KILLS = int(os.environ.get("SAFEVOICE_CRASH_KILLS", "10"))
# One worker by default: a start of two costs twice the CPU on a shared host and the suite's
# time budget. A kill takes every process at once either way; writers running side by side
# come from the worker's thread pool, and the start-up cleanup beside a live worker is tested
# with real processes in tests/attachments/test_stale_temporaries.py.
WORKERS = int(os.environ.get("SAFEVOICE_CRASH_WORKERS", "1"))
CLIENTS = 3
# How long the server runs between a start and its kill (seconds, drawn uniformly).
RUN_BETWEEN_KILLS = (0.2, 1.0)
# Long enough for the server to come back after a kill even on a loaded host.
GIVE_UP_AFTER = 120.0
STALE_REMOVED = re.compile(r"Start-up maintenance: (\d+) stale temporary blob")


class ServerDown(Exception):
    """No answer for GIVE_UP_AFTER seconds: the server did not come back."""


@dataclass
class Sent:
    submission: Submission
    key: str
    text: str
    chunks: list[bytes] = field(default_factory=list)
    upload_id: str | None = None
    receipt: SubmissionOut | None = None
    messages: list[str] = field(default_factory=list)
    token: str | None = None


class Reporter:
    """One reporter's client; it keeps retrying a step until the server gives an answer."""

    def __init__(
        self, base_url: str, manifest: Manifest, rng: random.Random, stop: threading.Event
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.manifest = manifest
        self.rng = rng
        self.stop = stop
        self.sent: list[Sent] = []
        self.failures: list[str] = []
        self.resends = 0
        self.new_challenges = 0
        self.cut_off = 0  # requests the kill interrupted after they reached the server

    def lost(self, exc: httpx.TransportError) -> None:
        if not isinstance(exc, httpx.ConnectError):
            self.cut_off += 1

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + GIVE_UP_AFTER
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                self.lost(exc)
                response = None
            if response is not None and response.status_code != 503:
                if response.status_code >= 500:
                    self.failures.append(f"{method} {path}: {response.status_code}")
                else:
                    return response
            if time.monotonic() > deadline:
                raise ServerDown(f"{method} {path}: no answer for {GIVE_UP_AFTER} s")
            time.sleep(0.05)

    def challenge(self, purpose: str) -> str:
        response = self.call("POST", "/api/v1/challenges", json={"purpose": purpose})
        assert response.status_code == 200, response.text
        return str(response.json()["challenge"])

    def with_proof(self, purpose: str, send: Callable[[str], httpx.Response]) -> httpx.Response:
        """Send a request that spends a challenge. When a kill lost the answer to an attempt
        that did spend it, the resend is refused, and a client asks for a new challenge."""
        while True:
            response = send(self.challenge(purpose))
            if (
                response.status_code != 400
                or response.json()["error"]["code"] != "challenge_rejected"
            ):
                return response
            self.new_challenges += 1

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                answered = [sent for sent in self.sent if sent.receipt is not None]
                if answered and self.rng.random() < 0.4:
                    self.follow_up(self.rng.choice(answered))
                else:
                    # The first report carries a file, so uploads are under way from the start.
                    self.submit(with_file=not self.sent or self.rng.random() < 0.4)
        except Exception as exc:  # noqa: BLE001  # reported by the test, with the seed, not lost in a thread
            self.failures.append(f"client stopped: {exc!r}")

    def upload(self, case_id: str, chunks: list[bytes]) -> str:
        def start(token: str) -> httpx.Response:
            proof = {"challenge": token, "solution": powmod.solve(powmod.parse(token))}
            return self.call("POST", "/api/v1/uploads", json={"case_id": case_id, "proof": proof})

        response = self.with_proof("upload", start)
        assert response.status_code in (200, 201), response.text
        upload_id = str(response.json()["id"])
        index = 0
        while index < len(chunks):
            try:
                answer = self.http.put(
                    f"/api/v1/uploads/{upload_id}/chunks/{index}",
                    content=chunks[index],
                    headers={"Content-Type": "application/octet-stream"},
                )
            except httpx.TransportError as exc:
                self.lost(exc)
                answer = None
            if answer is not None and answer.status_code < 500:
                assert answer.status_code == 200, answer.text
                index = answer.json()["received"]
                continue
            # Interrupted: resume from what the server holds, as the clients do.
            status = self.call("GET", f"/api/v1/uploads/{upload_id}")
            assert status.status_code == 200, status.text
            index = status.json()["received"]
        finish = self.call(
            "POST", f"/api/v1/uploads/{upload_id}/finish", json={"chunks": len(chunks)}
        )
        assert finish.status_code == 200, finish.text
        return upload_id

    def submit(self, *, with_file: bool) -> None:
        text = f"Report {secrets.token_hex(8)}: the scales are rigged."
        code, keys = reporter_steps.new_reporter(self.manifest)
        case = create_case(
            self.manifest, keys, channel="general", text=text, answers={"where": "Depot"}
        )
        chunks: list[bytes] = []
        upload_id = None
        if with_file:
            chunks = [self.rng.randbytes(CHUNK_CIPHERTEXT) for _ in range(self.rng.randint(1, 3))]
            upload_id = self.upload(b64e(case.case_id), chunks)
        body = reporter_steps.submission_body(
            case,
            keys,
            channel="general",
            challenge=self.challenge("submit"),
            uploads=[upload_id] if upload_id else None,
        )
        sub = Submission(body=body, code=code, reporter=keys, case=case)
        sent = Sent(sub, secrets.token_urlsafe(18), text, chunks=chunks, upload_id=upload_id)
        self.sent.append(sent)
        headers = {"Idempotency-Key": sent.key}
        response = self.call("POST", "/api/v1/cases", json=sub.body, headers=headers)
        assert response.status_code == 201, response.text
        sent.receipt = SubmissionOut.model_validate_json(response.content)
        if self.rng.random() < 0.3:
            # A retry after the answer arrived (the reporter pressed submit again).
            again = self.call("POST", "/api/v1/cases", json=sub.body, headers=headers)
            self.resends += 1
            if again.status_code != 201 or again.json() != response.json():
                self.failures.append(f"a retry got another answer: {again.status_code}")

    def login(self, sent: Sent) -> None:
        if sent.token is not None:
            return
        keys = sent.submission.reporter

        def log_in(token: str) -> httpx.Response:
            parsed = powmod.parse(token)
            body = {
                "sign_key": b64e(keys.sign_public),
                "challenge": token,
                "solution": powmod.solve(parsed),
                "signature": b64e(sign_login(keys.sign_seed, self.manifest.instance_id, parsed)),
            }
            return self.call("POST", "/api/v1/reporter/login", json=body)

        response = self.with_proof("reporter-login", log_in)
        assert response.status_code == 200, response.text
        sent.token = str(response.json()["token"])

    def view(self, sent: Sent) -> ReporterCaseView:
        assert sent.token is not None
        response = self.call(
            "GET", "/api/v1/reporter/case", headers={"Authorization": f"Bearer {sent.token}"}
        )
        assert response.status_code == 200, response.text
        return ReporterCaseView.model_validate_json(response.content)

    def follow_up(self, sent: Sent) -> None:
        self.login(sent)
        assert sent.token is not None
        text = f"Message {secrets.token_hex(8)}"
        view = self.view(sent)
        read = read_as_reporter(view, reporter=sent.submission.reporter, manifest=self.manifest)
        assert not read.problems, read.problems
        envelope = reporter_steps.next_message(
            read,
            sent.submission.reporter,
            case_id=sent.submission.case.case_id,
            epoch=view.case.epoch,
            text=text,
        )
        body = {"envelope": envelope.to_json(), "uploads": []}
        auth = {"Authorization": f"Bearer {sent.token}"}
        while True:
            try:
                response = self.http.post("/api/v1/reporter/objects", json=body, headers=auth)
            except httpx.TransportError as exc:
                self.lost(exc)
                response = None
            if response is not None and response.status_code == 201:
                sent.messages.append(text)
                return
            if response is not None and response.status_code not in (409, 503):
                self.failures.append(f"a message got {response.status_code}: {response.text}")
                return
            # The answer was lost, or the message is already there: look before resending.
            again = read_as_reporter(
                self.view(sent), reporter=sent.submission.reporter, manifest=self.manifest
            )
            if text in [o.text for o in again.thread()]:
                sent.messages.append(text)
                return
            if response is not None and response.status_code == 409:
                self.failures.append("a message was refused although it is not in the thread")
                return


def plant_half_written_chunk(blob_dir: Path) -> Path | None:
    """Leave what a kill during a chunk write leaves (a half-written, unlocked temporary file),
    so that every run sees a start remove one, whatever the kills happened to hit."""
    folders = sorted(path for path in blob_dir.glob("*") if path.is_dir())
    if not folders:
        return None
    planted = folders[0] / f"{INCOMING}left-by-a-kill"
    planted.write_bytes(b"\0" * (CHUNK_CIPHERTEXT // 2))
    return planted


def stale_removed(workdir: Path) -> int:
    return sum(
        int(count)
        for log in workdir.glob("run-*/server.log")
        for count in STALE_REMOVED.findall(log.read_text(errors="replace"))
    )


def test_sigkill_at_random_moments_loses_duplicates_and_half_shows_nothing(
    db_factory: DatabaseFactory, world: World, tmp_path: Path
) -> None:
    seed = int(os.environ.get("SAFEVOICE_CRASH_SEED") or secrets.randbits(32))
    print(f"crash test seed {seed} (SAFEVOICE_CRASH_SEED={seed} repeats it)")
    rng = random.Random(seed)
    url = db_factory.clone()
    port = free_port()
    blob_dir = tmp_path / "blobs"
    runs = iter(range(KILLS + 1))

    def start() -> ServerProcess:
        return ServerProcess.start(
            url,
            tmp_path / f"run-{next(runs)}",
            port=port,
            workers=WORKERS,
            extra_env={"SAFEVOICE_BLOB_DIR": str(blob_dir)},
        )

    server = start()
    database = Database.connect(url, pool_size=1)
    stop = threading.Event()
    reporters: list[Reporter] = []
    try:
        with database.session(write=False) as session:
            signed = instance.current_signed_manifest(session)
        assert signed is not None
        manifest = parse_payload(signed.payload)
        reporters = [
            Reporter(server.direct_url, manifest, random.Random(rng.random()), stop)
            for _ in range(CLIENTS)
        ]
        threads = [threading.Thread(target=r.run, daemon=True) for r in reporters]
        for thread in threads:
            thread.start()
        planted: Path | None = None
        for _ in range(KILLS):
            time.sleep(rng.uniform(*RUN_BETWEEN_KILLS))
            server.kill()
            if planted is None:
                planted = plant_half_written_chunk(blob_dir)
            server = start()
        time.sleep(RUN_BETWEEN_KILLS[1])
        stop.set()
        for thread in threads:
            thread.join(timeout=GIVE_UP_AFTER)
        assert not any(thread.is_alive() for thread in threads), f"a client hung (seed {seed})"
        failures = [failure for r in reporters for failure in r.failures]
        assert not failures, f"seed {seed}: {failures}"

        sent = [s for r in reporters for s in r.sent]
        cut_off = sum(r.cut_off for r in reporters)
        assert cut_off > 0, f"seed {seed}: no kill interrupted a request; the test proved nothing"
        check_cases_and_messages(server, database, manifest, world, sent, seed)
        check_blobs(blob_dir, seed)
        assert planted is not None, f"seed {seed}: no upload folder to leave a temporary in"
        assert stale_removed(tmp_path) >= 1, "the start-up did not count what it removed"
        logs = "".join(log.read_text(errors="replace") for log in tmp_path.glob("run-*/*.log"))
        assert "Traceback" not in logs, f"seed {seed}:\n{logs}"
        print(
            f"{KILLS} kills: {len(sent)} submissions "
            f"({sum(1 for s in sent if s.upload_id)} with a file), "
            f"{sum(len(s.messages) for s in sent)} messages, "
            f"{cut_off} requests cut off by a kill, "
            f"{sum(r.resends for r in reporters)} resends after an answer, "
            f"{sum(r.new_challenges for r in reporters)} new challenges after a lost answer, "
            f"{stale_removed(tmp_path)} stale temporary blobs removed at start-up"
        )
    finally:
        stop.set()
        for reporter in reporters:
            reporter.http.close()
        database.dispose()
        server.stop()
        db_factory.drop(url)


def check_cases_and_messages(
    server: ServerProcess,
    database: Database,
    manifest: Manifest,
    world: World,
    sent: list[Sent],
    seed: int,
) -> None:
    assert sent, "no submission was made"
    assert all(s.receipt is not None for s in sent), f"seed {seed}: a submission got no answer"
    with database.session(write=False) as session:
        stored = list(session.scalars(select(Case.id)))
        attached = {a.upload_id: a.case_id for a in session.scalars(select(Attachment))}
    # Every receipt names a case stored exactly once, and nothing else was stored.
    assert sorted(stored) == sorted(s.submission.case_id for s in sent), f"seed {seed}"
    alice = world.members["alice"]
    with httpx.Client(base_url=server.direct_url, timeout=60) as http:
        token = http.post("/api/v1/challenges", json={"purpose": "member-login"}).json()
        login = http.post("/api/v1/login", json=login_body(alice, manifest, token["challenge"]))
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        for s in sent:
            assert s.receipt is not None
            receipt = Receipt.from_json(s.receipt.receipt.model_dump())
            receipt.verify(manifest.receipt_key)
            assert receipt.report_hash == s.submission.case.report.transcript_hash()
            detail = CaseDetail.model_validate_json(
                http.get(f"/api/v1/cases/{s.submission.case_id}").content
            )
            read = read_case(detail, keys=alice, label=member_label("alice"), manifest=manifest)
            assert not read.problems, f"seed {seed}: {read.problems}"
            assert read.report is not None
            assert read.report.text == s.text
            # Each acknowledged message is in the thread exactly once, in the order sent.
            assert [o.text for o in read.thread() if o.kind == "message"] == s.messages, (
                f"seed {seed}"
            )
            if s.upload_id is None:
                continue
            assert attached.get(s.upload_id) == s.submission.case_id, f"seed {seed}"
            for index, chunk in enumerate(s.chunks):
                got = http.get(f"/api/v1/uploads/{s.upload_id}/chunks/{index}")
                assert got.status_code == 200, got.text
                assert got.content == chunk, f"seed {seed}: chunk {index} is not whole"
            beyond = http.get(f"/api/v1/uploads/{s.upload_id}/chunks/{len(s.chunks)}")
            assert beyond.status_code == 404
            assert beyond.json()["error"]["message"], "reading past the end is a clear refusal"


def check_blobs(blob_dir: Path, seed: int) -> None:
    """What a kill left mid-write is gone (the next start removed it); no chunk is partial."""
    files = [path for path in blob_dir.glob("*/*") if path.is_file()]
    leftovers = [path.name for path in files if path.name.startswith(INCOMING)]
    assert not leftovers, f"seed {seed}: temporary blobs left behind: {leftovers}"
    sizes = {path.stat().st_size for path in files}
    assert sizes <= {CHUNK_CIPHERTEXT}, f"seed {seed}: a partial chunk is visible: {sizes}"
