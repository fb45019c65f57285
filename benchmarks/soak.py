"""A steady mixed load for a bounded number of minutes, watching the server's resources.

For SQLite and PostgreSQL (or one of them): start the real server (two workers), then keep a
steady mix going for ``--minutes``: submissions (every fourth with an attachment uploaded
beforehand under an ``upload`` proof of work), reporter logins with a follow-up message
(every other one with an attachment), and a committee member's syncs (every case, a page at
a time, as `safevoice cases sync` and the desk fetch them). Each client pauses ``--pause``
seconds between its steps, so the load is steady rather than saturating. Every
``--sample-seconds`` (a minute by default) the resident memory of every server process
(summed, and per process), their open file descriptors and the database size are sampled; on
PostgreSQL the connections the server holds are counted every two seconds
(``pg_stat_activity``) and their peak reported beside the pools' ceiling.

Before the clock starts, ``--prefill`` reports (by default one full page of the member's sync,
500) are submitted, so that the member's worker holds a full page from the first sample on:
without them the soak measured that worker growing while the first page filled (README,
"Reliability"). Memory growth is the slope of a least-squares line through the samples after
the first minute (start-up and first-use allocations), in MiB per 10 minutes, and again through
the second half of the run alone: memory that levels off after a warm-up is flat there, memory
that leaks is not.

Usage: .venv/bin/python -m benchmarks.soak [--minutes 3] [--db both] [--allow-busy]
Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import io
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.harness import (
    Instance,
    LoadWatch,
    add_busy_option,
    fresh_database,
    running_server,
    safevoice_server,
    server_pids,
    set_up,
)
from benchmarks.ingest import random_reporter
from safevoice.client.api import EXPORT_PAGE, Api
from safevoice.client.files import upload_stream
from safevoice.client.patience import Patience
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import create_case
from safevoice.crypto.code import ReporterKeys
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.envelope import new_case_id
from safevoice.crypto.login import sign_login
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.reader import read_as_reporter
from safevoice.settings import Settings

WORKERS = 2
PG_POLL_SECONDS = 2.0
ATTACHMENT_BYTES = 48 * 1024


@dataclass
class Tally:
    done: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    cases: list[tuple[str, ReporterKeys]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, name: str, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - a soak counts every failure and goes on
            with self.lock:
                self.errors[name] += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        else:
            with self.lock:
                self.done[name] += 1


@dataclass
class Sample:
    minute: float
    rss_mib: float
    rss_by_process_mib: list[float]
    open_fds: int
    database_mib: float


def proof(api: Api, purpose: str) -> tuple[powmod.Challenge, str]:
    challenge = powmod.parse(api.challenge(purpose).challenge)
    return challenge, powmod.solve(challenge)


def attachment(api: Api, start: Callable[[], str]) -> dict[str, Any]:
    data = io.BytesIO(secrets.token_bytes(ATTACHMENT_BYTES))
    return upload_stream(
        api, data, name="photo.jpg", size=ATTACHMENT_BYTES, start=start, label="photo.jpg"
    )


class Clients:
    """What the reporters and a committee member do, one step per call."""

    def __init__(self, base: str, inst: Instance, tally: Tally) -> None:
        self.base = base
        self.inst = inst
        self.tally = tally
        self.submitted = 0
        self.followed_up = 0
        self.member_logged_in = False

    def submit(self, api: Api) -> None:
        reporter = random_reporter()
        case_id = new_case_id()
        files: list[dict[str, Any]] = []
        self.submitted += 1
        if self.submitted % 4 == 0:

            def start() -> str:
                challenge, solution = proof(api, "upload")
                pow_ = {"challenge": challenge.token, "solution": solution}
                return api.start_upload(b64e(case_id), proof=pow_).id

            files.append(attachment(api, start))
        case = create_case(
            self.inst.manifest,
            reporter,
            channel="general",
            text="Soak report: " + secrets.token_hex(200),
            attachments=files or None,
            case_id=case_id,
        )
        challenge, solution = proof(api, "submit")
        body = reporter_steps.submission_body(
            case,
            reporter,
            channel="general",
            challenge=challenge.token,
            solution=solution,
            uploads=[f["upload_id"] for f in files],
        )
        # No patience: a soak counts a failure rather than hiding it behind a retry.
        api.submit(body, idempotency_key=secrets.token_urlsafe(16), patience=Patience(seconds=0))
        with self.tally.lock:
            self.tally.cases.append((b64e(case_id), reporter))

    def follow_up(self) -> None:
        with self.tally.lock:
            if not self.tally.cases:
                return
            case_id, reporter = random.choice(self.tally.cases)
        self.followed_up += 1
        with Api(self.base, timeout=60) as api:
            challenge, solution = proof(api, "reporter-login")
            signature = sign_login(reporter.sign_seed, self.inst.manifest.instance_id, challenge)
            token = api.reporter_login(
                sign_key=b64e(reporter.sign_public),
                challenge=challenge.token,
                solution=solution,
                signature=b64e(signature),
            )
            api.set_token(token.token)
            view = api.reporter_case()
            read = read_as_reporter(view, reporter=reporter, manifest=self.inst.manifest)
            files = []
            if self.followed_up % 2 == 0:
                files.append(attachment(api, lambda: api.start_upload(case_id).id))
            envelope = reporter_steps.next_message(
                read,
                reporter,
                case_id=b64d(case_id, size=16),
                epoch=view.case.epoch,
                text="More detail: " + secrets.token_hex(100),
                attachments=files or None,
            )
            api.post_reporter_object(envelope.to_json(), uploads=[f["upload_id"] for f in files])

    def member_sync(self, api: Api) -> None:
        member = self.inst.members[0]
        if not self.member_logged_in:
            challenge = api.challenge("member-login").challenge
            signature = sign_login(
                member.sign_seed, self.inst.manifest.instance_id, powmod.parse(challenge)
            )
            api.set_token(
                api.login(
                    role="member",
                    member_id=member.public.id,
                    challenge=challenge,
                    signature=b64e(signature),
                ).token
            )
            self.member_logged_in = True
        # What `safevoice cases sync` and the desk fetch: every readable case, a page at a time
        # (the unpaged case list, `cases list`, is left out: see the README, "Reliability").
        for _ in api.export_cases():
            pass


def loop(tally: Tally, name: str, step: Callable[[], None], until: float, pause: float) -> None:
    while time.monotonic() < until:
        tally.run(name, step)
        time.sleep(pause)


def fd_count(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
    return total


def rss_by_process(pids: list[int]) -> list[float]:
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sorted(sizes)


def database_bytes(url: str) -> int:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        main = Path(str(parsed.database))
        return sum(p.stat().st_size for p in (main, Path(f"{main}-wal")) if p.exists())
    with psycopg.connect(_plain(url)) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def connections(url: str) -> int:
    """Connections to this database held by anyone but the asking one (the server's)."""
    name = make_url(url).database
    with psycopg.connect(_plain(url)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def slope_per_10_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB per 10 minutes."""
    if len(points) < 2:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x = statistics.fmean(xs)
    denominator = sum((x - mean_x) ** 2 for x in xs)
    if denominator == 0:
        return None
    numerator = sum((x - mean_x) * (y - statistics.fmean(ys)) for x, y in points)
    return round(numerator / denominator * 600, 2)


def pool_ceiling(workers: int) -> int:
    """The most PostgreSQL connections the server's pools may open: per worker, the engine's
    pool plus its overflow (reader and writer share it on PostgreSQL)."""
    settings = Settings()
    return workers * 2 * settings.db_pool_size


def prefill(clients: Clients, base: str, count: int) -> None:
    """Submit ``count`` reports (every fourth with an attachment) before the clock starts, so
    that the member's first page of cases is full from the first sample on."""
    with Api(base, timeout=60) as api:
        for _ in range(count):
            clients.submit(api)


def run(
    kind: str, *, minutes: float, sample_seconds: float, pause: float, prefilled: int
) -> dict[str, Any]:
    with fresh_database(kind) as url:
        inst = set_up(url)
        env = {"SAFEVOICE_FLOOD_PER_MINUTE": "0", "SAFEVOICE_LOG_LEVEL": "WARNING"}
        with running_server(safevoice_server(url, workers=WORKERS), env=env) as (base, process):
            tally = Tally()
            clients = Clients(base, inst, tally)
            prefill(clients, base, prefilled)
            started = time.monotonic()
            until = started + minutes * 60
            submit_api = Api(base, timeout=60)
            member_api = Api(base, timeout=60)
            threads = [
                threading.Thread(
                    target=loop,
                    args=(tally, "submission", lambda: clients.submit(submit_api), until, pause),
                ),
                threading.Thread(
                    target=loop, args=(tally, "follow_up", clients.follow_up, until, pause)
                ),
                threading.Thread(
                    target=loop,
                    args=(
                        tally,
                        "member_sync",
                        lambda: clients.member_sync(member_api),
                        until,
                        pause,
                    ),
                ),
            ]
            for thread in threads:
                thread.start()
            samples: list[Sample] = []
            peak_connections = 0
            next_sample = started
            while time.monotonic() < until + 0.5:
                now = time.monotonic()
                if kind == "postgresql":
                    peak_connections = max(peak_connections, connections(url))
                if now >= next_sample:
                    pids = server_pids(process.pid)
                    per_process = rss_by_process(pids)
                    samples.append(
                        Sample(
                            minute=round((now - started) / 60, 2),
                            rss_mib=round(sum(per_process), 1),
                            rss_by_process_mib=per_process,
                            open_fds=fd_count(pids),
                            database_mib=round(database_bytes(url) / 2**20, 2),
                        )
                    )
                    next_sample += sample_seconds
                time.sleep(min(PG_POLL_SECONDS, max(0.0, next_sample - time.monotonic())))
            for thread in threads:
                thread.join()
            submit_api.close()
            member_api.close()
    warm = [(s.minute * 60, s.rss_mib) for s in samples if s.minute >= 1]
    # Caches and the heap's high-water mark fill while the database grows past what the first
    # minutes need; memory that levels off is flat in the second half, memory that leaks is not.
    second_half = [(s.minute * 60, s.rss_mib) for s in samples if s.minute >= minutes / 2]
    result: dict[str, Any] = {
        "prefilled_cases": prefilled,
        "operations": dict(tally.done),
        "errors": sum(tally.errors.values()),
        "error_samples": tally.error_samples,
        "samples": [asdict(s) for s in samples],
        "rss_growth_mib_per_10_min": slope_per_10_min(warm),
        "rss_growth_second_half_mib_per_10_min": slope_per_10_min(second_half),
        "fd_growth": samples[-1].open_fds - samples[0].open_fds if samples else None,
    }
    if kind == "postgresql":
        result["peak_connections"] = peak_connections
        result["pool_ceiling_connections"] = pool_ceiling(WORKERS)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--prefill",
        type=int,
        default=EXPORT_PAGE,
        help="reports submitted before the clock starts (default: one full page of the "
        "member's sync, so that what a page costs the server is there from the first sample)",
    )
    add_busy_option(parser)
    options = parser.parse_args()
    watch = LoadWatch(allow_busy=options.allow_busy)
    kinds = ("sqlite", "postgresql") if options.db == "both" else (options.db,)
    result: dict[str, Any] = {"minutes": options.minutes, "workers": WORKERS}
    for kind in kinds:
        result[kind] = run(
            kind,
            minutes=options.minutes,
            sample_seconds=options.sample_seconds,
            pause=options.pause,
            prefilled=options.prefill,
        )
    figures = [f"{kind}.rss_growth_mib_per_10_min" for kind in kinds]
    figures += [f"{kind}.rss_growth_second_half_mib_per_10_min" for kind in kinds]
    watch.emit(result, figures=figures)


if __name__ == "__main__":
    main()
