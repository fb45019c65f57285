"""The reporter pages in the reporter's language: chosen by the URL (``?lang=``), by default from
Accept-Language, never remembered (no cookie, nothing stored), with a menu on every page; the
server-sealed (no-JavaScript) pages in German and in Arabic, right to left."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from safevoice.crypto.login import random_id
from safevoice.i18n import Catalogue, languages
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.web.test_pages import pages

en, de, fr, ar = (Catalogue.load(lang) for lang in ("en", "de", "fr", "ar"))
TITLE = "Report a concern safely"
CODE_HEADING = "Your follow-up code"


@pytest.fixture
def clients(
    database: Database, database_url: str, web_bundle: Bundle
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The pages without and with the operator's server-sealed (no-JavaScript) forms."""
    with (
        pages(database, database_url, web_bundle, nojs=False) as web,
        pages(database, database_url, web_bundle, nojs=True) as sealed_web,
    ):
        yield web, sealed_web


def html(t: Catalogue, message: str, **values: object) -> str:
    """A text as the page writes it (escaped as Jinja escapes)."""
    return t(message, **values).replace('"', "&#34;").replace("'", "&#39;")


def document(page: str) -> tuple[str, str]:
    found = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert found is not None
    return found.group(1), found.group(2)


def menu(page: str) -> dict[str, tuple[str, str]]:
    """The language menu: code → (link, name)."""
    nav = page[page.index('<nav class="languages"') : page.index("</nav>")]
    return {
        code: (href, name)
        for href, code, name in re.findall(r'<a href="([^"]+)" lang="(\w+)"[^>]*>([^<]+)</a>', nav)
    }


def test_the_url_chooses_the_language_and_every_link_and_form_keeps_it(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    web, sealed_web = clients
    answer = web.get("/?lang=de", headers={"Accept-Language": "fr"})
    assert answer.status_code == 200
    assert document(answer.text) == ("de", "ltr")
    assert html(de, TITLE) in answer.text
    assert html(de, TITLE) != html(en, TITLE)
    assert "Accept-Language" not in answer.headers.get("vary", "")
    assert 'href="/report/general?lang=de"' in answer.text
    assert 'href="/follow-up?lang=de"' in answer.text
    assert "set-cookie" not in answer.headers
    # Compressed where the browser allows it: the page budget holds in every language.
    packed = web.get("/report/general?lang=ar", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    assert document(packed.text) == ("ar", "rtl")
    plain = web.get("/report/general?lang=ar", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # The answer to a no-JavaScript form (here the follow-up code page) is never compressed.
    code_page = sealed_report(sealed_web, "de")
    assert code_page.status_code == 200
    assert "content-encoding" not in code_page.headers
    follow = sealed_web.get("/follow-up?lang=de")
    assert 'action="/follow-up?lang=de"' in follow.text
    report = sealed_web.get("/report/general?lang=ar")
    assert document(report.text) == ("ar", "rtl")
    assert 'action="/report/general?lang=ar"' in report.text


def test_without_a_choice_accept_language_decides_and_the_answer_varies_by_it(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    web, _ = clients
    for header, expected in [
        ("fr-CH, fr;q=0.9, en;q=0.8", ("fr", "ltr")),
        ("ar", ("ar", "rtl")),
        ("it, de;q=0.5, en;q=0.4", ("de", "ltr")),
        ("de;q=0, pl;q=0.1", ("pl", "ltr")),
        ("it, *;q=0.5", ("en", "ltr")),
        ("", ("en", "ltr")),
    ]:
        # An unknown language in the URL is no choice: the browser's languages decide.
        for path in ("/", "/?lang=xx"):
            answer = web.get(path, headers={"Accept-Language": header})
            assert document(answer.text) == expected, header
            assert "Accept-Language" in answer.headers["vary"]
            assert "set-cookie" not in answer.headers
            # Links carry no language: the next page asks the browser again.
            assert 'href="/follow-up"' in answer.text


def test_every_page_offers_every_language_named_in_itself(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    web, sealed_web = clients
    for client, path in [
        (web, "/"),
        (web, "/report/general"),
        (web, "/follow-up"),
        (sealed_web, "/report/general"),
        (web, "/no-such-page"),
        (web, "/report/no-such-channel"),
    ]:
        page = client.get(f"{path}?lang=pl").text
        assert document(page) == ("pl", "ltr"), path
        shown = menu(page)
        assert sorted(shown) == sorted(languages()), path
        assert shown["de"] == (f"{path}?lang=de", "Deutsch")
        assert shown["ar"] == (f"{path}?lang=ar", "العربية")
        assert 'aria-current="true">Polski<' in page


def script_strings(page: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="sv-strings">(.*?)</script>', page)
    assert found is not None
    strings: dict[str, str] = json.loads(found.group(1))
    return strings


def test_a_page_is_sent_only_its_own_language_s_script_strings(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    web, _ = clients
    assert script_strings(web.get("/report/general?lang=en").text) == {}
    for path in ("/report/general", "/follow-up"):
        german = script_strings(web.get(f"{path}?lang=de").text)
        assert german, path
        assert german["Please describe what happened."] == de("Please describe what happened.")
        assert all(text == de(message) != message for message, text in german.items())
        french = script_strings(web.get(f"{path}?lang=fr").text)
        assert set(german.values()).isdisjoint(french.values())


def sealed_report(client: httpx.Client, lang: str) -> httpx.Response:
    return client.post(
        f"/report/general?lang={lang}",
        data={
            "form_token": random_id(),
            "text": "The forklift brakes fail.",
            "answer.where": "Depot 2",
            "answer.ongoing": "Yes",
            "answer.when": "",
        },
    )


@pytest.mark.parametrize("lang", ["de", "ar"])
def test_the_no_javascript_pages_speak_the_chosen_language(
    clients: tuple[httpx.Client, httpx.Client], lang: str
) -> None:
    _, sealed_web = clients
    t = Catalogue.load(lang)
    direction = "rtl" if lang == "ar" else "ltr"
    # The code page: heading, the deadlines as this language writes days, what happens next.
    answer = sealed_report(sealed_web, lang)
    assert answer.status_code == 200
    assert document(answer.text) == (lang, direction)
    assert html(t, CODE_HEADING) in answer.text
    # The server's day (UTC) may be the day before or after this machine's.
    days = [date.today() + timedelta(days=d) for d in (-1, 0, 1)]
    received = [html(t, "Your report was received on %(day)s.", day=t.day(d)) for d in days]
    assert any(line in answer.text for line in received)
    assert t.day(days[1]) != days[1].isoformat()
    assert html(t, "What happens next") in answer.text
    # No language menu on the page that shows the code once: leaving it would lose the code.
    assert '<nav class="languages"' not in answer.text
    assert 'name="lang" value="' + lang + '"' in answer.text
    code = re.search(r'id="follow-up-code">([0-9A-Z-]+)<', answer.text)
    assert code is not None

    # The follow-up page without JavaScript: the thread, its facts and dates in the language.
    read = sealed_web.post(f"/follow-up?lang={lang}", data={"code": code.group(1)})
    assert read.status_code == 200, read.text
    assert document(read.text) == (lang, direction)
    assert html(t, "Your case") in read.text
    assert html(t, "Acknowledgement due by") in read.text
    assert any(t.day(d + timedelta(days=7)) in read.text for d in days)
    assert html(t, "Received") in read.text

    # A mistyped code and a wrong one: the error pages in the language, with the right status.
    typo = sealed_web.post(f"/follow-up?lang={lang}", data={"code": "1ABCD-EFGHJ"})
    assert typo.status_code == 400
    assert html(t, "The code has a typo") in typo.text
    missing = sealed_web.get(f"/no-such-page?lang={lang}")
    assert missing.status_code == 404
    assert document(missing.text) == (lang, direction)
    assert html(t, "Nothing here") in missing.text
