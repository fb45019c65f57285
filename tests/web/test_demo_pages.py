"""The demo instance of the README serves the reporter pages with the demo root built in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from safevoice.cli.manifest import load_signed
from safevoice.crypto.keys import format_fingerprint
from safevoice.crypto.manifest import parse_payload
from safevoice.web import bundle
from tests.support.server import free_port

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def test_the_demo_serves_the_pages_for_its_own_root(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SAFEVOICE_DATABASE_URL": ""}
    process = subprocess.Popen(
        [str(BIN / "safevoice"), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                landing = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.3)
        report = httpx.get(f"http://127.0.0.1:{port}/report/general", timeout=10)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    built = bundle.load(tmp_path / "var/demo/bundle")
    assert landing.status_code == 200
    assert format_fingerprint(built.pin) in landing.text
    assert format_fingerprint(built.pin) in output
    assert built.page_script in report.text
    assert f"http://127.0.0.1:{port}" in output
    published = load_signed(tmp_path / "keys/demo/manifest.json")
    assert parse_payload(published.payload).root == built.pin
