"""Attachments through the real pages in headless Chromium: files are encrypted in the Web
Worker, a chunk at a time, uploaded before the report (or answer) that carries their keys, and
the member downloads them bit-identical with the CLI. A connection dropped in the middle of a
chunk is resumed; canaries in a file's name and contents stay encrypted everywhere; the
no-JavaScript forms take no file at all."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from safevoice.crypto.stream import CHUNK_PLAINTEXT
from safevoice.i18n import Catalogue
from tests.conftest import Cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.conversation import Conversation
from tests.support.databases import data_paths
from tests.support.pages import answer, entries, open_case, submit_report
from tests.support.server import ServerProcess
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def make_file(folder: Path, name: str, size: int, marker: bytes = b"") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes((marker + os.urandom(max(0, size - len(marker))))[:size])
    return path


def download(talk: Conversation, out: Path) -> None:
    talk.cli.safevoice(
        "cases",
        "download",
        talk.case_id,
        "--out",
        str(out),
        env={"SAFEVOICE_HOME": str(talk.cli.home / "alice")},
    )


def chunk_puts(server: ServerProcess) -> list[str]:
    return [
        r.target.rsplit("/", 1)[1]
        for r in server.proxy.requests()
        if r.method == "PUT" and "/chunks/" in r.target
    ]


def test_files_of_every_boundary_size_up_to_fifty_mebibytes_arrive_bit_identical(
    server: ServerProcess, world: World, chromium: Chromium, cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    files = [
        make_file(folder, "empty.txt", 0),
        make_file(folder, "one.bin", 1),
        make_file(folder, "chunk.bin", CHUNK_PLAINTEXT),
        make_file(folder, "chunk-plus-one.bin", CHUNK_PLAINTEXT + 1),
        make_file(folder, "video.mp4", 50 * 1024 * 1024),
    ]
    page = chromium.page()
    code, case_id = submit_report(page, server, "Five files attached.", files=files)
    page.close()
    talk = Conversation(cli, server, world, case_id, code)
    talk.login()
    out = tmp_path / "out"

    download(talk, out)

    for path in files:
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_an_upload_cut_off_halfway_resumes_and_completes(
    server: ServerProcess, world: World, chromium: Chromium, cli: Cli, tmp_path: Path
) -> None:
    path = make_file(tmp_path / "files", "ledger.bin", 5 * CHUNK_PLAINTEXT + 77)
    server.proxy.clear()
    server.proxy.cut_once(b"/chunks/2 HTTP/1.1", after=CHUNK_PLAINTEXT // 2)

    page = chromium.page()
    code, case_id = submit_report(page, server, "One long file.", files=[path])
    page.close()

    assert server.proxy.cuts == 1
    puts = chunk_puts(server)
    # Every chunk went up once, except the one cut off, which was sent again; nothing was
    # started over. (The proxy lists requests per connection, so their order is not the
    # order in time: the browser may resume on a connection it opened earlier.)
    assert sorted(puts) == ["0", "1", "2", "2", "3", "4", "5"], puts
    talk = Conversation(cli, server, world, case_id, code)
    talk.login()
    out = tmp_path / "out"
    download(talk, out)
    assert (out / path.name).read_bytes() == path.read_bytes()


def test_canaries_in_a_files_name_and_contents_stay_encrypted_everywhere(
    conversation: Conversation, chromium: Chromium, tmp_path: Path
) -> None:
    talk = conversation
    name_canary, body_canary = new_canary("FILENAME"), new_canary("FILEBODY")
    path = make_file(
        tmp_path / "files",
        f"{name_canary}.pdf",
        2 * CHUNK_PLAINTEXT + 5,
        marker=body_canary.encode() * 4,
    )
    talk.reply("Do you have the ledger?")
    talk.server.proxy.clear()

    page = chromium.page()
    open_case(page, talk.server, talk.code)
    answer(page, "Here it is.", files=[path])
    (shown,) = [e for e in entries(page) if e["text"] == "Here it is."]
    assert shown["files"] == [t("%(name)s (%(size)s)", name=path.name, size="2.0 MB")]
    page.close()
    out = tmp_path / "out"
    download(talk, out)

    assert (out / path.name).read_bytes() == path.read_bytes()
    server = talk.server
    blobs = server.workdir / "blobs"
    assert any(blobs.rglob("*")), "the blob store holds the chunks"
    for canary in (name_canary, body_canary):
        for request in server.proxy.requests():
            assert not occurrences(request.raw, canary), request.target
        stored = [*data_paths(server.database_url), blobs, server.tmp_dir]
        assert scan_paths(stored, canary) == []
        assert not occurrences(server.log_path.read_bytes(), canary)


def test_the_no_javascript_forms_take_no_file(
    nojs_server: ServerProcess, scriptless_browser: Browser, tmp_path: Path
) -> None:
    page = scriptless_browser.new_page()
    for path in ("/report/general", "/follow-up"):
        page.goto(f"{nojs_server.url}{path}")
        for field in page.locator("input[type=file]").all():
            assert field.get_attribute("name") is None
            expect(field).to_be_hidden()
    page.close()

    canary = new_canary("FILENAME")
    multipart = httpx.post(
        f"{nojs_server.url}/follow-up",
        data={"code": "1000G-40R40-M30E2-09185-GR341"},
        files={"file": (f"{canary}.pdf", b"secret")},
    )
    named = httpx.post(
        f"{nojs_server.url}/report/general",
        data={"text": "See the file.", "answer.where": "Depot", "files": f"{canary}.pdf"},
    )
    for refused in (multipart, named):
        assert refused.status_code == 400
        assert canary not in refused.text
    assert not occurrences(nojs_server.log_path.read_bytes(), canary)
