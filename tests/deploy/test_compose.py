"""The shipped compose file and container image: checked by ``docker compose config`` (or
Debian's ``docker-compose``, which .ci/run installs where the Docker client has no compose
plugin), then read against the services and hardening the deployment promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.deploy import DEPLOY

COMPOSE = DEPLOY / "compose.yaml"


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker is not None:
        plugin = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if plugin.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is None:
        pytest.fail(
            "Neither `docker compose` nor docker-compose is installed; .ci/run installs it."
        )
    return [standalone]


def compose_config(path: Path, project_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose_command(), "--project-directory", str(project_dir), "-f", str(path), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_docker_compose_config_accepts_the_shipped_file() -> None:
    checked = compose_config(COMPOSE, DEPLOY)

    assert checked.returncode == 0, checked.stderr
    assert yaml.safe_load(checked.stdout)["services"].keys() == {"db", "app", "retention", "backup"}


def test_docker_compose_config_does_refuse_a_misspelt_option(tmp_path: Path) -> None:
    """The control for the test above: the tool really validates the file."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("read_only:", "read_olny:"))

    assert compose_config(broken, DEPLOY).returncode != 0


def test_the_compose_file_runs_safevoice_on_postgresql_hardened(compose: dict[str, Any]) -> None:
    services = compose["services"]
    db, app, retention = services["db"], services["app"], services["retention"]
    backup = services["backup"]

    assert set(services) == {"db", "app", "retention", "backup"}
    assert db["image"].startswith("postgres:")
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    for service in (db, app, retention, backup):
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "cap_add" not in service
        assert "no-new-privileges:true" in service["security_opt"]
        assert service.get("privileged", False) is False
        assert service.get("user", "") != "root"
    assert db["user"] == "postgres"
    # The database is on an internal network only and publishes no port.
    assert "ports" not in db
    assert db["networks"] == ["backend"]
    assert compose["networks"]["backend"] == {"internal": True}
    # The app is reachable from this host only, for nginx and Tor in front of it.
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])
    # The retention run reaches only the database, publishes nothing, and uses the app's image.
    assert "ports" not in retention
    assert retention["networks"] == ["backend"]
    assert retention["image"] == app["image"]
    assert retention["build"] == app["build"]
    assert "ports" not in backup
    assert backup["networks"] == ["backend"]
    assert backup["image"] == app["image"]


def test_the_retention_run_purges_daily_with_the_apps_database_and_blob_store(
    compose: dict[str, Any],
) -> None:
    app, retention = compose["services"]["app"], compose["services"]["retention"]

    command = " ".join(retention["command"])
    assert "safevoice retention run" in command
    assert "sleep 86400" in command  # once a day
    assert retention["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("SAFEVOICE_PRODUCTION", "SAFEVOICE_DATABASE_URL_FILE", "SAFEVOICE_BLOB_DIR"):
        assert retention["environment"][name] == app["environment"][name]
    assert retention["secrets"] == ["database_url"]
    blob_volume = next(v for v in app["volumes"] if v.startswith("blobs:"))
    assert blob_volume in retention["volumes"]
    assert retention["init"] is True


def test_the_backup_runs_daily_keeping_its_keys_apart_from_the_backups(
    compose: dict[str, Any],
) -> None:
    app, backup = compose["services"]["app"], compose["services"]["backup"]
    env = backup["environment"]

    command = " ".join(backup["command"])
    assert "safevoice admin backup" in command
    assert "sleep 86400" in command
    assert backup["init"] is True
    for name in ("SAFEVOICE_PRODUCTION", "SAFEVOICE_DATABASE_URL_FILE", "SAFEVOICE_BLOB_DIR"):
        assert env[name] == app["environment"][name]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in backup["volumes"]}
    backups, keys = mounts[env["SAFEVOICE_BACKUP_DIR"]], mounts[env["SAFEVOICE_BACKUP_KEYS_DIR"]]
    # Two named volumes: copying the backups off the host never copies the keys.
    assert backups != keys
    assert {backups, keys} <= set(compose["volumes"])
    # It only reads the blobs.
    assert f"blobs:{env['SAFEVOICE_BLOB_DIR']}:ro" in backup["volumes"]
    # The image's unprivileged user owns both folders, so the volumes start writable for it.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    owned = dockerfile[dockerfile.index("install -d -o safevoice") :].split("&&")[0]
    assert env["SAFEVOICE_BACKUP_DIR"] in owned
    assert env["SAFEVOICE_BACKUP_KEYS_DIR"] in owned


def test_secrets_come_from_files_and_the_bundle_is_mounted_read_only(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    db, app, retention = services["db"], services["app"], services["retention"]

    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert app["environment"]["SAFEVOICE_DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert app["environment"]["SAFEVOICE_PRODUCTION"] == "1"
    for service in (db, app, retention, services["backup"]):
        for value in service["environment"].values():
            assert "PASSWORD=" not in str(value).upper()
            assert "://" not in str(value)
    bundle = app["environment"]["SAFEVOICE_BUNDLE_DIR"]
    assert f"./bundle:{bundle}:ro" in app["volumes"]
    assert set(compose["secrets"]) == {"db_password", "database_url"}
    assert "/deploy/secrets/" in (DEPLOY.parent / ".gitignore").read_text()


def test_the_image_runs_production_mode_as_an_unprivileged_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    final_stage = dockerfile[dockerfile.rindex("\nFROM ") :]
    instructions = [line.split(None, 1) for line in final_stage.splitlines() if line[:1].isupper()]
    users = [args for keyword, args in instructions if keyword == "USER"]

    assert users == ["10001:10001"]
    assert "SAFEVOICE_PRODUCTION=1" in final_stage
    assert '"safevoice", "serve"' in final_stage
    assert "ADD " not in dockerfile
    # The build context is the repository: only what the image needs is sent to the builder.
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") + 1 :][:4] == [
        "!pyproject.toml",
        "!README.md",
        "!src/",
        "!migrations/",
    ]
