"""The layers of DESIGN.md seen from a user's machine (the reporter's CLI carries no server code),
and the rule that every silenced check says why.

import-linter checks the import graph statically (``make lint``); this test checks what a fresh
interpreter really loads, which also catches imports made at run time by a dependency.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SERVER_ONLY = (
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "safevoice.storage",
    "safevoice.web",
    "safevoice.attachments",
    "safevoice.audit",
    "safevoice.backup",
    "safevoice.cases",
    "safevoice.dialogue",
    "safevoice.instance",
    "safevoice.intake",
    "safevoice.members",
    "safevoice.retention",
)


def loaded_after_import(module: str) -> list[str]:
    probe = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    names: list[str] = json.loads(done.stdout)
    return names


@pytest.mark.parametrize("module", ["safevoice.cli.report", "safevoice.protocol.reader"])
def test_the_reporter_side_loads_no_database_and_no_server_domain(module: str) -> None:
    loaded = loaded_after_import(module)
    assert module in loaded
    leaked = [n for n in loaded if n.split(".")[0] in SERVER_ONLY or n.startswith(SERVER_ONLY)]
    assert leaked == []


def test_the_probe_sees_a_server_module_when_one_is_loaded() -> None:
    # The same probe on server code must find SQLAlchemy, or the test above proves nothing.
    assert "sqlalchemy" in loaded_after_import("safevoice.storage.db")


def test_every_type_ignore_and_noqa_says_why() -> None:
    # A silenced check must carry its reason after it (STYLE.md), so a reader can judge it.
    bare = re.compile(r"#\s*(type:\s*ignore(\[[^\]]*\])?|noqa(:\s*[A-Z0-9, ]+)?)\s*$")
    root = Path(__file__).resolve().parent.parent
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("src", "tests", "benchmarks", "migrations")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
