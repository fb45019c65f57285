"""After a root hand-over, production mode refuses reporter pages pinned to the old root.

Such pages tell every browser reporter that the server may have been tampered with. A worker
(``create_app``) and ``safevoice serve`` refuse them in one sentence naming both roots and the
command that fixes it; ``manifest publish`` warns the operator as soon as the roots part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from safevoice.cli.main import app as cli_app
from safevoice.crypto.keys import format_fingerprint, generate
from safevoice.crypto.manifest import SignedManifest
from safevoice.instance import service as instance
from safevoice.instance.production import ProductionRefused
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web import bundle
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.production import make_bundle, production_env, with_password
from tests.support.world import World, write_keyfile


@pytest.fixture(scope="module")
def new_root() -> Any:
    return generate("root", "root", "New committee root")


@pytest.fixture(scope="module")
def other_pages(new_root: Any, tmp_path_factory: pytest.TempPathFactory) -> bundle.Bundle:
    """Reporter pages built for a root other than the test committee's."""
    return bundle.build(
        pin=new_root.public.fingerprint,
        out=tmp_path_factory.mktemp("other-bundle") / "pages",
        node_modules=bundle.default_node_modules(),
    )


@pytest.fixture
def stale(tmp_path: Path, other_pages: bundle.Bundle) -> Path:
    return make_bundle(tmp_path / "stale", other_pages)


@pytest.fixture
def current(tmp_path: Path, web_bundle: bundle.Bundle) -> Path:
    return make_bundle(tmp_path / "current", web_bundle)


def settings_for(database_url: str, folder: Path) -> Settings:
    return Settings(database_url=with_password(database_url), production=True, bundle_dir=folder)


def test_a_worker_refuses_pages_pinned_to_another_root_than_the_manifests(
    database: Database, database_url: str, world: World, new_root: Any, stale: Path, current: Path
) -> None:
    with pytest.raises(ProductionRefused) as raised:
        create_app(settings_for(database_url, stale), database=database)
    create_app(settings_for(database_url, current), database=database)

    message = raised.value.message
    assert f"pinned to the committee root {format_fingerprint(new_root.public.fingerprint)}" in (
        message
    )
    assert f"`safevoice web build --pin {format_fingerprint(world.pin)}`" in message
    assert message.count(". ") == 0
    assert message.endswith(".")


def test_serve_refuses_pages_pinned_to_another_root_before_any_worker_starts(
    monkeypatch: pytest.MonkeyPatch, database: Database, database_url: str, stale: Path
) -> None:
    started: list[Any] = []
    monkeypatch.setattr("safevoice.cli.serve.uvicorn.run", lambda *a, **kw: started.append(kw))
    env = production_env(database_url, stale)
    for name in env:
        monkeypatch.setenv(name, "")  # recorded, so what serve writes is undone after
        monkeypatch.delenv(name)

    result = CliRunner().invoke(cli_app, ["serve"], env=env)

    assert result.exit_code != 0
    assert started == []
    assert "pinned to the committee root" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_publishing_a_root_hand_over_warns_that_the_pages_must_be_rebuilt(
    cli: Cli,
    database: Database,
    database_url: str,
    world: World,
    new_root: Any,
    current: Path,
    tmp_path: Path,
) -> None:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    previous = tmp_path / "manifest.json"
    previous.write_text(json.dumps(signed.to_json()))
    write_keyfile(tmp_path / "newroot", new_root)
    handed_over = tmp_path / "handed-over.json"
    cli.safevoice(
        "manifest",
        "sign",
        "--previous",
        str(previous),
        "--root-key",
        str(world.key_file("root")),
        "--new-root-key",
        str(tmp_path / "newroot" / "root.key"),
        "--out",
        str(handed_over),
    )
    assert SignedManifest.from_json(json.loads(handed_over.read_text()))

    published = cli.safevoice(
        "manifest",
        "publish",
        str(handed_over),
        env={"SAFEVOICE_DATABASE_URL": database_url, "SAFEVOICE_BUNDLE_DIR": str(current)},
    )

    warned = " ".join(published.stderr.split())
    new = format_fingerprint(new_root.public.fingerprint)
    assert f"pinned to the committee root {format_fingerprint(world.pin)}, not to {new}" in warned
    assert f"safevoice web build --pin {new}" in warned


def test_publishing_without_a_bundle_still_warns_of_a_root_hand_over(
    cli: Cli, database: Database, database_url: str, world: World, new_root: Any, tmp_path: Path
) -> None:
    with database.session(write=False) as session:
        signed = instance.current_signed_manifest(session)
    assert signed is not None
    previous = tmp_path / "manifest.json"
    previous.write_text(json.dumps(signed.to_json()))
    write_keyfile(tmp_path / "newroot", new_root)
    renewed, handed_over = tmp_path / "renewed.json", tmp_path / "handed-over.json"
    root = ["--root-key", str(world.key_file("root"))]
    cli.safevoice("manifest", "sign", "--previous", str(previous), *root, "--out", str(renewed))
    cli.safevoice(
        "manifest",
        "sign",
        "--previous",
        str(renewed),
        *root,
        "--new-root-key",
        str(tmp_path / "newroot" / "root.key"),
        "--out",
        str(handed_over),
    )
    operator = {"SAFEVOICE_DATABASE_URL": database_url}

    quiet = cli.safevoice("manifest", "publish", str(renewed), env=operator)
    loud = cli.safevoice("manifest", "publish", str(handed_over), env=operator)

    assert "Warning" not in quiet.stderr
    assert "hands the committee over to the root" in " ".join(loud.stderr.split())
