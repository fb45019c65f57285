"""A redaction removes attached files too (COMPLIANCE.md D9).

The member names the files of the redacted report or message to remove: the redacted version
omits their descriptors, the signed record lists them, and the server deletes their chunks
from the blob store (a folder or the database) in the same request, so no byte of them stays
where the server keeps files or in the database's files. A file of another object or another
case is refused with nothing changed, the audit entry counts the removed files without
naming them, and every reader says how many files the committee removed and when; a removal
the server forged or hid makes the object a problem.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from safevoice.attachments.models import Attachment, Upload
from safevoice.client.api import Api
from safevoice.client.files import upload_file
from safevoice.client.member import attachments_of
from safevoice.crypto.casefile import member_label, message_plaintext
from safevoice.crypto.manifest import Manifest
from safevoice.errors import NotFound
from safevoice.protocol.reader import REDACTION_PROBLEM, ReadCase, read_as_reporter, read_case
from safevoice.protocol.wire import CaseDetail
from safevoice.protocol.workflow import next_object, redaction_body
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from tests.api.test_login import login as member_login
from tests.attachments.test_uploads import make_api, submit_as_reporter, submit_with_files
from tests.cases.test_redaction import KEPT, audit_entries, database_files
from tests.dialogue.test_dialogue_api import bearer, reporter_token
from tests.support.canary import scan_paths
from tests.support.world import World

Redacted = tuple[str, list[dict[str, Any]], dict[str, Any]]


@pytest.fixture(params=["fs", "db"])
def blob_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"fs:{tmp_path / 'blobs'}" if request.param == "fs" else "db"


def fetch(
    client: httpx.Client, manifest: Manifest, world: World, case_id: str
) -> tuple[CaseDetail, ReadCase]:
    keys = world.members["alice"]
    answer = client.get(
        f"/api/v1/cases/{case_id}", headers=bearer(member_login(client, keys, manifest))
    )
    assert answer.status_code == 200, answer.text
    detail = CaseDetail.model_validate_json(answer.content)
    return detail, read_case(detail, keys=keys, label=member_label("alice"), manifest=manifest)


def files(tmp_path: Path, *contents: bytes) -> list[Path]:
    paths = []
    for number, content in enumerate(contents):
        path = tmp_path / f"evidence-{number}.txt"
        path.write_bytes(content)
        paths.append(path)
    return paths


def removal(
    client: httpx.Client,
    manifest: Manifest,
    world: World,
    case_id: str,
    *,
    seq: int = 0,
    remove: list[str],
    carried: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A redaction of thread #seq that removes the files ``remove``; ``carried`` adds
    descriptors to the object as the member's client sees it, to name a file it does not
    carry."""
    detail, read = fetch(client, manifest, world, case_id)
    if carried:
        shown = next(o for o in read.objects if o.chain == "thread" and o.seq == seq)
        shown.body = {**shown.body, "attachments": [*shown.body["attachments"], *carried]}
    return redaction_body(
        read,
        detail,
        chain="thread",
        seq=seq,
        text=KEPT + " [name removed]",
        keys=world.members["alice"],
        manifest=manifest,
        on=detail.case.today.isoformat(),
        remove_files=remove,
    )


def stored_chunk(blob_spec: str, database: Database, upload_id: str) -> bytes:
    return open_blob_store(blob_spec, database).get_chunk(upload_id, 0)


def places(blob_spec: str, database_url: str) -> list[Any]:
    """Where the server keeps files: the blob folder, or the database's own files."""
    if blob_spec.startswith("fs:"):
        return [Path(blob_spec.removeprefix("fs:"))]
    return database_files(database_url)


def member_message_with_file(
    api: Api, client: httpx.Client, manifest: Manifest, world: World, case_id: str, path: Path
) -> dict[str, Any]:
    """Alice writes to the reporter with a file (thread #1); its descriptor."""
    api.set_token(member_login(client, world.members["alice"], manifest))
    descriptor = upload_file(
        api,
        path,
        case_id=case_id,
        start=lambda: api.start_upload(case_id).id,
        sleep=lambda _s: None,
    )
    detail, read = fetch(client, manifest, world, case_id)
    envelope = next_object(
        read,
        detail,
        kind="message",
        keys=world.members["alice"],
        plaintext=message_plaintext("Here is the rota.", attachments=[descriptor]),
    )
    posted = api.post_case_object(case_id, envelope.to_json(), uploads=[descriptor["upload_id"]])
    assert posted.seq == 1
    return descriptor


def test_a_redaction_deletes_the_files_it_removes_from_the_blob_store(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    api = make_api(database, database_url, blob_spec)
    case_id, descriptors = submit_with_files(
        api, manifest, files(tmp_path, b"Home address of a witness. " * 400, b"The rota.")
    )
    gone, kept = descriptors
    marker = stored_chunk(blob_spec, database, gone["upload_id"])[200:260]
    assert scan_paths(places(blob_spec, database_url), marker)  # the check can find it
    member = bearer(member_login(client, world.members["alice"], manifest))
    body = removal(client, manifest, world, case_id, remove=[gone["upload_id"]])

    answer = client.post(f"/api/v1/cases/{case_id}/redactions", json=body, headers=member)

    assert answer.status_code == 201, answer.text
    assert scan_paths(places(blob_spec, database_url), marker) == []
    with pytest.raises(NotFound):
        stored_chunk(blob_spec, database, gone["upload_id"])
    assert stored_chunk(blob_spec, database, kept["upload_id"])  # the other file stays
    with database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 1
        assert session.scalar(select(func.count()).select_from(Upload)) == 1
    fetched = client.get(f"/api/v1/uploads/{gone['upload_id']}/chunks/0", headers=member)
    assert fetched.status_code == 404
    _, read = fetch(client, manifest, world, case_id)
    assert read.problems == []
    assert [f.upload_id for f in attachments_of(read)] == [kept["upload_id"]]
    assert read.objects[0].redacted is not None
    assert [f.id for f in read.objects[0].redacted.files] == [gone["upload_id"]]
    entries = [e for e in audit_entries(database, case_id) if e["event"] == "case.redaction"]
    assert [e["detail"] for e in entries] == [
        {"chain": "thread", "seq": 0, "kind": "report", "files": 1}
    ]
    assert "evidence-0" not in json.dumps(audit_entries(database, case_id))


def test_a_file_of_another_object_or_case_is_refused_and_nothing_changes(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    api = make_api(database, database_url, blob_spec)
    case_id, (in_report,) = submit_with_files(api, manifest, files(tmp_path, b"Report file."))
    other_case, (elsewhere,) = submit_with_files(api, manifest, files(tmp_path, b"Other case."))
    in_message = member_message_with_file(
        api, client, manifest, world, case_id, files(tmp_path, b"Message file.")[0]
    )
    member = bearer(member_login(client, world.members["alice"], manifest))
    url = f"/api/v1/cases/{case_id}/redactions"
    before = client.get(f"/api/v1/cases/{case_id}", headers=member).json()["objects"]

    of_message = client.post(
        url,
        json=removal(
            client,
            manifest,
            world,
            case_id,
            remove=[in_message["upload_id"]],
            carried=[in_message],
        ),
        headers=member,
    )
    of_other_case = client.post(
        url,
        json=removal(
            client, manifest, world, case_id, remove=[elsewhere["upload_id"]], carried=[elsewhere]
        ),
        headers=member,
    )

    assert of_message.status_code == 400
    assert of_message.json()["error"]["message"] == (
        "A file to remove is attached to thread #1, not to thread #0; redact that message to "
        "remove it. Nothing was changed."
    )
    assert of_other_case.status_code == 400
    assert "not attached to this case" in of_other_case.json()["error"]["message"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=member).json()["objects"] == before
    for descriptor in (in_report, in_message, elsewhere):
        assert stored_chunk(blob_spec, database, descriptor["upload_id"])
    assert all(e["event"] != "case.redaction" for e in audit_entries(database, case_id))
    # The message's own redaction removes it.
    done = client.post(
        url,
        json=removal(client, manifest, world, case_id, seq=1, remove=[in_message["upload_id"]]),
        headers=member,
    )
    assert done.status_code == 201, done.text
    assert other_case != case_id


def test_the_reporter_reads_the_removal_and_a_forged_or_hidden_one_is_a_problem(
    client: httpx.Client,
    database: Database,
    database_url: str,
    blob_spec: str,
    manifest: Manifest,
    world: World,
    tmp_path: Path,
) -> None:
    api = make_api(database, database_url, blob_spec)
    case_id, descriptors, reporter = submit_as_reporter(
        api, manifest, files(tmp_path, b"First.", b"Second.", b"Third.")
    )
    member = bearer(member_login(client, world.members["alice"], manifest))
    body = removal(
        client, manifest, world, case_id, remove=[d["upload_id"] for d in descriptors[:2]]
    )
    assert (
        client.post(f"/api/v1/cases/{case_id}/redactions", json=body, headers=member).status_code
        == 201
    )
    detail, _ = fetch(client, manifest, world, case_id)
    record = body["redaction"]

    def read_with(redaction: dict[str, Any]) -> ReadCase:
        shown = detail.model_dump(mode="json")
        shown["objects"][0]["redaction"] = redaction
        return read_case(
            CaseDetail.model_validate(shown),
            keys=world.members["alice"],
            label=member_label("alice"),
            manifest=manifest,
        )

    hidden = read_with({k: v for k, v in record.items() if k != "files"})
    one_hidden = read_with({**record, "files": record["files"][:1]})
    forged = read_with(
        {
            **record,
            "files": [
                *record["files"],
                {"id": descriptors[2]["upload_id"], "digest": record["files"][0]["digest"]},
            ],
        }
    )

    for problem in (hidden, one_hidden, forged):
        assert f"thread message 0: {REDACTION_PROBLEM}" in problem.problems
    assert len(record["files"]) == 2
    # The reporter's reader (the CLI's) sees the two removed files and the day.
    api.set_token(reporter_token(client, manifest, reporter))
    seen = read_as_reporter(api.reporter_case(), reporter=reporter, manifest=manifest)
    assert seen.problems == []
    assert seen.objects[0].redacted is not None
    assert len(seen.objects[0].redacted.files) == 2
