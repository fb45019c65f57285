"""``safevoice serve``'s logging: the level is the operator's, the access log is never on."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from safevoice.cli.main import app
from safevoice.cli.serve import log_config


def test_the_log_level_applies_to_safevoice_and_uvicorn_but_never_opens_the_access_log() -> None:
    config = log_config("WARNING")
    loggers = config["loggers"]

    assert loggers["safevoice"]["level"] == "WARNING"
    assert loggers["uvicorn.error"]["level"] == "WARNING"
    assert loggers["uvicorn.access"] == {"handlers": [], "level": "CRITICAL", "propagate": False}
    assert "%(client_addr)s" not in str(config)


def _served_with(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> Any:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("safevoice.cli.serve.uvicorn.run", lambda *a, **kw: calls.append(kw))
    for name in ("SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT", "SAFEVOICE_PRODUCTION"):
        # Recorded first, so that what ``serve`` writes to the environment is undone after.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    return result, calls


def test_workers_get_a_generous_health_check_timeout_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, calls = _served_with(monkeypatch, [], {})

    assert result.exit_code == 0, result.output
    # uvicorn's own 5 s kills workers that are only slow on a saturated host.
    assert calls[0]["timeout_worker_healthcheck"] == 120
    assert calls[0]["workers"] == 2


def test_the_health_check_timeout_comes_from_the_environment_or_the_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, from_env = _served_with(monkeypatch, [], {"SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT": "300"})
    _, from_option = _served_with(monkeypatch, ["--worker-healthcheck-timeout", "45"], {})

    assert from_env[0]["timeout_worker_healthcheck"] == 300
    assert from_option[0]["timeout_worker_healthcheck"] == 45


def test_a_zero_health_check_timeout_is_refused_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, calls = _served_with(monkeypatch, [], {"SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT": "0"})

    assert result.exit_code == 78
    assert "SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT must be at least 1 second." in result.output
    assert "Traceback" not in result.output
    assert calls == []
