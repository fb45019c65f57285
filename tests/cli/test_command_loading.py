"""``safevoice`` imports a command's module only when that command runs, and its help pages
still list every command.

Every server process starts through ``safevoice serve`` (the supervisor, and each worker, which
re-imports the command's entry point): importing every command group there, with the case tools,
backups and key ceremonies behind them, cost about a second per process.
"""

from __future__ import annotations

import subprocess
import sys

from safevoice.cli.main import COMMANDS
from tests.conftest import Cli

# What the operator and committee commands stand on; ``serve`` needs none of it in its own
# process (the workers import the web app for themselves).
HEAVY = ("safevoice.cli.cases", "safevoice.cli.backup", "safevoice.backup", "fastapi", "alembic")


def test_the_help_lists_every_command_and_each_group_its_commands(cli: Cli) -> None:
    listed = cli.safevoice("--help").output

    assert [name for name in COMMANDS if f"  {name} " in listed] == list(COMMANDS)
    assert "Run the SafeVoice server (reporter pages and API)." in listed
    audit = cli.safevoice("audit", "--help").output
    for command in ("export", "verify", "countersign", "retention", "approve-restore"):
        assert f"  {command} " in audit
    assert "--worker-healthcheck-timeout" in cli.safevoice("serve", "--help").output


def test_a_mistyped_command_is_still_matched_against_every_name(cli: Cli) -> None:
    result = cli.safevoice("approve", expect=2)

    assert "No such command 'approve'." in result.output
    assert cli.safevoice("retentoin", expect=2).output.count("Did you mean 'retention'?") == 1


def test_serve_loads_neither_the_other_commands_nor_the_web_app() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from safevoice.cli.main import app\n"
        "result = CliRunner().invoke(app, ['serve', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('\\n'.join(sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()

    assert "safevoice.cli.serve" in loaded
    heavy = [
        name for name in loaded if name in HEAVY or name.startswith(tuple(f"{h}." for h in HEAVY))
    ]
    assert heavy == []
