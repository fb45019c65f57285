"""``safevoice keys``: create key pairs; split the root or archive key into k-of-n shares and
combine them again.

Shares are secrets: they are shown only on this (offline) machine's screen or written as JSON to
standard output when asked, and read back only from prompts or standard input, never from
arguments.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import (
    console,
    err_console,
    fail,
    load_public,
    make_app,
    open_key,
    print_json,
    read_passphrase,
)
from safevoice.crypto.keys import (
    KeyPair,
    format_fingerprint,
    generate,
    seal_keyfile,
    valid_key_id,
)
from safevoice.crypto.shares import SPLITTABLE, combine_key, shares_needed, split_key
from safevoice.private_files import private_dir, write_private_text

app = make_app("Create and manage key pairs.")

GENERATABLE = ("member", "auditor", "root", "archive")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "key"


def write_private(path: Path, content: str) -> None:
    """Create a file readable only by its owner; refuse to overwrite an existing key."""
    private_dir(path.parent)
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
    write_private_text(public_path, json.dumps(keys.public.to_json(), indent=2) + "\n")
    console.print(f"Created {kind} key [bold]{ident}[/] ({name})")
    console.print(f"  private (keep it safe): {private_path}")
    console.print(f"  public (share it):      {public_path}")
    console.print(f"  fingerprint:            {format_fingerprint(keys.public.fingerprint)}")


WORDS_PER_LINE = 6


def _describe(keys: KeyPair) -> str:
    return (
        f"{keys.public.kind} key {keys.public.id!r} ({keys.public.name}), fingerprint "
        f"{format_fingerprint(keys.public.fingerprint)}"
    )


@app.command("split")
def split_command(
    key_file: Annotated[Path, typer.Argument(help="The root or archive key file to split.")],
    threshold: Annotated[int, typer.Option(help="How many shares rebuild the key (k).")],
    shares: Annotated[int, typer.Option(help="How many shares to make (n, at most 16).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the shares as JSON.")] = False,
) -> None:
    """Split the root or archive key into n word lists (SLIP-39), any k of which rebuild it.

    Run it on the offline machine and write each share on paper for a different holder.
    """
    keys = open_key(key_file)
    if keys.public.kind not in SPLITTABLE:
        fail("Only the committee root key and the archive key are split into shares.")
    words = split_key(keys, threshold=threshold, shares=shares)
    if as_json:
        print_json(
            {
                "kind": keys.public.kind,
                "id": keys.public.id,
                "fingerprint": keys.public.fingerprint,
                "threshold": threshold,
                "shares": words,
            }
        )
        return
    console.print(f"Shares of the {_describe(keys)}.")
    console.print(
        f"Any {threshold} of these {shares} shares rebuild the key; fewer reveal nothing about "
        "it. Write each share on its own sheet, with its number, for a different holder."
    )
    for number, share in enumerate(words, start=1):
        console.print(f"\n[bold]Share {number} of {shares}[/] (any {threshold} rebuild the key)")
        listed = share.split()
        for start in range(0, len(listed), WORDS_PER_LINE):
            console.print(
                "  "
                + "  ".join(
                    f"{i:>2} {w:<10}"
                    for i, w in enumerate(listed[start : start + WORDS_PER_LINE], start=start + 1)
                )
            )
    console.print(
        "\nCheck the paper copies now: `safevoice keys combine --public "
        f"{keys.public.id}.pub.json --check` with {threshold} of them."
    )
    if keys.public.kind == "archive":
        console.print(
            f"[bold]Then destroy {key_file}[/] (for example `shred -u {key_file}`): the archive "
            "key must exist only as these shares."
        )
    else:
        console.print(
            f"Then keep {key_file} in the safe as before, or destroy it if the committee keeps "
            "its root only as shares."
        )


def _read_shares() -> list[str]:
    """Shares from standard input (one share per line) or typed at hidden prompts."""
    if not sys.stdin.isatty():
        return [line for line in sys.stdin.read().splitlines() if line.strip()]
    err_console.print("Type each share's words in order (the numbers may be left out).")
    first = str(typer.prompt("Share 1", hide_input=True))
    needed = shares_needed(first)
    typed = [first]
    while len(typed) < needed:
        typed.append(str(typer.prompt(f"Share {len(typed) + 1} of {needed}", hide_input=True)))
    return typed


@app.command("combine")
def combine_command(
    public: Annotated[
        Path,
        typer.Option(
            help="The public key file of the key to rebuild (it is in keys/ and in every "
            "manifest); the rebuilt key must match it."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write the rebuilt key here, sealed with a new passphrase."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the shares rebuild the key.")
    ] = False,
) -> None:
    """Rebuild the root or archive key from k of its shares.

    The shares are read from standard input (one per line) or typed at hidden prompts, never
    taken as arguments.
    """
    if (out is None) == (not check):
        fail("Give either --out FILE to write the rebuilt key or --check to only check.")
    expected = load_public(public)
    if expected.kind not in SPLITTABLE:
        fail("Only the committee root key and the archive key are split into shares.")
    if out is not None and out.exists():
        fail(f"{out} already exists; SafeVoice never overwrites a key.")
    keys = combine_key(_read_shares(), expected)
    if out is None:
        console.print(f"The shares rebuild the {_describe(keys)}.")
        return
    passphrase = read_passphrase(confirm=True, what=f"rebuilt {keys.public.kind} key")
    write_private(out, json.dumps(seal_keyfile(keys, passphrase), indent=2) + "\n")
    console.print(f"Rebuilt the {_describe(keys)} → {out}")
