"""The no-JavaScript mode: each form is sent once, and the pages say only what is true there.

Reloading the code page (and confirming "send again") must not store a second case with a new
code, and re-posting the thread page must not store the answer twice: each rendering of a form
carries a one-time token. Without JavaScript the pages must not promise what only the
in-browser path keeps ("the code never leaves this device", "the people who run this server
cannot read it"), and the button that sends an answer says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from safevoice.crypto.manifest import Manifest
from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.dialogue.test_dialogue_api import new_case
from tests.support.world import World
from tests.web.test_follow_up_pages import escaped, member_read, member_says, texts
from tests.web.test_pages import count_cases, pages

t = Catalogue.load()
TOKEN = re.compile(r'name="form_token" value="([A-Za-z0-9_-]{22})"')


@pytest.fixture
def sealed_web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=True) as http:
        yield http


def form_token(page: str) -> str:
    found = TOKEN.findall(page)
    assert found, "the form carries no one-time token"
    assert len(set(found)) == 1
    return str(found[0])


def test_sending_the_report_form_again_stores_no_second_case(
    sealed_web: httpx.Client, database_url: str
) -> None:
    token = form_token(sealed_web.get("/report/general").text)
    form = {"form_token": token, "text": "The exit is blocked.", "answer.where": "Depot"}

    first = sealed_web.post("/report/general", data=form)
    again = sealed_web.post("/report/general", data=form)

    assert first.status_code == 200
    assert again.status_code == 409
    assert t("Your report was already received") in again.text
    assert 'id="follow-up-code"' not in again.text
    assert count_cases(database_url) == 1
    assert form_token(sealed_web.get("/report/general").text) != token


def test_a_report_form_without_its_token_is_refused_and_stores_nothing(
    sealed_web: httpx.Client, database_url: str
) -> None:
    bare = sealed_web.post(
        "/report/general", data={"text": "The exit is blocked.", "answer.where": "Depot"}
    )
    forged = sealed_web.post(
        "/report/general",
        data={"form_token": "not a token", "text": "The exit.", "answer.where": "Depot"},
    )

    assert (bare.status_code, forged.status_code) == (400, 400)
    assert count_cases(database_url) == 0


def test_re_posting_the_thread_page_stores_the_answer_once(
    sealed_web: httpx.Client, manifest: Manifest, world: World
) -> None:
    sub = new_case(sealed_web, manifest, text="The scales are rigged.")
    member_says(sealed_web, manifest, world, sub, "Which scales?")
    opened = sealed_web.post("/follow-up", data={"code": sub.code}).text
    form = {"code": sub.code, "form_token": form_token(opened), "reply": "Bay 3."}

    first = sealed_web.post("/follow-up", data=form)
    again = sealed_web.post("/follow-up", data=form)

    assert escaped("Your answer was encrypted and sent.") in first.text
    assert again.status_code == 200
    assert (
        escaped("This answer was already sent (the page was sent again); it was not stored twice.")
        in again.text
    )
    assert texts(member_read(sealed_web, manifest, world, sub)) == ["Which scales?", "Bay 3."]
    # The page after an answer carries a new token, for the next answer.
    assert form_token(first.text) != form["form_token"]
    nxt = {**form, "form_token": form_token(first.text), "reply": "And bay 4."}
    assert (
        escaped("Your answer was encrypted and sent.")
        in sealed_web.post("/follow-up", data=nxt).text
    )


def test_without_javascript_the_pages_say_only_what_is_true(
    sealed_web: httpx.Client, manifest: Manifest
) -> None:
    landing = sealed_web.get("/").text
    follow = sealed_web.get("/follow-up").text
    sub = new_case(sealed_web, manifest, text="The scales are rigged.")
    thread = sealed_web.post("/follow-up", data={"code": sub.code}).text

    assert (
        escaped(
            "Your report is encrypted in this browser before it is sent. Only the committee "
            "members who may read it hold the keys. The people who run this server cannot "
            "read it."
        )
        not in landing
    )
    assert (
        escaped(
            "With JavaScript on, your report is encrypted in this browser before it is sent: "
            "only the committee members who may read it hold the keys, and the people who run"
            " this server cannot read it. Without JavaScript, this server offers a simpler "
            "form instead: the server encrypts your report the moment it arrives and keeps no"
            " readable copy, but the text passes through its memory, so the people who run it"
            " could read it, and the committee sees that your report came this way."
        )
        in landing
    )
    # The in-browser sentence is hidden until the page's script runs; without it, the
    # <noscript> sentence says that the code goes to the server.
    assert re.search(r'<p class="lead" id="intro-e2e" hidden>', follow)
    noscript = re.findall(r"<noscript>(.*?)</noscript>", follow, flags=re.S)
    assert any(
        escaped(
            "Type the follow-up code you received when you reported. Without JavaScript, this"
            " page sends your code to the server, which opens your case in its memory to show"
            " it to you and encrypts your answer; it keeps no readable copy and does not keep"
            " your code."
        )
        in block
        for block in noscript
    )
    assert not any(
        escaped(
            "Type the follow-up code you received when you reported. This page derives your "
            "keys from it on this device, reads and checks the committee's messages, and "
            "encrypts your answers before they are sent. The code never leaves this device."
        )
        + "<"
        in block
        for block in noscript
    )
    button = re.search(r'<button type="submit" id="sealed-open"[^>]*>([^<]*)<', thread)
    assert button is not None
    assert button.group(1) == t("Send my answer")


def test_with_the_form_off_the_start_page_keeps_the_in_browser_sentence(
    database: Database, database_url: str, web_bundle: Bundle
) -> None:
    with pages(database, database_url, web_bundle, nojs=False) as web:
        landing = web.get("/").text

    assert (
        escaped(
            "Your report is encrypted in this browser before it is sent. Only the committee "
            "members who may read it hold the keys. The people who run this server cannot "
            "read it."
        )
        in landing
    )


def test_form_token_rows_expire_like_idempotency_keys(
    sealed_web: httpx.Client, database: Database
) -> None:
    token = form_token(sealed_web.get("/report/general").text)
    sealed_web.post(
        "/report/general",
        data={"form_token": token, "text": "The exit is blocked.", "answer.where": "Depot"},
    )

    with database.reader.connect() as connection:
        rows = connection.execute(text("SELECT response, expires_at FROM idempotency_key")).all()
    assert len(rows) == 1
    stored = bytes(rows[0][0])
    assert token.encode() not in stored
    assert b"received_on" in stored
