"""The reporter pages' cryptography reproduces the v1 known-answer vectors (tests/vectors)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("vectors.mjs")


def test_the_browser_crypto_module_reproduces_every_known_answer_vector() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to check the browser's cryptography (see README).")
    result = subprocess.run(
        [node, str(SCRIPT)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "all vectors reproduced"
    checked = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("ok ")}
    assert {"envelope", "manifest", "follow_up_code", "wrapped_key", "proof_of_work"} <= checked
