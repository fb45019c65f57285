"""``safevoice audit verify`` offline: the pin, a saved checkpoint, an approved restore."""

from __future__ import annotations

import json
from pathlib import Path

from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from tests.audit.support import export_of
from tests.audit.test_chain import _saved, restore_to
from tests.conftest import Cli
from tests.support.world import World


def files(tmp_path: Path, database: Database, saved: object) -> tuple[Path, Path]:
    export, checkpoint = tmp_path / "export.json", tmp_path / "saved.json"
    export.write_text(json.dumps(export_of(database)))
    checkpoint.write_text(json.dumps(saved.to_json()))  # type: ignore[attr-defined]  # the fixture parameter is typed as object; it is a SignedCheckpoint
    return export, checkpoint


def test_verify_needs_the_committees_root_and_accepts_only_an_approved_restore(
    cli: Cli, database: Database, manifest: Manifest, world: World, tmp_path: Path
) -> None:
    saved = _saved(database, manifest)
    export, checkpoint = files(tmp_path, database, saved)
    other_root = generate("root", "root", "Someone else").public.fingerprint

    good = cli.safevoice(
        "audit", "verify", str(export), "--checkpoint", str(checkpoint), "--pin", world.pin
    )
    wrong_pin = cli.safevoice("audit", "verify", str(export), "--pin", other_root, expect=1)
    restore_to(database, world, manifest, backup_seq=saved.seq - 2, saved=saved)
    export, checkpoint = files(tmp_path, database, saved)
    restored = cli.safevoice(
        "audit",
        "verify",
        str(export),
        "--checkpoint",
        str(checkpoint),
        "--pin",
        world.pin,
        "--json",
    )

    assert f"extends the saved checkpoint at seq {saved.seq}" in good.stdout
    assert "not signed by the committee root you pinned" in wrong_pin.stderr
    assert json.loads(restored.stdout)["restored_from"] == saved.seq


def test_a_restore_approved_by_a_stranger_is_refused_naming_the_saved_seq(
    cli: Cli, database: Database, manifest: Manifest, world: World, tmp_path: Path
) -> None:
    saved = _saved(database, manifest)
    world.members["mallory"] = generate("member", "mallory", "Mallory")
    try:
        restore_to(
            database, world, manifest, backup_seq=saved.seq - 2, saved=saved, signer="mallory"
        )
    finally:
        del world.members["mallory"]
    export, checkpoint = files(tmp_path, database, saved)

    refused = cli.safevoice(
        "audit",
        "verify",
        str(export),
        "--checkpoint",
        str(checkpoint),
        "--pin",
        world.pin,
        expect=1,
    )

    assert (
        f"rolled back past the saved checkpoint at seq {saved.seq} without an approved restore"
        in refused.stderr
    )
