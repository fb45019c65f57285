"""Production mode as an operator meets it: ``safevoice serve`` (and uvicorn's workers, started
any other way) refuse to start with one sentence, exit status 78 and no traceback; a sound
instance starts and serves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text, update

from safevoice.instance.models import Channel
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.support.databases import DatabaseFactory
from tests.support.production import make_bundle, production_env
from tests.support.server import ServerProcess, free_port
from tests.support.world import World

BIN = Path(sys.executable).parent
EXIT_CONFIG = 78


def serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "safevoice"), "serve", "--port", str(free_port()), "--workers", "2"],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_CONFIG, output
    assert "Traceback" not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: ")
    assert expected in lines[0]


def with_database(url: str, statement: str) -> None:
    database = Database.connect(url, pool_size=1)
    try:
        with database.writer.begin() as connection:
            connection.execute(text(statement))
    finally:
        database.dispose()


def drop_retention(url: str) -> None:
    database = Database.connect(url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            session.execute(
                update(Channel).where(Channel.name == "general").values(retain_max_days=0)
            )
    finally:
        database.dispose()


def tamper(bundle: Path) -> None:
    """Change one byte of a script behind the bundle record's back (ownership stays right)."""
    script = sorted((bundle / "static").glob("page.*.js"))[0]
    mode = script.stat().st_mode
    script.chmod(0o644)
    script.write_bytes(script.read_bytes().replace(b"function", b"functiom", 1))
    script.chmod(mode)


# Problems found before the database is opened (the same on every database kind) ...
SETTINGS_BREAKERS: dict[str, tuple[Callable[[Path, dict[str, str]], object], str]] = {
    "placeholder password": (
        lambda bundle, env: env.update(
            SAFEVOICE_DATABASE_URL="postgresql://safevoice:changeme@127.0.0.1:5432/safevoice"
        ),
        "The database password in the database URL is a placeholder",
    ),
    "bundle writable": (
        lambda bundle, env: (bundle / "static").chmod(0o777),
        "static is writable by every user",
    ),
    "bundle changed": (
        lambda bundle, env: tamper(bundle),
        "does not match its record",
    ),
}
# ... and problems in the database, on SQLite and PostgreSQL.
DATABASE_BREAKERS: dict[str, tuple[Callable[[str], object], str]] = {
    "newer schema": (
        lambda url: with_database(url, "UPDATE alembic_version SET version_num = '9999_future'"),
        "which this SafeVoice version does not know",
    ),
    "no retention policy": (
        drop_retention,
        "The channel 'general' has no complete retention policy",
    ),
}


@pytest.mark.parametrize("breaker", list(SETTINGS_BREAKERS))
def test_serve_refuses_unsafe_settings_in_one_sentence(
    breaker: str, web_bundle: Bundle, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path, web_bundle)
    env = production_env(f"sqlite:///{tmp_path / 'never-opened.sqlite'}", bundle)
    breaks, expected = SETTINGS_BREAKERS[breaker]
    breaks(bundle, env)

    assert_refused(serve(env, tmp_path), expected)
    assert not (tmp_path / "never-opened.sqlite").exists()


@pytest.mark.parametrize("breaker", list(DATABASE_BREAKERS))
def test_serve_refuses_an_unsafe_database_in_one_sentence(
    breaker: str, database_url: str, web_bundle: Bundle, tmp_path: Path
) -> None:
    breaks, expected = DATABASE_BREAKERS[breaker]
    breaks(database_url)
    env = production_env(database_url, make_bundle(tmp_path, web_bundle))

    assert_refused(serve(env, tmp_path), expected)


def test_serve_refuses_the_demo_instance_in_production_mode(
    cli: Cli, web_bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli.safevoice("demo", "--prepare-only")
    demo_database = f"sqlite:///{tmp_path / 'var/demo/safevoice.sqlite'}"
    env = production_env(demo_database, make_bundle(tmp_path, web_bundle))

    assert_refused(serve(env, tmp_path), "set up by `safevoice demo`")


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_workers_started_without_safevoice_serve_refuse_too(
    workers: int, web_bundle: Bundle, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path, web_bundle)
    (bundle / "bundle.json").chmod(0o666)
    env = production_env(f"sqlite:///{tmp_path / 'never-opened.sqlite'}", bundle)
    result = subprocess.run(
        [
            str(BIN / "uvicorn"),
            "--factory",
            "safevoice.web.app:app_from_env",
            "--port",
            str(free_port()),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr

    assert "SafeVoice refuses to start: The release bundle" in output
    assert "bundle.json is writable by every user" in output
    assert "Traceback" not in output
    # One worker runs in uvicorn's own process: its "failed to start" status is the exit
    # status. With several, uvicorn's supervisor stops the server once a worker fails so,
    # instead of starting it again and again.
    assert result.returncode == (3 if workers == 1 else 0)
    if workers > 1:
        assert "failed to start, stopping the parent process" in output


def test_a_sound_instance_starts_in_production_mode_and_serves(
    world: World, web_bundle: Bundle, tmp_path: Path
) -> None:
    """On SQLite, the single-host default (tests/e2e/test_shared_state.py starts two servers in
    production mode on PostgreSQL)."""
    factory = DatabaseFactory("sqlite", tmp_path, world).build()
    url = factory.clone()
    server = ServerProcess.start(
        url, tmp_path / "server", extra_env=production_env(url, make_bundle(tmp_path, web_bundle))
    )
    try:
        answer = httpx.get(f"{server.url}/api/v1/intake", timeout=30)
    finally:
        server.stop()

    assert answer.status_code == 200
    assert answer.json()["challenge"]["purpose"] == "submit"
    assert "refuses" not in server.log()
    assert "Error" not in server.log()
