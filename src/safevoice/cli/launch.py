"""The ``safevoice`` console script's entry point, kept apart from the tool it starts.

``safevoice serve`` runs its workers with multiprocessing's spawn method, which runs the console
script again in every worker (as ``__mp_main__``) before the worker builds the web app. When the
script imported the whole command-line tool, every worker carried all of it — each command and
what it imports, about 15 MiB of memory — without ever using it. This module imports the tool
only when the script runs as a command.
"""

from __future__ import annotations


def main() -> None:
    from safevoice.cli.main import main as run

    run()
