"""The shipped systemd units, rendered with real paths and checked by ``systemd-analyze verify``
and ``systemd-analyze security``; and the hardening they promise, read from the files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from safevoice.settings import Settings
from tests.support.deploy import DEPLOY, render, tool

UNITS = (
    "safevoice.service",
    "safevoice-retention.service",
    "safevoice-retention.timer",
    "safevoice-backup.service",
    "safevoice-backup.timer",
)
SERVICES = ("safevoice.service", "safevoice-retention.service", "safevoice-backup.service")
INSTALL_PREFIX = "/opt/safevoice/venv"
# systemd-analyze security's scale: 0 is fully locked down, 10 is not at all; below 1 it
# calls a service "SAFE", below 2 "OK". The shipped units score 0.9. (--threshold counts
# tenths.)
MAX_EXPOSURE = 1.0


def unit_text(name: str) -> str:
    return (DEPLOY / "systemd" / name).read_text()


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    """The units with the install prefix pointing at this test's virtual environment, so that
    systemd can check that every ExecStart= really exists and is executable."""
    for name in UNITS:
        text = unit_text(name)
        if name.endswith(".service"):
            text = render(text, {INSTALL_PREFIX: sys.prefix})
        (tmp_path / name).write_text(text)
    return tmp_path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("systemd-analyze"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_analyze_verify_accepts_the_units_without_a_warning(rendered: Path) -> None:
    checked = analyze("verify", *(str(rendered / name) for name in UNITS))

    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


def test_systemd_analyze_verify_does_notice_a_missing_program(tmp_path: Path) -> None:
    """The control for the test above: an ExecStart= that does not exist fails."""
    broken = tmp_path / "safevoice.service"
    broken.write_text(render(unit_text("safevoice.service"), {INSTALL_PREFIX: "/nonexistent"}))

    assert analyze("verify", str(broken)).returncode != 0


@pytest.mark.parametrize("name", SERVICES)
def test_systemd_rates_each_service_safe(rendered: Path, name: str) -> None:
    threshold = f"--threshold={round(MAX_EXPOSURE * 10)}"
    checked = analyze("security", "--offline=true", threshold, str(rendered / name))
    summary = [line for line in checked.stdout.splitlines() if "Overall exposure" in line]

    assert checked.returncode == 0, checked.stdout
    assert len(summary) == 1
    exposure = float(summary[0].split(":")[1].split()[0])
    assert exposure <= MAX_EXPOSURE


def test_systemd_analyze_security_does_fail_an_unhardened_service(tmp_path: Path) -> None:
    """The control for the test above: the same service without its hardening fails."""
    text = unit_text("safevoice.service")
    bare = tmp_path / "safevoice.service"
    bare.write_text(render(text[: text.index("# Hardening:")], {INSTALL_PREFIX: sys.prefix}))

    checked = analyze(
        "security", "--offline=true", f"--threshold={round(MAX_EXPOSURE * 10)}", str(bare)
    )

    assert checked.returncode != 0


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_hardened_as_the_dedicated_user(name: str) -> None:
    text = unit_text(name)
    expected = {
        "User": ["safevoice"],
        "Group": ["safevoice"],
        "NoNewPrivileges": ["yes"],
        "ProtectSystem": ["strict"],
        "PrivateTmp": ["yes"],
        "ProtectHome": ["yes"],
        "RestrictAddressFamilies": ["AF_UNIX AF_INET AF_INET6"],
        "CapabilityBoundingSet": [""],
        "ReadOnlyPaths": ["/opt/safevoice"],
        "EnvironmentFile": ["/etc/safevoice/safevoice.env"],
    }
    for key, values in expected.items():
        assert unit_values(text, key) == values, key
    # The release bundle lies under the read-only path wherever the files say it is.
    env = (DEPLOY / "safevoice.env.example").read_text()
    bundle = next(
        line.split("=", 1)[1]
        for line in env.splitlines()
        if line.startswith("SAFEVOICE_BUNDLE_DIR=")
    )
    assert bundle.startswith("/opt/safevoice/")
    assert "root /opt/safevoice/bundle;" in (DEPLOY / "nginx/safevoice-proxy.conf").read_text()


def test_the_server_runs_several_workers_on_the_socket_nginx_uses_and_stops_on_refusal() -> None:
    text = unit_text("safevoice.service")
    command = unit_values(text, "ExecStart")[0].split()

    assert command[:2] == [f"{INSTALL_PREFIX}/bin/safevoice", "serve"]
    assert int(command[command.index("--workers") + 1]) >= 2
    socket = command[command.index("--uds") + 1]
    assert socket.startswith("/run/safevoice/")
    assert f"server unix:{socket};" in (DEPLOY / "nginx/safevoice.conf").read_text()
    assert unit_values(text, "Environment") == ["SAFEVOICE_PRODUCTION=1"]
    assert unit_values(text, "RestartPreventExitStatus") == ["78"]


def test_the_timer_starts_the_retention_run_daily() -> None:
    timer = unit_text("safevoice-retention.timer")
    service = unit_text("safevoice-retention.service")

    assert unit_values(timer, "Unit") == ["safevoice-retention.service"]
    assert unit_values(timer, "Persistent") == ["true"]
    assert unit_values(service, "Type") == ["oneshot"]
    assert unit_values(service, "ExecStart") == [f"{INSTALL_PREFIX}/bin/safevoice retention run"]


def test_the_backup_runs_daily_after_the_retention_window_and_writes_only_its_folders() -> None:
    timer = unit_text("safevoice-backup.timer")
    service = unit_text("safevoice-backup.service")
    retention = unit_text("safevoice-retention.timer")

    assert unit_values(timer, "Unit") == ["safevoice-backup.service"]
    assert unit_values(timer, "Persistent") == ["true"]
    assert unit_values(service, "Type") == ["oneshot"]
    assert unit_values(service, "ExecStart") == [f"{INSTALL_PREFIX}/bin/safevoice admin backup"]
    # A backup taken after the day's purge never holds a case that was due that day.
    retention_ends = (
        hour(unit_values(retention, "OnCalendar")[0])
        + seconds(unit_values(retention, "RandomizedDelaySec")[0]) / 3600
    )
    assert hour(unit_values(timer, "OnCalendar")[0]) >= retention_ends
    # It may write the backups and the keys the environment file names, nothing else there.
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "safevoice.env.example").read_text().splitlines()
        if line.startswith("SAFEVOICE_BACKUP")
    )
    folders = unit_values(service, "ReadWritePaths")[0].split()
    assert sorted(folders) == sorted(
        [env["SAFEVOICE_BACKUP_DIR"], env["SAFEVOICE_BACKUP_KEYS_DIR"]]
    )


def hour(calendar: str) -> int:
    return int(calendar.split()[1].split(":")[0])


def seconds(span: str) -> int:
    return int(span.removesuffix("h")) * 3600


def unit_values(text: str, key: str) -> list[str]:
    return [
        line.split("=", 1)[1].strip()
        for line in text.splitlines()
        if not line.startswith("#") and line.split("=", 1)[0].strip() == key and "=" in line
    ]


# PostgreSQL's default max_connections, of which superuser_reserved_connections keeps 3.
POSTGRESQL_DEFAULT_CONNECTIONS = 100 - 3
# What runs beside the server: the retention run, the backup and an operator's command.
JOB_CONNECTIONS = 3 * 2


def test_the_shipped_workers_stay_within_postgresqls_default_connection_limit() -> None:
    pool = Settings().db_pool_size
    commands = [
        unit_values(unit_text("safevoice.service"), "ExecStart")[0].split(),
        json.loads((DEPLOY / "Dockerfile").read_text().split("CMD ", 1)[1].splitlines()[0]),
    ]

    for command in commands:
        workers = int(command[command.index("--workers") + 1])
        # Each worker keeps ``pool`` connections and may open as many again for a burst.
        assert workers * 2 * pool + JOB_CONNECTIONS <= POSTGRESQL_DEFAULT_CONNECTIONS
