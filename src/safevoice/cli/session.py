"""``safevoice login`` and the logged-in context the member and auditor commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import console, err_console, fail, open_key
from safevoice.client import member
from safevoice.client.state import State, default_home, normalise
from safevoice.crypto.keys import KeyPair, format_fingerprint

Server = Annotated[
    str | None,
    typer.Option(envvar="SAFEVOICE_SERVER", help="Server URL (default: the last one used)."),
]


def login(
    server: Annotated[
        str | None,
        typer.Option(
            envvar="SAFEVOICE_SERVER",
            help="Server URL; needed the first time, then the last one used is remembered.",
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            envvar="SAFEVOICE_KEY",
            help="Your private key file; needed the first time, then remembered per server.",
        ),
    ] = None,
    pin: Annotated[
        str | None,
        typer.Option(help="Committee root fingerprint; needed the first time, then remembered."),
    ] = None,
    repin: Annotated[
        bool,
        typer.Option(
            help="Replace the remembered root with --pin, after checking the new fingerprint "
            "with your organisation (only needed when no cross-signed hand-over leads to it); "
            "the saved audit checkpoint is kept."
        ),
    ] = False,
) -> None:
    """Log in with your key; the session token is kept in your local state.

    After a session expired, `safevoice login` alone logs in again to the server and with the
    key file you used last."""
    state = State.load(default_home())
    url = normalise(server) if server else state.current
    if url is None:
        fail("Give the server with --server the first time; it is remembered afterwards.")
    remembered_key = state.servers[url].key_file if url in state.servers else None
    key = key or (Path(remembered_key) if remembered_key else None)
    if key is None:
        fail("Give your key file with --key the first time; it is remembered afterwards.")
    keys = open_key(key)
    if keys.public.kind not in ("member", "auditor", "archive"):
        fail("Only member, auditor and archive keys can log in.")
    if repin and pin is None:
        fail("--repin replaces the remembered root with the one given by --pin; give --pin.")
    outcome = member.login(state, url, keys, pin=pin, key_file=key, repin=repin)
    audit = outcome.audit
    console.print(f"Logged in to {url} as {keys.public.id} ({keys.public.kind}).")
    console.print(
        f"  manifest version {outcome.manifest.version}, committee root "
        f"{format_fingerprint(outcome.pin)}"
    )
    if audit.checkpoint is not None and audit.problem is None:
        note = " (after an approved restore)" if audit.restored else ""
        console.print(f"  audit log verified up to checkpoint {audit.checkpoint.seq}{note}")
    if audit.problem is not None:
        # The earlier checkpoint stays saved, so the warning repeats until this is resolved.
        message = audit_warning(audit.problem)
        if keys.public.kind == "auditor":
            fail(message)
        err_console.print(message)


def audit_warning(problem: str) -> str:
    return (
        f"WARNING: the audit log failed its check: {problem} Tell the auditors; "
        "the record of who did what on this server may have been tampered with."
    )


class Context(member.MemberSession):
    """The logged-in session of a command, with the key file opened at a prompt."""

    def keys(self, key: Path | None) -> KeyPair:
        path = key or (Path(self.remembered.key_file) if self.remembered.key_file else None)
        if path is None:
            fail("Give your key file with --key.")
        keys = open_key(path)
        self.check_owner(keys)
        return keys


def logged_in(server: str | None) -> Context:
    session = member.session_for(server)
    return Context(
        state=session.state, url=session.url, remembered=session.remembered, api=session.api
    )
