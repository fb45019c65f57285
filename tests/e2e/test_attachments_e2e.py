"""Attachments through the command-line clients and the real server: sizes up to 50 MiB,
canaries in file names and contents, cleaned copies, and resuming after a restart."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from safevoice.crypto.stream import CHUNK_PLAINTEXT
from tests.conftest import Cli
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.conversation import Conversation
from tests.support.databases import data_paths
from tests.support.server import ServerProcess
from tests.support.world import World


def make_file(folder: Path, name: str, size: int, marker: bytes = b"") -> Path:
    path = folder / name
    body = os.urandom(max(0, size - len(marker)))
    path.write_bytes((marker + body)[:size] if size else b"")
    return path


def download(talk: Conversation, case_id: str, out: Path, *extra: str) -> str:
    result = talk.cli.safevoice(
        "cases",
        "download",
        case_id,
        "--out",
        str(out),
        *extra,
        env={"SAFEVOICE_HOME": str(talk.cli.home / "alice")},
    )
    return str(result.stdout)


def test_files_up_to_fifty_mebibytes_arrive_bit_identical(
    cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    files = [
        make_file(folder, "empty.txt", 0),
        make_file(folder, "one.bin", 1),
        make_file(folder, "chunk.bin", CHUNK_PLAINTEXT),
        make_file(folder, "chunk-plus-one.bin", CHUNK_PLAINTEXT + 1),
        make_file(folder, "video.mp4", 50 * 1024 * 1024),
    ]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Plant"}))
    attach = [arg for path in files for arg in ("--attach", str(path))]
    case_id = submit_with_cli(cli, server, world, "Five files.", *attach, answers=answers)[
        "case_id"
    ]
    talk = Conversation(cli, server, world, case_id, code="")
    talk.login()

    listed = json.loads(talk.member("cases", "files", case_id, "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    out = tmp_path / "out"
    download(talk, case_id, out)

    assert [f["name"] for f in listed] == [p.name for p in files]
    assert [f["size"] for f in listed] == [p.stat().st_size for p in files]
    for path in files:
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_canaries_in_file_names_and_contents_stay_encrypted_everywhere(
    conversation: Conversation, tmp_path: Path
) -> None:
    talk = conversation
    name_canary, body_canary = new_canary("FILENAME"), new_canary("FILEBODY")
    path = make_file(
        tmp_path, f"{name_canary}.pdf", 3 * CHUNK_PLAINTEXT + 5, marker=body_canary.encode() * 4
    )
    talk.server.proxy.clear()

    talk.cli.report(
        "follow-up",
        "--server",
        talk.server.url,
        "--pin",
        talk.world.pin,
        "--reply-file",
        "-",
        "--attach",
        str(path),
        stdin=talk.code + "\nThe ledger is attached.\n",
    )
    out = tmp_path / "out"
    download(talk, talk.case_id, out)

    assert (out / path.name).read_bytes() == path.read_bytes()
    blobs = talk.server.workdir / "blobs"
    assert any(blobs.rglob("*")), "the blob store holds the chunks"
    for canary in (name_canary, body_canary):
        for request in talk.server.proxy.requests():
            assert not occurrences(request.raw, canary), request.target
        assert (
            scan_paths([*data_paths(talk.server.database_url), blobs, talk.server.tmp_dir], canary)
            == []
        )
        assert not occurrences(talk.server.log_path.read_bytes(), canary)


def test_a_cleaned_copy_of_an_image_and_a_pdf_drops_their_metadata(
    conversation: Conversation, tmp_path: Path
) -> None:
    import pikepdf
    from PIL import Image

    talk = conversation
    photo = tmp_path / "photo.jpg"
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerSerial123"  # Make
    image.save(photo, exif=exif)
    document = tmp_path / "memo.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Jane Whistle"
    pdf.save(document)
    talk.cli.report(
        "follow-up",
        "--server",
        talk.server.url,
        "--pin",
        talk.world.pin,
        "--reply-file",
        "-",
        "--attach",
        str(photo),
        "--attach",
        str(document),
        stdin=talk.code + "\nEvidence.\n",
    )
    out = tmp_path / "out"

    printed = download(talk, talk.case_id, out, "--strip-metadata")

    assert "cleaned copy" in printed
    assert b"CameraMakerSerial123" in (out / "photo.jpg").read_bytes()
    assert b"CameraMakerSerial123" not in (out / "photo.clean.jpg").read_bytes()
    with Image.open(out / "photo.clean.jpg") as cleaned:
        assert cleaned.size == (64, 48)
    with pikepdf.open(out / "memo.clean.pdf") as cleaned_pdf:
        assert "/Author" not in cleaned_pdf.docinfo
        assert len(cleaned_pdf.pages) == 1


def test_an_upload_interrupted_by_a_restart_resumes_with_a_state_folder(
    cli: Cli,
    server: ServerProcess,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from safevoice.client import api as client_api

    path = make_file(tmp_path, "long.bin", 5 * CHUNK_PLAINTEXT + 77)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Yard"}))
    state = tmp_path / "state"
    real_put = client_api.Api.put_chunk
    sent: list[int] = []

    def dying_put(self: object, upload_id: str, index: int, data: bytes) -> object:
        if index == 3 and not sent.count(-1):
            sent.append(-1)
            raise KeyboardInterrupt  # the reporter's laptop goes to sleep mid-upload
        sent.append(index)
        return real_put(self, upload_id, index, data)  # type: ignore[arg-type]  # the wrapped method keeps the original's signature, which mypy cannot see through the patch

    monkeypatch.setattr(client_api.Api, "put_chunk", dying_put)
    args = [
        "submit",
        "--server",
        server.url,
        "--pin",
        world.pin,
        "--channel",
        "general",
        "--text-file",
        "-",
        "--answers-file",
        str(answers),
        "--attach",
        str(path),
        "--state",
        str(state),
        "--json",
    ]
    interrupted = cli.report(*args, stdin="First try.", expect=1)
    assert "Interrupted" in interrupted.stderr
    assert (state / "uploads.json").exists()

    finished = json.loads(cli.report(*args, stdin="Second try.").stdout)

    assert sent == [0, 1, 2, -1, 3, 4, 5]
    assert not (state / "uploads.json").exists()
    talk = Conversation(cli, server, world, finished["case_id"], code=finished["code"])
    talk.login()
    out = tmp_path / "out"
    download(talk, talk.case_id, out)
    assert (out / "long.bin").read_bytes() == path.read_bytes()


def test_a_member_attaches_a_file_to_a_reply_that_another_member_downloads(
    conversation: Conversation, tmp_path: Path
) -> None:
    talk = conversation
    path = make_file(tmp_path, "policy-draft.bin", CHUNK_PLAINTEXT + 3)
    talk.cli.safevoice(
        "cases",
        "reply",
        talk.case_id,
        "--text-file",
        "-",
        "--attach",
        str(path),
        stdin="Please see the attached draft.",
        env={"SAFEVOICE_HOME": str(talk.cli.home / "alice")},
    )
    talk.login("bob")

    out = tmp_path / "out"
    talk.cli.safevoice(
        "cases",
        "download",
        talk.case_id,
        "--out",
        str(out),
        env={"SAFEVOICE_HOME": str(talk.cli.home / "bob")},
    )

    assert (out / path.name).read_bytes() == path.read_bytes()
    seen = talk.follow_up()
    described = [o for o in seen["objects"] if o["kind"] == "message"]  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    assert described[-1]["body"]["attachments"][0]["name"] == "policy-draft.bin"
