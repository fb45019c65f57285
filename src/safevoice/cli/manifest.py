"""``safevoice manifest``: the committee signs who may read reports; the operator publishes it.

Signing happens on the committee's offline machine with the root key; publishing happens on
the server with database access and no private key at all.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from safevoice.cases.manifest import publish_manifest
from safevoice.cases.service import waiting_for_rekey
from safevoice.cli.common import (
    console,
    err_console,
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
from safevoice.crypto.keys import KeyPair, PublicKey, format_fingerprint, random_bytes
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
    successor,
    valid_signers,
)
from safevoice.errors import ConfigError, ManifestError
from safevoice.instance import service as instance
from safevoice.private_files import write_private_text
from safevoice.settings import Settings
from safevoice.web import bundle

app = make_app("Sign, publish and inspect the committee's instance manifest.")


def load_signed(path: Path) -> SignedManifest:
    return SignedManifest.from_json(read_json_file(path, what="manifest"))


def write_signed(path: Path, signed: SignedManifest) -> None:
    write_private_text(path, json.dumps(signed.to_json(), indent=2) + "\n")


def _replace(keys: tuple[PublicKey, ...], new: list[PublicKey]) -> tuple[PublicKey, ...]:
    by_id = {k.id: k for k in keys}
    for key in new:
        by_id[key.id] = key
    return tuple(by_id.values())


RootKeyOption = Annotated[Path, typer.Option(help="The committee root key file.")]
OutOption = Annotated[Path, typer.Option(help="Where to write the signed manifest.")]
PreviousOption = Annotated[
    Path, typer.Option(help="The current manifest; the new one is its next version.")
]
DaysOption = Annotated[int, typer.Option(help="Days of validity (at most 90).")]


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_VALIDITY.days:
        fail("A manifest is valid for 1 to 90 days.")


def _open_root(path: Path) -> KeyPair:
    root = open_key(path)
    if root.public.kind != "root":
        fail(f"{path} is not a committee root key.")
    return root


def _load_previous(path: Path, root: KeyPair) -> Manifest:
    """The manifest to carry forward; only the root it names may sign its successor."""
    old_signed = load_signed(path)
    try:
        old = parse_payload(old_signed.payload)
    except ManifestError as exc:
        fail(f"{path}: {exc.message}")
    if old.root != root.public.fingerprint or root.public.fingerprint not in valid_signers(
        old_signed
    ):
        fail(
            f"{path} belongs to the committee root {format_fingerprint(old.root)}, not to this "
            "root key."
        )
    return old


def _sign_and_write(manifest: Manifest, roots: list[KeyPair], out: Path) -> None:
    signed = sign_manifest(manifest, roots)
    try:
        parse_payload(signed.payload)  # refuse to write anything a client would refuse
    except ManifestError as exc:
        fail(exc.message)
    write_signed(out, signed)
    console.print(f"Signed manifest version {manifest.version} → {out}")
    console.print(f"  members: {', '.join(m.id for m in manifest.members)}")
    if manifest.archive is not None:
        console.print(f"  archive recipient: {manifest.archive.id}")
    console.print(f"  valid until {manifest.expires_at:%Y-%m-%d}")
    console.print(f"  committee root fingerprint: {format_fingerprint(manifest.root)}")
    if len(roots) > 1:
        console.print(
            f"  cross-signed by the retiring root {format_fingerprint(roots[0].public.fingerprint)}"
        )


REKEY_REMINDER = (
    "Next: the operator publishes it (`safevoice manifest publish`); the cases that key could "
    "open wait until a remaining member runs `safevoice cases rekey --all`."
)


def _public_keys(
    member: list[Path] | None, auditor: list[Path] | None, instance_key: Path | None
) -> tuple[list[PublicKey], list[PublicKey], PublicKey | None]:
    """The public key files given to ``manifest sign``, each refused if of the wrong kind."""
    members = [load_public(p) for p in member or []]
    auditors = [load_public(p) for p in auditor or []]
    if any(m.kind != "member" for m in members):
        fail("--member takes member public keys only.")
    if any(a.kind != "auditor" for a in auditors):
        fail("--auditor takes auditor public keys only.")
    audit_key = load_public(instance_key) if instance_key else None
    if audit_key is not None and audit_key.kind != "instance":
        fail("--instance-key takes the instance public key written by `safevoice admin init`.")
    return members, auditors, audit_key


@app.command("sign")
def sign_command(
    root_key: RootKeyOption,
    out: OutOption,
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
    new_root_key: Annotated[
        Path | None,
        typer.Option(
            help="With --previous: hand the manifest over to this new root key; the new "
            "version is signed by both roots, so clients pinned to the old one move to it."
        ),
    ] = None,
    days: DaysOption = 90,
    code_memory_mib: Annotated[
        int, typer.Option(help="Argon2id memory for follow-up codes, in MiB (at least 64).")
    ] = DEFAULT_CODE_MEMLIMIT // (1024 * 1024),
    code_passes: Annotated[
        int, typer.Option(help="Argon2id passes for follow-up codes (at least 2).")
    ] = DEFAULT_CODE_OPSLIMIT,
) -> None:
    """Sign a new manifest, or a new version of --previous, with the committee root key."""
    _check_days(days)
    members, auditors, audit_key = _public_keys(member, auditor, instance_key)
    if new_root_key is not None and previous is None:
        fail("--new-root-key hands over an existing manifest; give it with --previous.")

    root = _open_root(root_key)
    now = utcnow().replace(microsecond=0)
    if previous is not None:
        old = _load_previous(previous, root)
        if audit_key is not None and audit_key.sign_key not in {k.key for k in old.audit_keys}:
            fail("Rotating the instance key is done with its own command, not here.")
        roots = [root]
        if new_root_key is not None:
            new_root = _open_root(new_root_key)
            if new_root.public.fingerprint == root.public.fingerprint:
                fail("The new root key is the same as the current one.")
            roots.append(new_root)
        manifest = successor(
            old,
            root=roots[-1].public.fingerprint,
            now=now,
            days=days,
            members=_replace(old.members, members),
            auditors=_replace(old.auditors, auditors),
        )
        _sign_and_write(manifest, roots, out)
        if any(r.until_version == manifest.version for r in manifest.retired):
            console.print(REKEY_REMINDER)
        if new_root_key is not None:
            console.print(
                "Publish the new root fingerprint where staff compare it, rebuild the web "
                "bundle with it (`safevoice web build --pin …`), and from now on sign with the "
                "new root only."
            )
        return
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
    _sign_and_write(manifest, [root], out)


def _member_key(path: Path) -> PublicKey:
    key = load_public(path)
    if key.kind != "member":
        fail(f"{path} is not a member's public key.")
    return key


def _ask_to_compare(key: PublicKey, *, new: bool = False) -> None:
    """A key read from a file is only trusted once its owner confirmed it out of band."""
    console.print(
        f"Compare the {'new ' if new else ''}fingerprint {format_fingerprint(key.fingerprint)} "
        f"with {key.name} over a second channel before publishing."
    )


@app.command("add-member")
def add_member_command(
    public_key: Annotated[Path, typer.Argument(help="The new member's public key file.")],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """Enrol a member: the next manifest version lists their key.

    They read cases reported from then on; earlier cases were never encrypted to them.
    """
    _check_days(days)
    key = _member_key(public_key)
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if old.recipient(key.id) is not None or old.auditor(key.id) is not None:
        fail(
            f"The id {key.id!r} is already in the manifest; to give a member a new key use "
            "`safevoice manifest rotate-member-key`."
        )
    manifest = successor(old, root=old.root, now=utcnow(), days=days, members=(*old.members, key))
    _sign_and_write(manifest, [root], out)
    _ask_to_compare(key)


@app.command("remove-member")
def remove_member_command(
    member_id: Annotated[str, typer.Argument(help="The id of the member who leaves.")],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """Offboard a member: the next manifest version no longer lists them.

    Their sessions end when it is published, and nothing new in their cases reaches them once a
    remaining member re-keys the cases (`safevoice cases rekey --all`).
    """
    _check_days(days)
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if old.member(member_id) is None:
        fail(f"There is no member {member_id!r} in {previous}.")
    remaining = tuple(m for m in old.members if m.id != member_id)
    if not remaining:
        fail("The last member cannot be removed; enrol their successor first.")
    manifest = successor(old, root=old.root, now=utcnow(), days=days, members=remaining)
    _sign_and_write(manifest, [root], out)
    console.print(REKEY_REMINDER)


def _auditor_key(path: Path) -> PublicKey:
    key = load_public(path)
    if key.kind != "auditor":
        fail(
            f"{path} is not an auditor's public key "
            "(generate one with `safevoice keys generate auditor`)."
        )
    return key


@app.command("add-auditor")
def add_auditor_command(
    public_key: Annotated[Path, typer.Argument(help="The new auditor's public key file.")],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """Enrol an auditor: the next manifest version lists their signing key.

    Once it is published they log in, export and verify the audit log, check retention and
    countersign checkpoints; an auditor never holds a key that opens a case.
    """
    _check_days(days)
    key = _auditor_key(public_key)
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if old.recipient(key.id) is not None or old.auditor(key.id) is not None:
        fail(
            f"The id {key.id!r} is already in the manifest; to give an auditor a new key, "
            "remove the old one and enrol the new key under another id."
        )
    manifest = successor(old, root=old.root, now=utcnow(), days=days, auditors=(*old.auditors, key))
    _sign_and_write(manifest, [root], out)
    console.print(f"  auditors: {', '.join(a.id for a in manifest.auditors)}")
    _ask_to_compare(key)


@app.command("remove-auditor")
def remove_auditor_command(
    auditor_id: Annotated[str, typer.Argument(help="The id of the auditor who leaves.")],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """Offboard an auditor: the next manifest version no longer lists them.

    Their sessions end when it is published; their key is kept among the retired keys, so the
    countersignatures they made before stay verifiable and nothing they sign later does.
    """
    _check_days(days)
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if old.auditor(auditor_id) is None:
        fail(f"There is no auditor {auditor_id!r} in {previous}.")
    remaining = tuple(a for a in old.auditors if a.id != auditor_id)
    manifest = successor(old, root=old.root, now=utcnow(), days=days, auditors=remaining)
    _sign_and_write(manifest, [root], out)
    console.print(f"  auditors: {', '.join(a.id for a in manifest.auditors) or 'none'}")
    if not remaining:
        console.print(
            "Warning: no auditor is left; nobody outside the committee countersigns the audit log "
            "until a new one is enrolled (`safevoice manifest add-auditor`)."
        )


@app.command("rotate-member-key")
def rotate_member_key_command(
    public_key: Annotated[
        Path, typer.Argument(help="The member's new public key file (same id as before).")
    ],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """Replace a member's key (routine rotation, or a lost or stolen key).

    The member keeps their id; the old key signs nothing from the new version on. Once it is
    published, the member (with `--old-key`) or any other member re-keys the cases.
    """
    _check_days(days)
    key = _member_key(public_key)
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    current = old.member(key.id)
    if current is None:
        fail(f"There is no member {key.id!r} in {previous}; use `add-member` to enrol one.")
    if current.sign_key == key.sign_key or current.box_key == key.box_key:
        fail(f"{public_key} holds the key {key.id!r} already has; generate a new key pair.")
    members = tuple(key if m.id == key.id else m for m in old.members)
    manifest = successor(old, root=old.root, now=utcnow(), days=days, members=members)
    _sign_and_write(manifest, [root], out)
    _ask_to_compare(key, new=True)
    console.print(REKEY_REMINDER)


@app.command("set-archive")
def set_archive_command(
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    public_key: Annotated[
        Path | None, typer.Argument(help="The archive recipient's public key file.")
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Stop naming an archive recipient in new cases.")
    ] = False,
    days: DaysOption = 90,
) -> None:
    """Name (or, with --off, stop naming) the archive recipient of every new case.

    Its private key must exist only as k-of-n shares (`safevoice keys split`). Cases submitted
    before stay as they are; cases submitted after are also encrypted to the archive key, and
    reporters are told so.
    """
    _check_days(days)
    if (public_key is None) == (not off):
        fail("Give the archive's public key file, or --off to remove the archive recipient.")
    key = load_public(public_key) if public_key is not None else None
    if key is not None and key.kind != "archive":
        fail(
            f"{public_key} is not an archive key "
            "(generate one with `safevoice keys generate archive`)."
        )
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if key is None and old.archive is None:
        fail(f"{previous} names no archive recipient.")
    if key is not None and old.archive is not None and old.archive.sign_key == key.sign_key:
        fail(f"{previous} already names this archive key.")
    manifest = successor(old, root=old.root, now=utcnow(), days=days, archive=key)
    _sign_and_write(manifest, [root], out)
    if key is None:
        console.print("New cases will no longer name an archive recipient. " + REKEY_REMINDER)
    elif old.archive is not None:
        console.print(REKEY_REMINDER)


@app.command("rotate-audit-key")
def rotate_audit_key_command(
    new_key: Annotated[
        Path,
        typer.Option(
            help="The new instance public key (from `safevoice admin rotate-instance-key`)."
        ),
    ],
    from_seq: Annotated[
        int, typer.Option(help="The audit seq the new key signs from (printed with the new key).")
    ],
    previous: PreviousOption,
    root_key: RootKeyOption,
    out: OutOption,
    days: DaysOption = 90,
) -> None:
    """List a new instance (audit) key from --from-seq on; the earlier keys stay listed, so
    every checkpoint signed before still verifies under the key of its part of the log."""
    _check_days(days)
    key = load_public(new_key)
    if key.kind != "instance":
        fail(f"{new_key} is not an instance key (from `safevoice admin rotate-instance-key`).")
    root = _open_root(root_key)
    old = _load_previous(previous, root)
    if key.sign_key in {k.key for k in old.audit_keys}:
        fail(f"{previous} already lists this instance key.")
    newest = max(k.from_seq for k in old.audit_keys)
    if from_seq <= newest:
        fail(f"The new key must start after seq {newest}, where the current key starts.")
    manifest = replace(
        successor(old, root=old.root, now=utcnow(), days=days),
        audit_keys=(*old.audit_keys, AuditKey(key=key.sign_key, from_seq=from_seq)),
    )
    _sign_and_write(manifest, [root], out)
    console.print(
        f"  instance key {format_fingerprint(key.fingerprint)} signs from seq {from_seq}; "
        "publish this manifest with `safevoice manifest publish`."
    )


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
    """Publish a committee-signed manifest on this server (operator; no private key needed).

    Warns when the reporter pages must be rebuilt: the manifest hands the committee over to a
    new root, or the release bundle named by SAFEVOICE_BUNDLE_DIR pins another root.
    """
    signed = load_signed(path)
    db = operator_database(database)
    now = utcnow()
    try:
        with db.unit_of_work() as session:
            previous = instance.snapshot(session)
            snap_tz = previous.timezone
            previous_root = previous.manifest.root if previous.manifest is not None else None
            manifest = publish_manifest(
                session,
                signed,
                today=now.astimezone(snap_tz).date(),
                now=now,
                accept_new_root=accept_new_root,
            )
            waiting = waiting_for_rekey(session)
    finally:
        db.dispose()
    console.print(
        f"Published manifest version {manifest.version} (root {format_fingerprint(manifest.root)})."
    )
    _warn_bundle(manifest.root, previous_root)
    if waiting:
        console.print(
            f"{waiting} case(s) wait for a committee member to re-key them "
            "(`safevoice cases rekey --all`); nothing new can be written to them until then."
        )


def _warn_bundle(root: str, previous_root: str | None) -> None:
    """Say when the installed reporter pages pin another root than the one just published."""
    bundle_dir = Settings.from_env().bundle_dir
    pinned: str | None = None
    if bundle_dir is not None:
        try:
            pinned = bundle.load(bundle_dir).pin
        except ConfigError as exc:
            err_console.print(f"Warning: the release bundle cannot be checked: {exc.message}")
    new_root = format_fingerprint(root)
    if pinned is not None and pinned != root:
        err_console.print(
            f"Warning: the release bundle in {bundle_dir} is pinned to the committee root "
            f"{format_fingerprint(pinned)}, not to {new_root}. Browser reporters will be told the "
            "server may have been tampered with, and a production server refuses to start: build "
            f"it again with `safevoice web build --pin {new_root}`, install it and publish its "
            "hash."
        )
    elif pinned is None and previous_root is not None and previous_root != root:
        err_console.print(
            f"Warning: this manifest hands the committee over to the root {new_root}. Build the "
            f"reporter pages again with `safevoice web build --pin {new_root}`, install them and "
            "publish their hash; a production server refuses a bundle pinned to the old root."
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
        "archive": (
            {
                "id": manifest.archive.id,
                "name": manifest.archive.name,
                "fingerprint": manifest.archive.fingerprint,
            }
            if manifest.archive
            else None
        ),
        "retired": [{"label": r.label, "until_version": r.until_version} for r in manifest.retired],
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
    archive = info["archive"]
    if archive is not None:
        console.print(
            f"  archive {archive['id']:<16} {archive['name']}  "
            f"{format_fingerprint(archive['fingerprint'])}"
        )
    if info["retired"]:
        console.print(
            "  retired keys: "
            + ", ".join(f"{r['label']} (until v{r['until_version']})" for r in info["retired"])
        )
