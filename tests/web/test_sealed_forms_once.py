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
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from safevoice.web.i18n import Catalogue
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
    assert t("message.already_received.heading") in again.text
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

    assert escaped("follow.sealed.sent") in first.text
    assert again.status_code == 200
    assert escaped("follow.sealed.repeated") in again.text
    assert texts(member_read(sealed_web, manifest, world, sub)) == ["Which scales?", "Bay 3."]
    # The page after an answer carries a new token, for the next answer.
    assert form_token(first.text) != form["form_token"]
    nxt = {**form, "form_token": form_token(first.text), "reply": "And bay 4."}
    assert escaped("follow.sealed.sent") in sealed_web.post("/follow-up", data=nxt).text


def test_without_javascript_the_pages_say_only_what_is_true(
    sealed_web: httpx.Client, manifest: Manifest
) -> None:
    landing = sealed_web.get("/").text
    follow = sealed_web.get("/follow-up").text
    sub = new_case(sealed_web, manifest, text="The scales are rigged.")
    thread = sealed_web.post("/follow-up", data={"code": sub.code}).text

    assert escaped("landing.stored.encrypted") not in landing
    assert escaped("landing.stored.encrypted_both") in landing
    # The in-browser sentence is hidden until the page's script runs; without it, the
    # <noscript> sentence says that the code goes to the server.
    assert re.search(r'<p class="lead" id="intro-e2e" hidden>', follow)
    noscript = re.findall(r"<noscript>(.*?)</noscript>", follow, flags=re.S)
    assert any(escaped("follow.intro.sealed") in block for block in noscript)
    assert not any(escaped("follow.intro") + "<" in block for block in noscript)
    button = re.search(r'<button type="submit" id="sealed-open"[^>]*>([^<]*)<', thread)
    assert button is not None
    assert button.group(1) == t("follow.sealed.send")


def test_with_the_form_off_the_start_page_keeps_the_in_browser_sentence(
    database: Database, database_url: str, web_bundle: Bundle
) -> None:
    with pages(database, database_url, web_bundle, nojs=False) as web:
        landing = web.get("/").text

    assert escaped("landing.stored.encrypted") in landing


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
