"""Settings from the environment: the database URL from a file, secrets kept out of repr, and
clear sentences for settings that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from safevoice.errors import ConfigError
from safevoice.settings import DEFAULT_DATABASE_URL, Settings

URL = "postgresql://safevoice:9f2c4e7a1b3d5f60a8c2e4b6d8f0a1c3@db:5432/safevoice"


def test_the_database_url_can_come_from_a_file_such_as_a_container_secret(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(f"{URL}\n")

    settings = Settings.from_env({"SAFEVOICE_DATABASE_URL_FILE": str(secret)})

    assert settings.database_url == URL


def test_the_default_database_is_the_embedded_sqlite_file() -> None:
    assert Settings.from_env({}).database_url == DEFAULT_DATABASE_URL


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SAFEVOICE_DATABASE_URL": URL, "SAFEVOICE_DATABASE_URL_FILE": "/run/secrets/x"},
            "not both",
        ),
        ({"SAFEVOICE_DATABASE_URL_FILE": "/nonexistent/url"}, "cannot be read"),
        ({"SAFEVOICE_LOG_LEVEL": "TRACE"}, "SAFEVOICE_LOG_LEVEL must be one of"),
        ({"SAFEVOICE_PRODUCTION": "maybe"}, "SAFEVOICE_PRODUCTION must be true or false"),
        ({"SAFEVOICE_DB_POOL_SIZE": "0"}, "SAFEVOICE_DB_POOL_SIZE must be at least 1"),
        ({"SAFEVOICE_FLOOD_SURGE_SECONDS": "0"}, "SAFEVOICE_FLOOD_SURGE_SECONDS must be at least"),
        (
            {"SAFEVOICE_DB_STATEMENT_TIMEOUT": "0"},
            "SAFEVOICE_DB_STATEMENT_TIMEOUT must be at least",
        ),
        ({"SAFEVOICE_DB_CONNECT_TIMEOUT": "soon"}, "SAFEVOICE_DB_CONNECT_TIMEOUT must be a whole"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_with_a_sentence(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)

    assert expected in raised.value.message


def test_the_database_waits_are_a_few_seconds_by_default_and_can_be_set() -> None:
    default = Settings.from_env({})
    chosen = Settings.from_env(
        {
            "SAFEVOICE_DB_CONNECT_TIMEOUT": "4",
            "SAFEVOICE_DB_POOL_TIMEOUT": "5",
            "SAFEVOICE_DB_STATEMENT_TIMEOUT": "6",
        }
    )

    assert (default.db_connect_timeout, default.db_pool_timeout) == (2, 2)
    assert default.db_statement_timeout == 3
    assert (chosen.db_connect_timeout, chosen.db_pool_timeout) == (4, 5)
    assert chosen.db_statement_timeout == 6


def test_an_empty_database_url_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "database_url"
    empty.write_text("\n")

    with pytest.raises(ConfigError, match="is empty"):
        Settings.from_env({"SAFEVOICE_DATABASE_URL_FILE": str(empty)})


def test_the_database_password_never_appears_in_the_settings_repr() -> None:
    settings = Settings.from_env({"SAFEVOICE_DATABASE_URL": URL, "SAFEVOICE_LOG_LEVEL": "warning"})

    assert "9f2c4e7a" not in repr(settings)
    assert settings.log_level == "WARNING"
