"""``safevoice login`` and the logged-in context the member and auditor commands share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from safevoice.cli.common import console, err_console, fail, open_key
from safevoice.client.api import Api
from safevoice.client.audit import LoginCheck, check_at_login
from safevoice.client.state import ServerState, State, default_home, normalise
from safevoice.client.trust import verify_for
from safevoice.clock import aware, utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import KeyPair, format_fingerprint
from safevoice.crypto.login import sign_login
from safevoice.crypto.manifest import Manifest

Server = Annotated[
    str | None,
    typer.Option(envvar="SAFEVOICE_SERVER", help="Server URL (default: the last one used)."),
]


def login(
    server: Annotated[str, typer.Option(envvar="SAFEVOICE_SERVER", help="Server URL.")],
    key: Annotated[Path, typer.Option(envvar="SAFEVOICE_KEY", help="Your private key file.")],
    pin: Annotated[
        str | None,
        typer.Option(help="Committee root fingerprint; needed the first time, then remembered."),
    ] = None,
) -> None:
    """Log in with your key; the session token is kept in your local state."""
    keys = open_key(key)
    if keys.public.kind not in ("member", "auditor", "archive"):
        fail("Only member, auditor and archive keys can log in.")
    state = State.load(default_home())
    remembered = state.server(server)
    with Api(server) as api:
        verified = verify_for(
            api.manifest().model_dump(), pin=pin, remembered=remembered, now=utcnow()
        )
        manifest = verified.manifest
        if keys.public.kind == "member":
            enrolled = manifest.member(keys.public.id)
        elif keys.public.kind == "auditor":
            enrolled = manifest.auditor(keys.public.id)
        else:
            archive = manifest.archive
            enrolled = archive if archive is not None and archive.id == keys.public.id else None
        if enrolled is None or enrolled.sign_key != keys.public.sign_key:
            fail(
                f"The key {keys.public.id} is not enrolled in this instance's manifest "
                f"(version {manifest.version})."
            )
        challenge = api.challenge("member-login")
        signature = sign_login(
            keys.sign_seed, manifest.instance_id, powmod.parse(challenge.challenge)
        )
        token = api.login(
            role=keys.public.kind,
            member_id=keys.public.id,
            challenge=challenge.challenge,
            signature=b64e(signature),
        )
        api.set_token(token.token)
        # The archive recipient reads cases back after a loss; it has no audit-log role.
        audit = (
            check_at_login(api, manifest, remembered.checkpoint)
            if keys.public.kind in ("member", "auditor")
            else LoginCheck(checkpoint=None)
        )
    remembered.token = token.token
    remembered.token_expires_at = token.expires_at.isoformat()
    remembered.role, remembered.subject = keys.public.kind, keys.public.id
    remembered.key_file = str(key.resolve())
    if audit.checkpoint is not None:
        remembered.checkpoint = audit.checkpoint.to_json()
    state.current = normalise(server)
    state.save()
    console.print(f"Logged in to {server} as {keys.public.id} ({keys.public.kind}).")
    console.print(
        f"  manifest version {manifest.version}, committee root {format_fingerprint(verified.pin)}"
    )
    if audit.checkpoint is not None and audit.problem is None:
        note = " (after an approved restore)" if audit.restored else ""
        console.print(f"  audit log verified up to checkpoint {audit.checkpoint.seq}{note}")
    if audit.problem is not None:
        # The earlier checkpoint stays saved, so the warning repeats until this is resolved.
        message = (
            f"WARNING: the audit log failed its check: {audit.problem} Tell the auditors; "
            "the record of who did what on this server may have been tampered with."
        )
        if keys.public.kind == "auditor":
            fail(message)
        err_console.print(message)


@dataclass
class Context:
    state: State
    url: str
    remembered: ServerState
    api: Api

    def manifest(self) -> Manifest:
        """The current manifest, verified against the pin and the newest version seen."""
        verified = verify_for(
            self.api.manifest().model_dump(), pin=None, remembered=self.remembered, now=utcnow()
        )
        self.state.save()
        return verified.manifest

    def keys(self, key: Path | None) -> KeyPair:
        path = key or (Path(self.remembered.key_file) if self.remembered.key_file else None)
        if path is None:
            fail("Give your key file with --key.")
        keys = open_key(path)
        if keys.public.id != self.remembered.subject:
            fail("This key file belongs to someone else than the logged-in member.")
        return keys

    @property
    def label(self) -> str:
        return f"{self.remembered.role}:{self.remembered.subject}"


def logged_in(server: str | None) -> Context:
    state = State.load(default_home())
    url = normalise(server) if server else state.current
    if url is None:
        fail("You are not logged in; run `safevoice login --server URL --key FILE` first.")
    remembered = state.server(url)
    if not remembered.token:
        fail(f"You are not logged in to {url}; run `safevoice login` first.")
    expires = remembered.token_expires_at
    if expires and aware(datetime.fromisoformat(expires)) <= utcnow():
        fail("Your session has expired; run `safevoice login` again.")
    return Context(
        state=state, url=url, remembered=remembered, api=Api(url, token=remembered.token)
    )
