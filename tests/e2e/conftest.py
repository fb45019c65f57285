"""Fixtures for the end-to-end tests: a fresh conversation per test on the session server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.cluster import Cluster
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World


@pytest.fixture
def conversation(cli: Cli, server: ServerProcess, world: World, tmp_path: Path) -> Conversation:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(cli, server, world, "The scales are rigged.", answers=answers)
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    talk.login()
    return talk


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Database]:
    database = Database.connect(server.database_url, pool_size=1)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of the tests' own on another port, which a test may stop, freeze or
    fill up (and must leave running); started once for all the tests that need one."""
    cluster = Cluster.create()
    yield cluster
    cluster.destroy()
