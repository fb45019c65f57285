"""``safevoice demo``: a complete local instance in one command, for trying SafeVoice out.

It writes the demo keys under keys/demo/ with the passphrase "demo", a SQLite database under
var/demo/, signs and publishes a manifest, builds the reporter pages' bundle for the demo root
under var/demo/bundle/, and serves pages and API on 127.0.0.1:8000. Demo keys are derived from
public constants, so anyone can read what is sent to a demo instance; production mode
recognises them (and the database the demo marks) and refuses to start with them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from safevoice.cases.manifest import publish_manifest
from safevoice.cli.admin import initialise, load_config
from safevoice.cli.common import console, fail
from safevoice.cli.keys import write_private
from safevoice.cli.manifest import write_signed
from safevoice.cli.ops import operator_database
from safevoice.cli.serve import serve
from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import KeyPair, PublicKey, format_fingerprint, random_bytes, seal_keyfile
from safevoice.crypto.manifest import (
    DEFAULT_CODE_MEMLIMIT,
    DEFAULT_CODE_OPSLIMIT,
    AuditKey,
    CodeKdf,
    Manifest,
    parse_payload,
    sign_manifest,
)
from safevoice.errors import SafeVoiceError
from safevoice.instance import demo as demo_instance
from safevoice.instance import service as instance
from safevoice.private_files import private_dir, private_file, write_private_text
from safevoice.web import bundle as web_bundle
from safevoice.web.bundle import format_digest

DEMO_PASSPHRASE = "demo"  # noqa: S105 - the demo's documented, public passphrase
DEMO_KEYS = Path("keys/demo")
DEMO_DB = Path("var/demo/safevoice.sqlite")
DEMO_BUNDLE = Path("var/demo/bundle")
DEMO_CONFIG = Path(__file__).with_name("demo.toml")


def _write_demo_key(keys: KeyPair) -> None:
    """Write a demo key file, or keep the one in place if it already holds this (public) key."""
    path = DEMO_KEYS / f"{keys.public.id}.key"
    if path.exists():
        try:
            current = PublicKey.from_json(json.loads(path.read_text())["public"])
        except (ValueError, KeyError, TypeError, SafeVoiceError):
            current = None
        if current != keys.public:
            fail(
                f"{path} is not this version's demo key (an earlier demo made it); delete "
                f"{DEMO_KEYS} and {DEMO_DB.parent} to start a fresh demo."
            )
        # Earlier versions wrote demo files readable by everyone.
        private_file(path)
        private_file(DEMO_KEYS / f"{keys.public.id}.pub.json")
        return
    # Demo keys use a light key-file derivation so the demo starts in seconds.
    sealed = seal_keyfile(keys, DEMO_PASSPHRASE, opslimit=2, memlimit=64 * 1024 * 1024)
    write_private(path, json.dumps(sealed, indent=2) + "\n")
    write_private_text(
        DEMO_KEYS / f"{keys.public.id}.pub.json", json.dumps(keys.public.to_json(), indent=2)
    )


def _command(name: str) -> str:
    found = shutil.which(name)
    return found if found else str(Path(sys.executable).parent / name)


def prepare(database_url: str) -> str:
    """Set up keys, database and a fresh enough manifest; return the root fingerprint."""
    root, *members = demo_instance.demo_keys()
    for keys in (root, *members):
        _write_demo_key(keys)
    initialise(database_url, load_config(DEMO_CONFIG), DEMO_KEYS / "instance.pub.json")
    db = operator_database(database_url)
    try:
        with db.unit_of_work() as session:
            demo_instance.mark_demo(session)
            instance_key = instance.instance_public_key(session)
            current = instance.current_signed_manifest(session)
        now = utcnow().replace(microsecond=0)
        old = parse_payload(current.payload) if current is not None else None
        if (
            old is None
            or old.root != root.public.fingerprint
            or old.expires_at - now < timedelta(days=7)
        ):
            manifest = Manifest(
                instance_id=old.instance_id if old else b64e(random_bytes(16)),
                version=old.version + 1 if old else 1,
                issued_at=now,
                expires_at=now + timedelta(days=90),
                root=root.public.fingerprint,
                instance_salt=old.instance_salt if old else random_bytes(16),
                code_kdf=(CodeKdf(1, DEFAULT_CODE_OPSLIMIT, DEFAULT_CODE_MEMLIMIT),),
                envelope_versions=(1,),
                members=tuple(m.public for m in members),
                auditors=(),
                audit_keys=(AuditKey(key=instance_key, from_seq=0),),
            )
            signed = sign_manifest(manifest, [root])
            write_signed(DEMO_KEYS / "manifest.json", signed)
            with db.unit_of_work() as session:
                publish_manifest(session, signed, today=now.date(), now=now, accept_new_root=True)
    finally:
        db.dispose()
    return root.public.fingerprint


def demo(
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    prepare_only: Annotated[
        bool, typer.Option("--prepare-only", help="Set everything up but do not serve.")
    ] = False,
) -> None:
    """Start a complete demo instance at http://127.0.0.1:8000 (demo keys, SQLite)."""
    # Earlier versions made these folders world-readable: tighten them too.
    private_dir(DEMO_KEYS, owned=True)
    private_dir(DEMO_DB.parent, owned=True)
    private_dir(DEMO_DB.parent.parent, owned=True)
    database_url = f"sqlite:///{DEMO_DB}"
    fingerprint = prepare(database_url)
    pages = web_bundle.build(
        pin=fingerprint, out=DEMO_BUNDLE, node_modules=web_bundle.default_node_modules()
    )
    server = f"http://127.0.0.1:{port}"
    pin = format_fingerprint(fingerprint)
    report, safevoice = _command("safevoice-report"), _command("safevoice")
    console.print(f"""
[bold]SafeVoice demo[/] — {server}

Committee root fingerprint: {pin}
Page bundle hash:           {format_digest(pages.digest)}
Demo member keys: {DEMO_KEYS}/alice.key, bob.key, carol.key (passphrase: {DEMO_PASSPHRASE})

Report in a browser: open {server} (the pages encrypt in the browser).

Or submit a report from the terminal:
  echo "Something is wrong in the warehouse" | \\
    {report} submit --server {server} --pin {pin} --channel general --text-file -

Read it as a committee member:
  SAFEVOICE_PASSPHRASE={DEMO_PASSPHRASE} {safevoice} login --server {server} \\
    --key {DEMO_KEYS}/alice.key --pin {pin}
  {safevoice} cases list
  SAFEVOICE_PASSPHRASE={DEMO_PASSPHRASE} {safevoice} cases show CASE_ID
  echo "Which warehouse?" | \
    SAFEVOICE_PASSPHRASE={DEMO_PASSPHRASE} {safevoice} cases reply CASE_ID --text-file -

Read the answer and reply as the reporter, with the follow-up code: {server}/follow-up
""")
    if prepare_only:
        return
    os.environ["SAFEVOICE_BUNDLE_DIR"] = str(DEMO_BUNDLE.resolve())
    serve(host="127.0.0.1", port=port, workers=2, database=database_url, uds=None)
