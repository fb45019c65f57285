"""``safevoice web``: build the reporter pages' release bundle, and verify a live server.

``build`` bakes the committee root fingerprint into the pages' JavaScript and prints the bundle
hash, which the organisation publishes next to the fingerprint. ``verify`` fetches a live
server's pages and scripts and compares them with that hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import console, err_console, make_app
from safevoice.crypto.keys import format_fingerprint, parse_fingerprint
from safevoice.web import bundle as bundlemod
from safevoice.web import verify as verifymod

app = make_app("Build the reporter pages' release bundle, or check a live server against one.")


@app.command("build")
def build_command(
    pin: Annotated[
        str, typer.Option(help="The committee root fingerprint to build into the pages.")
    ],
    out: Annotated[Path, typer.Option(help="Folder to write the bundle to (the server reads it).")],
    node_modules: Annotated[
        Path | None,
        typer.Option(help="Where `npm ci` installed libsodium.js (default: ./node_modules)."),
    ] = None,
) -> None:
    """Build the release bundle for a committee root; prints the bundle hash to publish."""
    built = bundlemod.build(
        pin=parse_fingerprint(pin),
        out=out,
        node_modules=node_modules or bundlemod.default_node_modules(),
    )
    err_console.print(
        f"Bundle written to {out} for committee root {format_fingerprint(built.pin)}."
    )
    err_console.print(
        "Publish this hash with the root fingerprint; serve the folder with SAFEVOICE_BUNDLE_DIR."
    )
    console.print(built.digest)


@app.command("verify")
def verify_command(
    url: Annotated[str, typer.Argument(help="The server's address, e.g. http://….onion.")],
    bundle_hash: Annotated[str, typer.Option(help="The bundle hash your organisation published.")],
    proxy: Annotated[
        str | None,
        typer.Option(help="Send everything through this proxy, e.g. socks5h://127.0.0.1:9050."),
    ] = None,
) -> None:
    """Check that a server serves exactly the published bundle, its scripts and its policy."""
    report = verifymod.verify(url.rstrip("/"), bundlemod.parse_digest(bundle_hash), proxy=proxy)
    for ok, what in report.checks:
        console.print(f"{'ok  ' if ok else 'FAIL'} {what}", markup=False)
    if not report.ok:
        err_console.print("The server does NOT serve the published bundle. Do not use its pages.")
        raise typer.Exit(code=1)
    console.print("The server serves the published bundle.")
