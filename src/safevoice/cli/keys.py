"""``safevoice keys``: create key pairs (and, later, split and combine the root key)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import console, fail, make_app, read_passphrase
from safevoice.crypto.keys import (
    format_fingerprint,
    generate,
    seal_keyfile,
    valid_key_id,
)

app = make_app("Create and manage key pairs.")

GENERATABLE = ("member", "auditor", "root", "archive")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "key"


def write_private(path: Path, content: str) -> None:
    """Create a file readable only by its owner; refuse to overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} already exists; SafeVoice never overwrites a key.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


@app.command("generate")
def generate_command(
    kind: Annotated[str, typer.Argument(help="member, auditor, root or archive")],
    name: Annotated[str, typer.Argument(help="A display name, e.g. 'Alice Martin'.")],
    key_id: Annotated[
        str | None, typer.Option("--id", help="Short id (default: derived from the name).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the key files.")] = Path("keys"),
) -> None:
    """Generate a key pair: ID.key (sealed with a passphrase) and ID.pub.json (public)."""
    if kind not in GENERATABLE:
        fail(f"The kind must be one of: {', '.join(GENERATABLE)}.")
    ident = key_id or slug(name)
    if not valid_key_id(ident) or ident == "reporter":
        fail("An id is 1-32 lowercase letters, digits, dots, dashes or underscores.")
    passphrase = read_passphrase(confirm=True, what=f"new {kind} key")
    keys = generate(kind, ident, name)
    private_path, public_path = out / f"{ident}.key", out / f"{ident}.pub.json"
    if public_path.exists():
        fail(f"{public_path} already exists; SafeVoice never overwrites a key.")
    write_private(private_path, json.dumps(seal_keyfile(keys, passphrase), indent=2) + "\n")
    public_path.write_text(json.dumps(keys.public.to_json(), indent=2) + "\n", encoding="utf-8")
    console.print(f"Created {kind} key [bold]{ident}[/] ({name})")
    console.print(f"  private (keep it safe): {private_path}")
    console.print(f"  public (share it):      {public_path}")
    console.print(f"  fingerprint:            {format_fingerprint(keys.public.fingerprint)}")
