"""``safevoice manifest``: the committee signs who may read reports; the operator publishes it.

Signing happens on the committee's offline machine with the root key; publishing happens on
the server with database access and no private key at all.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from safevoice.cli.common import (
    console,
    fail,
    load_public,
    make_app,
    open_key,
    print_json,
    read_json_file,
)
from safevoice.cli.ops import operator_database
from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import PublicKey, format_fingerprint, random_bytes
from safevoice.crypto.manifest import (
    DEFAULT_CODE_MEMLIMIT,
    DEFAULT_CODE_OPSLIMIT,
    MAX_VALIDITY,
    AuditKey,
    CodeKdf,
    Manifest,
    SignedManifest,
    parse_payload,
    sign_manifest,
    valid_signers,
)
from safevoice.errors import ManifestError
from safevoice.instance import service as instance

app = make_app("Sign, publish and inspect the committee's instance manifest.")


def load_signed(path: Path) -> SignedManifest:
    return SignedManifest.from_json(read_json_file(path, what="manifest"))


def write_signed(path: Path, signed: SignedManifest) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(signed.to_json(), indent=2) + "\n", encoding="utf-8")


def _replace(keys: tuple[PublicKey, ...], new: list[PublicKey]) -> tuple[PublicKey, ...]:
    by_id = {k.id: k for k in keys}
    for key in new:
        by_id[key.id] = key
    return tuple(by_id.values())


@app.command("sign")
def sign_command(
    root_key: Annotated[Path, typer.Option(help="The committee root key file.")],
    out: Annotated[Path, typer.Option(help="Where to write the signed manifest.")],
    previous: Annotated[
        Path | None,
        typer.Option(help="The current manifest: carry it forward with a higher version."),
    ] = None,
    member: Annotated[
        list[Path] | None, typer.Option(help="A member's public key file (repeatable).")
    ] = None,
    auditor: Annotated[
        list[Path] | None, typer.Option(help="An auditor's public key file (repeatable).")
    ] = None,
    instance_key: Annotated[
        Path | None,
        typer.Option(help="The server's instance public key (from `safevoice admin init`)."),
    ] = None,
    days: Annotated[int, typer.Option(help="Days of validity (at most 90).")] = 90,
    code_memory_mib: Annotated[
        int, typer.Option(help="Argon2id memory for follow-up codes, in MiB (at least 64).")
    ] = DEFAULT_CODE_MEMLIMIT // (1024 * 1024),
    code_passes: Annotated[
        int, typer.Option(help="Argon2id passes for follow-up codes (at least 2).")
    ] = DEFAULT_CODE_OPSLIMIT,
) -> None:
    """Sign a new manifest, or a new version of --previous, with the committee root key."""
    if not 1 <= days <= MAX_VALIDITY.days:
        fail("A manifest is valid for 1 to 90 days.")
    members = [load_public(p) for p in member or []]
    auditors = [load_public(p) for p in auditor or []]
    if any(m.kind != "member" for m in members):
        fail("--member takes member public keys only.")
    if any(a.kind != "auditor" for a in auditors):
        fail("--auditor takes auditor public keys only.")
    audit_key = load_public(instance_key) if instance_key else None
    if audit_key is not None and audit_key.kind != "instance":
        fail("--instance-key takes the instance public key written by `safevoice admin init`.")

    root = open_key(root_key)
    if root.public.kind != "root":
        fail(f"{root_key} is not a committee root key.")
    now = utcnow().replace(microsecond=0)
    if previous is not None:
        old_signed = load_signed(previous)
        if root.public.fingerprint not in valid_signers(old_signed):
            fail("The previous manifest is not signed by this root key.")
        old = parse_payload(old_signed.payload)
        audit_keys = old.audit_keys
        if audit_key is not None and audit_key.sign_key not in {k.key for k in audit_keys}:
            fail("Rotating the instance key is done with its own command, not here.")
        manifest = Manifest(
            instance_id=old.instance_id,
            version=old.version + 1,
            issued_at=now,
            expires_at=now + timedelta(days=days),
            root=root.public.fingerprint,
            instance_salt=old.instance_salt,
            code_kdf=old.code_kdf,
            envelope_versions=old.envelope_versions,
            members=_replace(old.members, members),
            auditors=_replace(old.auditors, auditors),
            audit_keys=audit_keys,
            archive=old.archive,
        )
    else:
        if not members:
            fail("A first manifest needs at least one --member.")
        if audit_key is None:
            fail("A first manifest needs the server's --instance-key.")
        manifest = Manifest(
            instance_id=b64e(random_bytes(16)),
            version=1,
            issued_at=now,
            expires_at=now + timedelta(days=days),
            root=root.public.fingerprint,
            instance_salt=random_bytes(16),
            code_kdf=(
                CodeKdf(version=1, opslimit=code_passes, memlimit=code_memory_mib * 1024 * 1024),
            ),
            envelope_versions=(1,),
            members=tuple(members),
            auditors=tuple(auditors),
            audit_keys=(AuditKey(key=audit_key.sign_key, from_seq=0),),
        )
    signed = sign_manifest(manifest, [root])
    parse_payload(signed.payload)  # refuse to write anything a client would refuse
    write_signed(out, signed)
    console.print(f"Signed manifest version {manifest.version} → {out}")
    console.print(f"  members: {', '.join(m.id for m in manifest.members)}")
    console.print(f"  valid until {manifest.expires_at:%Y-%m-%d}")
    console.print(f"  committee root fingerprint: {format_fingerprint(manifest.root)}")


@app.command("publish")
def publish_command(
    path: Annotated[Path, typer.Argument(help="The signed manifest file.")],
    database: Annotated[
        str | None, typer.Option(help="Database URL (default: SAFEVOICE_DATABASE_URL).")
    ] = None,
    accept_new_root: Annotated[
        bool, typer.Option(help="Accept a root the current root did not cross-sign.")
    ] = False,
) -> None:
    """Publish a committee-signed manifest on this server (operator; no private key needed)."""
    signed = load_signed(path)
    db = operator_database(database)
    now = utcnow()
    try:
        with db.unit_of_work() as session:
            snap_tz = instance.snapshot(session).timezone
            manifest = instance.publish_manifest(
                session,
                signed,
                today=now.astimezone(snap_tz).date(),
                now=now,
                accept_new_root=accept_new_root,
            )
    finally:
        db.dispose()
    console.print(
        f"Published manifest version {manifest.version} (root {format_fingerprint(manifest.root)})."
    )


def describe(signed: SignedManifest) -> dict[str, Any]:
    manifest = parse_payload(signed.payload)
    return {
        "instance_id": manifest.instance_id,
        "version": manifest.version,
        "issued_at": manifest.issued_at.isoformat(),
        "expires_at": manifest.expires_at.isoformat(),
        "root": manifest.root,
        "signed_by": sorted(valid_signers(signed)),
        "members": [
            {"id": m.id, "name": m.name, "fingerprint": m.fingerprint} for m in manifest.members
        ],
        "auditors": [
            {"id": a.id, "name": a.name, "fingerprint": a.fingerprint} for a in manifest.auditors
        ],
        "code_kdf": [k.to_json() for k in manifest.code_kdf],
        "audit_keys": [{"key": b64e(k.key), "from_seq": k.from_seq} for k in manifest.audit_keys],
        "archive": manifest.archive.id if manifest.archive else None,
    }


@app.command("show")
def show_command(
    path: Annotated[Path | None, typer.Argument(help="A manifest file.")] = None,
    server: Annotated[
        str | None, typer.Option(envvar="SAFEVOICE_SERVER", help="Fetch it from this server.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a manifest's contents (not a verification: use a pin for that)."""
    if path is not None:
        signed = load_signed(path)
    elif server is not None:
        from safevoice.client.api import Api

        with Api(server) as api:
            signed = SignedManifest.from_json(api.manifest().model_dump())
    else:
        fail("Give a manifest file or --server.")
    try:
        info = describe(signed)
    except ManifestError as exc:
        fail(exc.message)
    if as_json:
        print_json(info)
        return
    console.print(f"Manifest version {info['version']} of instance {info['instance_id']}")
    console.print(f"  valid {info['issued_at']} → {info['expires_at']}")
    console.print(f"  root: {format_fingerprint(info['root'])}")
    for m in info["members"]:
        console.print(
            f"  member  {m['id']:<16} {m['name']}  {format_fingerprint(m['fingerprint'])}"
        )
    for a in info["auditors"]:
        console.print(
            f"  auditor {a['id']:<16} {a['name']}  {format_fingerprint(a['fingerprint'])}"
        )
