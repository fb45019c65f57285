"""The follow-up page and the server-sealed follow-up, in process on both databases.

The page embeds only what its script needs. The server-sealed follow-up (no JavaScript, only
where the operator turned it on) opens the case with the code in memory, shows the verified
thread, seals the answer with the reporter's key, and marks the case ``server_sealed`` with an
audit entry, for a read as much as for an answer; it refuses a typo, a wrong code, an empty
answer and an answer to a thread that does not verify, and never repeats what was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from safevoice.crypto.casefile import MAX_TEXT_CHARS, member_label
from safevoice.crypto.code import generate_code
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.dialogue.models import LoginFailureWindow
from safevoice.i18n import Catalogue
from safevoice.protocol.reader import ReadCase, read_case
from safevoice.protocol.wire import CaseDetail
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.api.test_login import login as member_login
from tests.dialogue.test_dialogue_api import bearer, count, message, new_case
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.databases import data_paths
from tests.support.reporter import Submission
from tests.support.world import World
from tests.web.test_pages import pages

t = Catalogue.load()


@pytest.fixture
def web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=False) as http:
        yield http


@pytest.fixture
def sealed_web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=True) as http:
        yield http


TOKEN = random_id()


def escaped(key: str, **values: object) -> str:
    return t(key, **values).replace('"', "&#34;").replace("'", "&#39;")


def member_read(
    client: httpx.Client, manifest: Manifest, world: World, sub: Submission
) -> ReadCase:
    alice = world.members["alice"]
    answer = client.get(
        f"/api/v1/cases/{sub.case_id}", headers=bearer(member_login(client, alice, manifest))
    )
    detail = CaseDetail.model_validate_json(answer.content)
    return read_case(detail, keys=alice, label=member_label("alice"), manifest=manifest)


def member_says(
    client: httpx.Client, manifest: Manifest, world: World, sub: Submission, words: str
) -> None:
    alice = world.members["alice"]
    seq, head = member_read(client, manifest, world, sub).heads["thread"]
    question = message(
        sub, words, seq=seq + 1, prev=head, sender=member_label("alice"), sign_seed=alice.sign_seed
    )
    member = bearer(member_login(client, alice, manifest))
    posted = client.post(f"/api/v1/cases/{sub.case_id}/objects", json=question, headers=member)
    assert posted.status_code == 201, posted.text


def texts(read: ReadCase) -> list[str | None]:
    return [o.text for o in read.thread() if o.kind == "message"]


def staged_events(database: Database, case_id: str) -> list[dict[str, Any]]:
    with database.reader.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM audit_staging")).scalars().all()
    return [e for e in (json.loads(bytes(b)) for b in bodies) if e["case_id"] == case_id]


def intake_mode(database: Database, case_id: str) -> str:
    with database.reader.connect() as connection:
        return str(
            connection.execute(
                text("SELECT intake_mode FROM case_file WHERE id = :c"), {"c": case_id}
            ).scalar_one()
        )


def test_the_follow_up_page_embeds_what_its_script_needs_and_loads_only_the_bundle(
    web: httpx.Client, web_bundle: Bundle
) -> None:
    page = web.get("/follow-up").text
    block = re.search(r'<script type="application/json" id="sv-follow-up">(.*?)</script>', page)
    assert block is not None
    data = json.loads(block.group(1))
    assert set(data) == {"manifest", "challenge", "channels"}
    assert data["challenge"]["purpose"] == "reporter-login"
    assert [c["name"] for c in data["channels"]] == ["general", "safety"]
    assert f'<script type="module" src="{web_bundle.followup_script}"></script>' in page
    # The page script, two data blocks and the inline worker starter.
    assert page.count("<script") == 4
    assert page.count(f"<script>{web_bundle.starter_text}</script>") == 1
    assert 'id="login-form"' in page
    assert "hidden>" in page.split('id="login-form"')[1][:200]
    code_input = re.search(r'<input type="text" id="code"[^>]*>', page)
    assert code_input is not None
    for attribute in ('autocomplete="off"', 'spellcheck="false"', 'name="code"'):
        assert attribute in code_input.group(0)
    assert 'href="/follow-up"' in web.get("/").text


def test_with_the_server_sealed_follow_up_off_a_posted_code_is_refused_unread(
    web: httpx.Client, database: Database, manifest: Manifest
) -> None:
    sub = new_case(web, manifest)
    answer = web.post("/follow-up", data={"code": sub.code, "form_token": TOKEN, "reply": "Hello."})
    assert answer.status_code == 403
    assert (
        escaped(
            "On this server, cases are opened only in your browser, with JavaScript, or in "
            "the SafeVoice command-line client. Nothing you sent was used or stored."
        )
        in answer.text
    )
    assert sub.code not in answer.text
    assert intake_mode(database, sub.case_id) == "e2e"
    assert count(database, LoginFailureWindow) == 0


def test_the_server_sealed_follow_up_reads_answers_and_marks_the_case(
    sealed_web: httpx.Client,
    database: Database,
    database_url: str,
    manifest: Manifest,
    world: World,
) -> None:
    question, answered = new_canary("QUESTION"), new_canary("ANSWER")
    sub = new_case(sealed_web, manifest, text="The scales are rigged.")
    member_says(sealed_web, manifest, world, sub, f"Which scales? {question}")

    read = sealed_web.post("/follow-up", data={"code": sub.code})
    assert read.status_code == 200, read.text
    assert f"Which scales? {question}" in read.text
    assert "The scales are rigged." in read.text
    assert sub.code not in read.text
    assert (
        escaped(
            "Your case was opened by the server, because your browser sent your code without "
            "JavaScript. The committee can see that your case went through the server."
        )
        in read.text
    )
    assert intake_mode(database, sub.case_id) == "server_sealed"
    assert [e["event"] for e in staged_events(database, sub.case_id)].count(
        "follow_up.server_sealed"
    ) == 1

    sent = sealed_web.post(
        "/follow-up",
        data={"code": sub.code.lower(), "form_token": TOKEN, "reply": f"Bay 3. {answered}"},
    )
    assert sent.status_code == 200, sent.text
    assert escaped("Your answer was encrypted and sent.") in sent.text
    assert f"Bay 3. {answered}" in sent.text
    events = staged_events(database, sub.case_id)
    assert [e["event"] for e in events].count("follow_up.server_sealed") == 2
    assert all(e["actor"] == "reporter" and "T" not in e["on"] for e in events)
    seen = member_read(sealed_web, manifest, world, sub)
    assert texts(seen) == [f"Which scales? {question}", f"Bay 3. {answered}"]
    assert seen.problems == []
    assert all(o.verified for o in seen.thread())
    paths = data_paths(database_url)
    assert scan_paths(paths, sub.case_id), "the scan does not reach the stored data"
    for canary in (question, answered):
        assert scan_paths(paths, canary) == []


def test_the_server_sealed_follow_up_refuses_typos_wrong_codes_and_empty_answers_unechoed(
    sealed_web: httpx.Client, database: Database, manifest: Manifest
) -> None:
    sub = new_case(sealed_web, manifest)
    stranger = generate_code(1)
    typo = stranger[:-1] + ("0" if stranger[-1] != "0" else "1")
    canary = new_canary()
    cases = [
        ({"code": typo}, 400, "The code has a typo"),
        (
            {"code": stranger, "form_token": TOKEN, "reply": canary},
            401,
            "No case opens with this code",
        ),
        (
            {"code": sub.code, "form_token": TOKEN, "reply": " \n\t "},
            400,
            "Your answer is empty",
        ),
        (
            {"code": sub.code, "form_token": TOKEN, "reply": canary, "file": canary},
            400,
            "The form could not be read",
        ),
        ({"form_token": TOKEN, "reply": canary}, 400, "The form could not be read"),
        (
            {"code": sub.code, "form_token": TOKEN, "reply": canary + "x" * MAX_TEXT_CHARS},
            413,
            "Your report is too long for this form",
        ),
    ]
    for form, status, heading in cases:
        answer = sealed_web.post("/follow-up", data=form)
        assert answer.status_code == status, form.keys()
        assert escaped(heading) in answer.text
        for sent in (canary, sub.code, typo, stranger):
            assert not occurrences(answer.content, sent)
    multipart = sealed_web.post(
        "/follow-up", data={"code": sub.code}, files={"file": ("a.pdf", canary.encode())}
    )
    assert multipart.status_code == 400
    assert count(database, LoginFailureWindow) == 1
    assert intake_mode(database, sub.case_id) == "e2e"
    with database.reader.connect() as connection:
        objects = connection.execute(
            text("SELECT count(*) FROM case_object WHERE case_id = :c"), {"c": sub.case_id}
        ).scalar_one()
    assert objects == 1


def test_the_server_sealed_follow_up_sends_no_answer_to_a_thread_that_does_not_verify(
    sealed_web: httpx.Client, database: Database, manifest: Manifest
) -> None:
    sub = new_case(sealed_web, manifest)
    with database.writer.begin() as connection:
        connection.execute(
            text(
                "UPDATE case_file SET status = 'acknowledged', acknowledged_on = received_on "
                "WHERE id = :c"
            ),
            {"c": sub.case_id},
        )

    answer = sealed_web.post(
        "/follow-up", data={"code": sub.code, "form_token": TOKEN, "reply": "Is anyone there?"}
    )

    assert answer.status_code == 200
    assert (
        escaped(
            "The server's copy of this conversation does not verify: messages may have been "
            "removed, reordered, replayed or changed. Do not rely on it; your answer was not "
            "sent."
        )
        in answer.text
    )
    assert (
        escaped(
            "The server says your report was acknowledged, but no committee member signed an "
            "acknowledgement. Treat your report as not acknowledged."
        )
        in answer.text
    )
    assert escaped("Your answer was encrypted and sent.") not in answer.text
    with database.reader.connect() as connection:
        objects = connection.execute(
            text("SELECT count(*) FROM case_object WHERE case_id = :c"), {"c": sub.case_id}
        ).scalar_one()
    assert objects == 1
