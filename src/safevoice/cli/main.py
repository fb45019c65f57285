"""``safevoice``: the committee's, auditors' and operator's command-line tool.

Each command's module is imported only when that command runs or a help page lists it, as
click's lazily loaded subcommands are. ``safevoice serve``, through which every server and each
of its worker processes starts, so loads uvicorn and the settings, not the case tools, backups
and key ceremonies with everything they import; ``safevoice --help`` still lists every command.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.models import CommandInfo

from safevoice.cli.common import SafeVoiceGroup, make_app

# Every command in the order ``safevoice --help`` lists them, and where it lives: a function is
# one command, a Typer app a group of them.
COMMANDS: dict[str, str] = {
    "demo": "safevoice.cli.demo:demo",
    "serve": "safevoice.cli.serve:serve",
    "login": "safevoice.cli.session:login",
    "inbox": "safevoice.cli.cases:inbox",
    "stats": "safevoice.cli.stats:stats",
    "desk": "safevoice.cli.desk:desk",
    "keys": "safevoice.cli.keys:app",
    "manifest": "safevoice.cli.manifest:app",
    "admin": "safevoice.cli.admin:app",
    "web": "safevoice.cli.web:app",
    "cases": "safevoice.cli.cases:app",
    "actions": "safevoice.cli.actions:app",
    "retention": "safevoice.cli.retention:app",
    "surveys": "safevoice.cli.surveys:app",
    "digest": "safevoice.cli.digest:app",
    "audit": "safevoice.cli.audit:app",
}


class LazyCommands(MutableMapping[str, Any]):
    """Commands by name, each imported from its module the first time it is looked up.

    typer's group keeps its commands in a mapping and does everything through it: running a
    command looks one up, a help page goes through them all, a mistyped name is matched
    against the names alone (which import nothing)."""

    def __init__(self, where: dict[str, str]) -> None:
        self._where = where
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:  # typer's command classes are private to it
        if name not in self._loaded:
            self._loaded[name] = _load(name, self._where[name])
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._where
        yield from (name for name in self._loaded if name not in self._where)

    def __len__(self) -> int:
        return len(self._where.keys() | self._loaded.keys())


def _load(name: str, where: str) -> Any:
    """The command at ``where``, built as ``app.command(name)`` or ``app.add_typer`` would."""
    module, attribute = where.split(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        return typer.main.get_group(found)
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=found),
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
    )


class SafeVoiceCommands(SafeVoiceGroup):
    """The top-level group, with every command of ``COMMANDS`` loaded on first use."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(COMMANDS)


app = make_app(
    "SafeVoice: anonymous whistleblower intake with end-to-end encryption.\n\n"
    "Committee members read and answer cases on their own machines; the server only ever "
    "holds ciphertext.",
    group=SafeVoiceCommands,
)


@app.callback()
def _root() -> None:
    """Nothing runs before a command: this makes the app a group that typer can build while
    its commands are still unloaded."""


def main() -> None:
    app()
