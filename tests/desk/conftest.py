"""A desk for one member, running in this process against the session's real server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from safevoice.desk.server import DeskServer
from safevoice.desk.state import Desk
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.server import ServerProcess
from tests.support.world import PASSPHRASE, World


@dataclass
class FakeClock:
    now: float = field(default_factory=time.monotonic)

    def __call__(self) -> float:
        return self.now


@dataclass
class DeskHarness:
    desk: Desk
    runner: DeskServer
    http: httpx.Client
    server: ServerProcess
    world: World
    clock: FakeClock
    home: Path

    @property
    def origin(self) -> str:
        return self.runner.admission.origin

    @property
    def csrf(self) -> str:
        return self.runner.admission.csrf

    def admit(self) -> httpx.Response:
        return self.http.get(self.runner.admission.open_url)

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Origin": self.origin, "Sec-Fetch-Site": "same-origin"}
        headers.update(kwargs.pop("headers", {}))
        return self.http.post(
            path, data={"csrf": self.csrf, **(data or {})}, headers=headers, **kwargs
        )

    def unlock(self, member: str = "alice", passphrase: str = PASSPHRASE) -> httpx.Response:
        return self.post(
            "/unlock",
            {
                "server": self.server.url,
                "key_file": str(self.world.key_file(member)),
                "pin": self.world.pin,
                "passphrase": passphrase,
            },
        )


@pytest.fixture
def desk(server: ServerProcess, world: World, tmp_path: Path) -> Iterator[DeskHarness]:
    clock = FakeClock()
    home = tmp_path / "member-home"
    state = Desk(home=home, server=None, key_file=None, pin=None, clock=clock)
    runner = DeskServer(state)
    thread = runner.start_in_thread()
    deadline = time.monotonic() + 10
    while not runner.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    http = httpx.Client(base_url=runner.admission.origin, timeout=60)
    yield DeskHarness(state, runner, http, server, world, clock, home)
    http.close()
    runner.stop()
    thread.join(timeout=10)


@pytest.fixture
def unlocked(desk: DeskHarness) -> DeskHarness:
    assert desk.admit().status_code == 303
    response = desk.unlock()
    assert response.status_code == 303, response.text
    return desk


@dataclass
class Reported:
    case_id: str
    code: str
    text: str


@pytest.fixture
def reported(cli: Cli, server: ServerProcess, world: World, tmp_path: Path) -> Reported:
    text = f"The forklift brakes in hall C fail. ref-{tmp_path.name}"
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Hall C"}))
    submitted = submit_with_cli(cli, server, world, text, answers=answers)
    return Reported(submitted["case_id"], submitted["code"], text)
