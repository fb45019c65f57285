"""``safevoice desk``: start the committee desk, the member's local web app.

The passphrase is typed into the desk page, never given here; the command takes only where to
find things and how long the desk may stay unlocked while nobody uses it.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import console
from safevoice.client.state import default_home
from safevoice.desk.server import DeskServer
from safevoice.desk.state import Desk


def desk(
    server: Annotated[
        str | None,
        typer.Option(
            envvar="SAFEVOICE_SERVER",
            help="Server URL (default: the one you last logged in to, with the CLI or the desk).",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(envvar="SAFEVOICE_KEY", help="Your private key file (default: the last one)."),
    ] = None,
    pin: Annotated[
        str | None,
        typer.Option(help="Committee root fingerprint; needed the first time, then remembered."),
    ] = None,
    idle_minutes: Annotated[
        float,
        typer.Option(min=1, max=24 * 60, help="Lock the desk after this many idle minutes."),
    ] = 15,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address instead of opening a browser.")
    ] = False,
) -> None:
    """Open the committee desk in your browser: read and handle cases, decrypted on this machine.

    The desk listens on 127.0.0.1 only and admits only the browser that opens its one-time
    address. Your key stays in this process's memory until you lock the desk, it locks itself
    after the idle time, or you stop it with Ctrl-C.
    """
    state = Desk(
        home=default_home(),
        server=server,
        key_file=key,
        pin=pin,
        idle_seconds=idle_minutes * 60,
    )
    runner = DeskServer(state)

    def ready(url: str) -> None:
        if no_browser:
            console.print(f"The desk is ready. Open this address once, in your browser:\n{url}")
        else:
            console.print("Opening the desk in your browser; press Ctrl-C here to stop it.")
            if not webbrowser.open(url):
                console.print(f"No browser could be opened. Open this address once:\n{url}")

    runner.run(ready)
