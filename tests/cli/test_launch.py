"""The ``safevoice`` console script imports the command-line tool only when it runs a command:
each worker of ``safevoice serve`` runs the script again before it builds the web app, and must
not carry every command in its memory."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from safevoice.cli import launch


def test_the_console_script_starts_the_tool_through_the_light_entry_point() -> None:
    (script,) = entry_points(group="console_scripts", name="safevoice")

    assert script.load() is launch.main


def test_what_a_spawned_worker_runs_again_leaves_the_tool_unimported() -> None:
    # A worker runs the console script as ``__mp_main__``: its imports, not its ``main()``.
    code = (
        "import sys; from safevoice.cli.launch import main; "
        "print(sorted(m for m in sys.modules if m.startswith('safevoice.cli')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "['safevoice.cli', 'safevoice.cli.launch']"
