"""``safevoice audit``: export the audit log, verify it offline, countersign checkpoints.

``export`` needs a member or auditor session; ``verify`` needs no server at all: it checks the
manifest inside the export against the committee root (``--pin``, or the pin this client
already holds), re-hashes the whole chain, checks every checkpoint's signature under the audit
key the manifest names for its seq, every countersignature, and that a saved checkpoint is a
prefix of the chain (or was rolled back through an approved restore). Any violation exits with
status 1 and a sentence naming the entry or checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from safevoice.cli import backup as backups
from safevoice.cli import retention as retention_cli
from safevoice.cli.common import console, err_console, fail, make_app, print_json, read_json_file
from safevoice.cli.session import Server, logged_in
from safevoice.client.audit import check_at_login
from safevoice.client.state import State, default_home
from safevoice.crypto.checkpoint import countersign
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import parse_fingerprint
from safevoice.crypto.manifest import Manifest, SignedManifest, parse_payload, valid_signers
from safevoice.errors import AuditViolation, ManifestError
from safevoice.private_files import write_private_text
from safevoice.protocol.audit import (
    EXPORT_FORMAT,
    Entry,
    SignedCheckpoint,
    check_checkpoint,
    verify_export,
)
from safevoice.protocol.wire import RetentionOverview
from safevoice.retention import service as retention

app = make_app("Export, verify and countersign the tamper-evident audit log.")

KeyOption = Annotated[
    Path | None, typer.Option(help="Your key file (default: the one you logged in with).")
]


def _write(path: Path, value: Any) -> None:
    write_private_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="Where to write the export (JSON).")],
    server: Server = None,
) -> None:
    """Fetch the whole audit log, its checkpoints and the manifest into one file."""
    context = logged_in(server)
    with context.api as api:
        signed = api.manifest().model_dump()
        context.manifest()  # verified against the pin before anything is written
        api.audit_checkpoint()  # issue a checkpoint of the current head first
        entries = [
            e.model_dump(exclude_none=True) for page in api.audit_entries() for e in page.entries
        ]
        checkpoints = [c.model_dump() for c in api.audit_checkpoints()]
        # The auditor's export also carries the retention state, so that ``verify`` can
        # account offline for every case the log says was received.
        retention = (
            json.loads(api.retention().model_dump_json())
            if context.remembered.role == "auditor"
            else None
        )
    manifest = parse_payload(SignedManifest.from_json(signed).payload)
    exported: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "instance_id": manifest.instance_id,
        "manifest": signed,
        "entries": entries,
        "checkpoints": checkpoints,
    }
    if retention is not None:
        exported["retention"] = retention
    _write(out, exported)
    console.print(
        f"Exported {len(entries)} audit entries and {len(checkpoints)} checkpoints → {out}"
    )


def _export_manifest(data: Any, pin: str | None) -> Manifest:
    if pin is None:
        state = State.load(default_home())
        remembered = state.servers.get(state.current or "")
        pin = remembered.pin if remembered is not None else None
    if pin is None:
        fail("Give the committee root fingerprint with --pin (or log in once to remember it).")
    fingerprint = parse_fingerprint(pin)
    try:
        signed = SignedManifest.from_json(data["manifest"])
        if fingerprint not in valid_signers(signed):
            fail(
                "The manifest in the export is not signed by the committee root you pinned; "
                "the export cannot be trusted."
            )
        return parse_payload(signed.payload)
    except (KeyError, TypeError):
        fail("The file is not a SafeVoice audit export (it has no manifest).")
    except ManifestError as exc:
        fail(f"The manifest in the export is refused: {exc.message}")


def _unaccounted(data: dict[str, Any]) -> list[str]:
    """What the verified log says happened that the exported retention state does not show.

    Only an auditor's export carries the retention state; a member's export withholds the
    entries of cases the member cannot know of, purges included, so it is not accounted here.
    """
    if "retention" not in data:
        return []
    log = [Entry.from_json(e).parsed() for e in data["entries"]]
    try:
        view = RetentionOverview.model_validate(data["retention"])
    except ValidationError:
        fail("The retention state in the export is malformed.")
    return retention.account(view, log)


@app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="An export written by `safevoice audit export`.")],
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint saved earlier; the log must still extend it."),
    ] = None,
    pin: Annotated[
        str | None, typer.Option(help="Committee root fingerprint (default: the one remembered).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify an export offline: chain, checkpoint signatures, countersignatures, no gaps, and
    that a saved checkpoint is a prefix of the chain."""
    data = read_json_file(file, what="audit export")
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        fail(f"{file} is not a SafeVoice audit export.")
    manifest = _export_manifest(data, pin)
    saved = None
    if checkpoint is not None:
        try:
            saved = SignedCheckpoint.from_json(read_json_file(checkpoint, what="checkpoint"))
        except AuditViolation as exc:
            fail(f"{checkpoint}: {exc.message}")
    result = verify_export(data, manifest=manifest, saved=saved)
    problems = _unaccounted(data)
    if problems:
        for problem in problems:
            err_console.print(f"[bold red]Violation:[/] {escape(problem)}")
        fail(
            f"The audit log verifies, but {len(problems)} case(s) or purge(s) are not accounted "
            "for (listed above)."
        )
    summary = {
        "verified": True,
        "entries": result.entries,
        "head_seq": result.head_seq,
        "checkpoints": result.checkpoints,
        "countersigned": result.countersigned,
        "saved_checkpoint": saved.seq if saved is not None else None,
        "restored_from": result.restored_from,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"The audit log verifies: {result.entries} entries (head at seq {result.head_seq}), "
        f"{result.checkpoints} signed checkpoints, {result.countersigned} countersigned."
    )
    if saved is not None:
        how = (
            f" through an approved restore from seq {result.restored_from}"
            if result.restored_from is not None
            else ""
        )
        console.print(f"  It extends the saved checkpoint at seq {saved.seq}{how}.")


@app.command("countersign")
def countersign_command(
    server: Server = None,
    key: KeyOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Also save the countersigned checkpoint to this file.")
    ] = None,
) -> None:
    """Countersign the latest checkpoint after checking it extends the last one you saw."""
    context = logged_in(server)
    if context.remembered.role != "auditor":
        fail("Only auditors countersign checkpoints; log in with an auditor key.")
    keys = context.keys(key)
    with context.api as api:
        manifest = context.manifest()
        check = check_at_login(api, manifest, context.remembered.checkpoint)
        if check.problem is not None:
            fail(f"Not countersigned: {check.problem}")
        if check.checkpoint is None:
            fail("The audit log has no checkpoint yet.")
        latest = check.checkpoint
        check_checkpoint(latest, manifest)
        signature = countersign(
            keys.sign_seed, instance_id=manifest.instance_id, seq=latest.seq, head=latest.head
        )
        stored = SignedCheckpoint.from_json(
            api.countersign(latest.seq, b64e(signature)).model_dump()
        )
    context.remembered.checkpoint = stored.to_json()
    context.state.save()
    if out is not None:
        _write(out, stored.to_json())
    console.print(f"Countersigned checkpoint {stored.seq} as {keys.public.id}.")


# The retention check and the restore approval live beside what they audit (cli/retention.py,
# cli/backup.py); they belong to this group all the same.
app.command("retention")(retention_cli.audit_retention)
app.command("approve-restore")(backups.approve_restore)
