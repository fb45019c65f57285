"""The layers of DESIGN.md seen from a user's machine (the reporter's CLI carries no server code),
the rule that only storage/ asks which database it runs on, and the rule that every silenced
check says why.

import-linter checks the import graph statically (``make lint``); this test checks what a fresh
interpreter really loads, which also catches imports made at run time by a dependency.
"""

from __future__ import annotations

import ast
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


# The forms a dialect question takes in this code base: ``database.sqlite``, ``bind.dialect``,
# ``is_sqlite(url)``, ``url.get_backend_name()`` and a comparison with a dialect's name.
DIALECT_ATTRIBUTES = {"sqlite", "dialect"}
DIALECT_CALLS = {"is_sqlite", "get_backend_name"}
DIALECT_NAME = re.compile(r"^(sqlite|postgres(ql)?)(\+\w+)?$")


def dialect_questions(source: str) -> list[int]:
    """The lines of ``source`` that ask which database they run on."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in DIALECT_ATTRIBUTES:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in DIALECT_CALLS:
                lines.append(node.lineno)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            values = [
                v
                for o in operands
                for v in (o.elts if isinstance(o, ast.Tuple | ast.List | ast.Set) else [o])
            ]
            if any(
                isinstance(v, ast.Constant)
                and isinstance(v.value, str)
                and DIALECT_NAME.match(v.value)
                for v in values
            ):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_only_storage_asks_which_database_it_runs_on() -> None:
    # DESIGN.md: where SQLite and PostgreSQL differ, storage/ (dialect.py) answers behind a
    # named function that says why, so adding a database means reading one package.
    package = Path(__file__).resolve().parent.parent / "src" / "safevoice"
    found = [
        f"{path.relative_to(package)}:{line}"
        for path in sorted(package.rglob("*.py"))
        if path.relative_to(package).parts[0] != "storage"
        for line in dialect_questions(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "branch",
    [
        "if not database.sqlite:\n    pass",
        "if session.get_bind().dialect.name == 'postgresql':\n    pass",
        "if is_sqlite(url):\n    pass",
        "if url.get_backend_name() in ('sqlite',):\n    pass",
        "sqlite = kind != 'postgresql+psycopg'",
    ],
)
def test_the_dialect_check_sees_each_form_of_the_question(branch: str) -> None:
    assert dialect_questions(branch) != []


def test_the_dialect_check_leaves_sqlite_file_names_alone() -> None:
    assert dialect_questions("DB = 'var/safevoice.sqlite'\npath = database.sqlite_path") == []
