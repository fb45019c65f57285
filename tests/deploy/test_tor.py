"""The shipped Tor configuration: a v3 onion service with the proof-of-work defence, verified by
``tor --verify-config`` and started for real (without network) to create its onion address."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.deploy import DEPLOY, directive, render, tool

SHIPPED = DEPLOY / "tor/torrc"


def rendered(tmp_path: Path) -> Path:
    data = tmp_path / "tor-data"
    data.mkdir(mode=0o700)
    torrc = tmp_path / "torrc"
    torrc.write_text(render(SHIPPED.read_text(), {"/var/lib/tor-instances/safevoice": str(data)}))
    return torrc


def test_the_shipped_torrc_passes_tor_verify_config(tmp_path: Path) -> None:
    checked = subprocess.run(
        [tool("tor"), "--verify-config", "-f", str(rendered(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration was valid" in checked.stdout


def test_the_tor_binary_has_the_proof_of_work_module() -> None:
    modules = subprocess.run(
        [tool("tor"), "--list-modules"], capture_output=True, text=True, timeout=30, check=True
    ).stdout

    assert "pow: yes" in modules


def test_the_onion_service_is_v3_with_proof_of_work_and_no_identifying_options() -> None:
    text = SHIPPED.read_text()

    assert directive(text, "HiddenServiceVersion") == ["3"]
    assert directive(text, "HiddenServicePoWDefensesEnabled") == ["1"]
    assert directive(text, "HiddenServiceEnableIntroDoSDefense") == ["1"]
    assert directive(text, "HiddenServicePort") == ["80 127.0.0.1:8081"]
    assert directive(text, "SocksPort") == ["0"]
    assert directive(text, "SafeLogging") == ["1"]
    assert directive(text, "HiddenServiceExportCircuitID") == []
    assert directive(text, "HiddenServiceNonAnonymousMode") == []
    assert directive(text, "HiddenServiceSingleHopMode") == []
    # The onion port is nginx's onion listener, which carries the same limits as the intranet.
    nginx = (DEPLOY / "nginx/safevoice.conf").read_text()
    assert "listen 127.0.0.1:8081 default_server;" in nginx


def test_tor_creates_a_v3_onion_address_from_the_shipped_configuration(tmp_path: Path) -> None:
    torrc = rendered(tmp_path)
    hostname = tmp_path / "tor-data/onion/hostname"
    process = subprocess.Popen(
        [tool("tor"), "-f", str(torrc), "--DisableNetwork", "1", "--Log", "notice stdout"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not hostname.exists() and time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail("tor exited early")
            time.sleep(0.1)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)

    assert hostname.exists(), output.decode(errors="replace")
    address = hostname.read_text().strip()
    assert re.fullmatch(r"[a-z2-7]{56}\.onion", address)
    assert (tmp_path / "tor-data/onion/hs_ed25519_secret_key").stat().st_mode & 0o077 == 0
