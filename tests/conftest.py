"""Fixtures shared by the whole suite.

Every database test runs against SQLite and PostgreSQL (``db_kind``). Template databases are
built once per session by the migrations and cloned per test; one real server per database
kind serves the end-to-end tests for the whole session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from typer.testing import CliRunner

from safevoice.crypto.manifest import Manifest, parse_payload
from safevoice.instance import service as instance
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web import bundle
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.support.asgi import client_for
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.databases import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.world import PASSPHRASE, World

DB_KINDS = ("sqlite", "postgresql")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each database's tests on one worker when the suite runs in parallel.

    `make test` runs two pytest-xdist workers with ``--dist loadgroup``: every test of one
    database kind goes to the same worker, so each worker builds one set of templates and starts
    one real server and one browser for its database, as a serial run does; tests that use no
    database are shared between the workers as they become free. Without xdist the mark is inert.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("db_kind") if callspec is not None else None
        if kind is None and "pg_factory" in getattr(item, "fixturenames", ()):
            kind = "postgresql"
        if kind is not None:
            item.add_marker(pytest.mark.xdist_group(str(kind)))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World.create(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session", params=DB_KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def db_factory(
    db_kind: str, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(db_kind, tmp_path_factory.mktemp(f"db-{db_kind}"), world).build()
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def pg_factory(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """PostgreSQL only, for the tests that are about PostgreSQL by nature (several hosts)."""
    factory = DatabaseFactory("postgresql", tmp_path_factory.mktemp("db-pg-only"), world).build()
    yield factory
    factory.close()


@pytest.fixture
def database_url(db_factory: DatabaseFactory) -> Iterator[str]:
    url = db_factory.clone()
    yield url
    db_factory.drop(url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database.connect(database_url, pool_size=4)
    yield db
    db.dispose()


@pytest.fixture
def manifest(database: Database) -> Manifest:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    return parse_payload(signed.payload)


@pytest.fixture
def blob_spec(tmp_path: Path) -> str:
    """Where the in-process app keeps attachment chunks (a folder by default)."""
    return f"fs:{tmp_path / 'blobs'}"


@pytest.fixture
def client(database: Database, database_url: str, blob_spec: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=database_url, snapshot_ttl_seconds=0, blob_store=blob_spec)
    app = create_app(settings, database=database)
    with client_for(app) as http:
        yield http


@pytest.fixture(scope="session")
def web_bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The reporter pages' release bundle for the test committee's root."""
    return bundle.build(
        pin=world.pin,
        out=tmp_path_factory.mktemp("bundle") / "pages",
        node_modules=bundle.default_node_modules(),
    )


@pytest.fixture(scope="session")
def server(
    db_factory: DatabaseFactory, web_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    url = db_factory.clone()
    process = ServerProcess.start(
        url,
        tmp_path_factory.mktemp(f"server-{db_factory.kind}"),
        extra_env={"SAFEVOICE_BUNDLE_DIR": str(web_bundle.folder)},
    )
    yield process
    process.stop()
    db_factory.drop(url)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver for the whole session (its sync API allows only one)."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """A plain headless Chromium for tests that only need to render something."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


class Cli:
    """Runs the command-line tools in-process with an isolated home and the test passphrase."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def _run(
        self,
        app: Any,
        args: list[str],
        stdin: str | None,
        env: dict[str, str] | None,
        expect: int | None,
    ) -> Any:
        result = self.runner.invoke(
            app,
            args,
            input=stdin,
            env={
                "SAFEVOICE_HOME": str(self.home),
                "SAFEVOICE_PASSPHRASE": PASSPHRASE,
                **(env or {}),
            },
            catch_exceptions=False,
        )
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code}, expected {expect}\nstdout:\n{result.stdout}\n"
                f"stderr:\n{result.stderr}"
            )
        return result

    def safevoice(
        self,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        expect: int | None = 0,
    ) -> Any:
        from safevoice.cli.main import app

        return self._run(app, list(args), stdin, env, expect)

    def report(
        self,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        expect: int | None = 0,
    ) -> Any:
        from safevoice.cli.report import app

        return self._run(app, list(args), stdin, env, expect)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")
