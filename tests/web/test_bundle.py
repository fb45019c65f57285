"""The release bundle: the pin is built into the code, the record covers every byte, and a
server refuses a bundle that does not match its record."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from safevoice import i18n
from safevoice.errors import ConfigError
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web import bundle
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from safevoice.web.security import PAGE_CSP, page_csp
from tests.conftest import Cli
from tests.support.world import World
from tests.web.test_pages import pages


def test_the_root_fingerprint_is_a_constant_in_the_worker_and_nowhere_else(
    web_bundle: Bundle, world: World
) -> None:
    worker = web_bundle.files[web_bundle.worker_script].data.decode()
    assert f'const ROOT_FINGERPRINT = "{world.pin}";' in worker
    assert worker.count(world.pin) == 1
    assert world.pin not in web_bundle.starter_text
    for script in (web_bundle.page_script, web_bundle.followup_script, web_bundle.survey_script):
        page = web_bundle.files[script].data.decode()
        assert world.pin not in page
        assert web_bundle.worker_script.removeprefix("/static/") in page
        assert not re.search(r"^\s*(import|export)\b", page, flags=re.MULTILINE)
    assert "import " not in worker.split("const ROOT_FINGERPRINT")[1].split("\n", 1)[0]


def test_the_bundle_record_lists_every_file_the_csp_and_the_scripts(web_bundle: Bundle) -> None:
    record = json.loads(web_bundle.record)
    assert record["csp"] == PAGE_CSP
    assert "'unsafe-eval'" not in PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP
    assert record["scripts"] == [
        web_bundle.page_script,
        web_bundle.followup_script,
        web_bundle.survey_script,
    ]
    assert record["workers"] == [web_bundle.worker_script]
    # The pages' policy adds exactly the hash of the inline worker starter, a file the record
    # pins like any other, which names the bundled worker.
    assert record["starter"] == web_bundle.starter_script
    starter = web_bundle.files[web_bundle.starter_script].data
    digest = base64.b64encode(hashlib.sha256(starter).digest()).decode()
    assert record["page_csp"] == PAGE_CSP.replace(
        "'wasm-unsafe-eval';", f"'wasm-unsafe-eval' 'sha256-{digest}';"
    )
    assert f'new Worker("{web_bundle.worker_script}"' in web_bundle.starter_text
    assert "'unsafe-inline'" not in record["page_csp"]
    for url, entry in record["files"].items():
        data = web_bundle.files[url].data
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["sha256"].startswith(url.rsplit(".", 2)[1])
    assert web_bundle.digest == hashlib.sha256(web_bundle.record).hexdigest()
    files = sorted(p.name for p in (web_bundle.folder / "static").iterdir())
    assert len(files) == 2 * len(record["files"])


def test_the_same_sources_and_pin_build_the_same_bundle(
    web_bundle: Bundle, world: World, tmp_path: Path
) -> None:
    again = bundle.build(
        pin=world.pin, out=tmp_path / "again", node_modules=bundle.default_node_modules()
    )
    assert again.digest == web_bundle.digest
    other = bundle.build(
        pin="0" * 40, out=tmp_path / "other", node_modules=bundle.default_node_modules()
    )
    assert other.digest != web_bundle.digest


def test_a_server_refuses_to_start_with_a_bundle_that_does_not_match_its_record(
    web_bundle: Bundle, world: World, tmp_path: Path, database_url: str
) -> None:
    copy = bundle.build(
        pin=world.pin, out=tmp_path / "copy", node_modules=bundle.default_node_modules()
    )
    script = copy.folder / "static" / copy.page_script.removeprefix("/static/")
    os.chmod(copy.folder / "static", 0o700)
    os.chmod(script, 0o600)
    data = bytearray(script.read_bytes())
    data[100] ^= 1
    script.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="does not match"):
        create_app(Settings(database_url=database_url, bundle_dir=copy.folder))


def test_a_server_refuses_a_bundle_whose_page_policy_allows_another_inline_script(
    world: World, tmp_path: Path, database_url: str
) -> None:
    copy = bundle.build(
        pin=world.pin, out=tmp_path / "copy", node_modules=bundle.default_node_modules()
    )
    record = json.loads(copy.record)
    record["page_csp"] = page_csp(copy.starter_text.encode(), b"alert(1)")
    _writable(copy.folder / bundle.RECORD_NAME)
    (copy.folder / bundle.RECORD_NAME).write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="allow exactly its worker starter"):
        create_app(Settings(database_url=database_url, bundle_dir=copy.folder))


def test_web_build_prints_the_bundle_hash_and_refuses_a_malformed_pin(
    cli: Cli, world: World, tmp_path: Path
) -> None:
    built = cli.safevoice("web", "build", "--pin", world.pin, "--out", str(tmp_path / "b"))
    digest = built.stdout.strip().splitlines()[-1]
    assert digest == bundle.load(tmp_path / "b").digest
    bad = cli.safevoice(
        "web", "build", "--pin", "not-a-fingerprint", "--out", str(tmp_path / "c"), expect=1
    )
    assert "40 hexadecimal digits" in bad.stderr
    assert not (tmp_path / "c").exists()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("x")
    refused = cli.safevoice(
        "web", "build", "--pin", world.pin, "--out", str(tmp_path / "d"), expect=1
    )
    assert "not empty" in refused.stderr


def _writable(path: Path) -> None:
    os.chmod(path.parent, 0o700)
    os.chmod(path, 0o600)


def test_the_bundle_holds_every_language_and_the_pages_read_their_texts_from_it(
    web_bundle: Bundle,
    world: World,
    tmp_path: Path,
    database: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = json.loads(web_bundle.record)
    translated = [lang for lang in i18n.languages() if lang != i18n.SOURCE]
    assert sorted(record["catalogues"]) == sorted(translated)
    for lang, url in record["catalogues"].items():
        assert web_bundle.files[url].data == i18n.po_path(lang).read_bytes()
        assert url in record["files"]
    # A translator changes one German text: the bundle built from it has another hash, and
    # the server shows the text the bundle holds.
    locales = tmp_path / "locale"
    shutil.copytree(i18n.LOCALES, locales)
    po = locales / "de" / "LC_MESSAGES" / "messages.po"
    german = i18n.Catalogue.load("de")("Report a concern safely")
    text = po.read_text(encoding="utf-8")
    assert text.count(f'msgstr "{german}"') == 1
    po.write_text(text.replace(f'msgstr "{german}"', 'msgstr "Neu übersetzt"'), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", locales)
    changed = bundle.build(
        pin=world.pin, out=tmp_path / "changed", node_modules=bundle.default_node_modules()
    )
    monkeypatch.undo()
    assert changed.digest != web_bundle.digest
    assert i18n.Catalogue.load("de")("Report a concern safely") == german
    with pages(database, database_url, changed, nojs=False) as web:
        page = web.get("/", params={"lang": "de"}).text
    assert "Neu übersetzt" in page
    assert german not in page


def test_a_server_refuses_a_bundle_whose_catalogue_was_changed_and_names_the_language(
    world: World, tmp_path: Path, database_url: str
) -> None:
    copy = bundle.build(
        pin=world.pin, out=tmp_path / "copy", node_modules=bundle.default_node_modules()
    )
    url = json.loads(copy.record)["catalogues"]["fr"]
    po = copy.folder / "static" / url.removeprefix("/static/")
    _writable(po)
    po.write_bytes(po.read_bytes().replace(b'msgstr "', b'msgstr "Envoyez-nous tout. ', 2))
    with pytest.raises(ConfigError, match=r"catalogue of the language 'fr' .* does not match"):
        create_app(Settings(database_url=database_url, bundle_dir=copy.folder))
    with pytest.raises(ConfigError, match="catalogue of the language 'fr'"):
        bundle.load(copy.folder)
