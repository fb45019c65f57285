"""The reporter pages in the reporter's language: chosen by the URL (``?lang=``), by default from
Accept-Language, never remembered (no cookie, nothing stored), with a menu on every page; the
server-sealed (no-JavaScript) pages in German and in Arabic, right to left."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from safevoice import i18n
from safevoice.cli.admin import channel_languages
from safevoice.client.member import Opened, status_body
from safevoice.crypto.casefile import member_label
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.i18n import Catalogue, languages
from safevoice.protocol.reader import read_case
from safevoice.protocol.wire import CaseDetail
from safevoice.storage.db import Database
from safevoice.web import bundle
from safevoice.web.bundle import Bundle
from tests.api.test_login import login as member_login
from tests.dialogue.test_dialogue_api import bearer, new_case
from tests.support.world import World
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


def facts(page: str) -> dict[str, str]:
    """The follow-up page's facts (term → value), as the server-sealed page writes them."""
    listed = part(page, '<dl class="facts">', "</dl>")
    return dict(re.findall(r"<dt>([^<]*)</dt>\s*<dd>([^<]*)</dd>", listed))


@pytest.mark.parametrize("lang", ["de", "ar"])
def test_the_signed_acknowledgement_s_deadline_reads_in_the_reporter_s_language(
    clients: tuple[httpx.Client, httpx.Client], manifest: Manifest, world: World, lang: str
) -> None:
    _, sealed_web = clients
    t = Catalogue.load(lang)
    sub = new_case(sealed_web, manifest)
    # Alice acknowledges as her client does: the feedback day it promises is signed.
    alice = world.members["alice"]
    member = bearer(member_login(sealed_web, alice, manifest))
    detail = CaseDetail.model_validate_json(
        sealed_web.get(f"/api/v1/cases/{sub.case_id}", headers=member).content
    )
    read = read_case(detail, keys=alice, label=member_label("alice"), manifest=manifest)
    opened = Opened(detail=detail, read=read, manifest=manifest, warnings=[], keys=alice)
    body = status_body(opened, status="acknowledged", text=None, closure=None)
    posted = sealed_web.post(f"/api/v1/cases/{sub.case_id}/status", json=body, headers=member)
    assert posted.status_code in (200, 201), posted.text
    case = sealed_web.get(f"/api/v1/cases/{sub.case_id}", headers=member).json()["case"]
    promised = date.fromisoformat(case["feedback_due_on"])
    acknowledged = date.fromisoformat(case["acknowledged_on"])

    page = sealed_web.post(f"/follow-up?lang={lang}", data={"code": sub.code})
    assert page.status_code == 200, page.text
    assert document(page.text) == (lang, "rtl" if lang == "ar" else "ltr")
    shown = facts(page.text)
    assert shown[html(t, "Acknowledged on (signed by the committee)")] == t.day(acknowledged)
    assert shown[html(t, "Feedback due by")] == t.day(promised)
    assert t.day(promised) != promised.isoformat()
    assert html(t, "Acknowledgement due by") not in shown
    assert html(t, "Status: %(status)s", status=t("Acknowledged")) in page.text
    assert html(en, "Feedback due by") not in page.text


NO_WASM = {
    "/report/general": [
        "Your browser cannot encrypt here",
        "Encrypting your report on this device needs WebAssembly, which your browser has "
        'turned off. Tor Browser does this at its "Safer" and "Safest" levels. Your choices:',
        'Set Tor Browser to "Standard" for this site and reload this page.',
        "Use the SafeVoice command-line client on your own computer.",
    ],
    "/follow-up": [
        "Your browser cannot open your case here",
        "Deriving your keys and decrypting on this device needs WebAssembly, which your "
        'browser has turned off. Tor Browser does this at its "Safer" and "Safest" levels. '
        "Your choices:",
        'Set Tor Browser to "Standard" for this site and reload this page.',
    ],
}
NO_JAVASCRIPT = {
    # Without the operator's server-sealed forms, and with them.
    (False, "/follow-up"): [
        "This page needs JavaScript to open your case safely",
        'turn JavaScript on for this site (in Tor Browser, choose the "Standard" security '
        "level) and reload this page; or",
    ],
    (True, "/report/general"): [
        "JavaScript is off: the server will encrypt your report",
        'For the strongest protection, turn JavaScript on for this site (Tor Browser "Standard") '
        "or use the SafeVoice command-line client.",
    ],
    (True, "/follow-up"): [
        "JavaScript is off: the server will open your case",
        "Without JavaScript your browser cannot derive your keys itself. If you use this form, "
        "the server derives them from your code, decrypts the conversation to show it to you, "
        "and encrypts your answer, all in its memory, keeping no readable copy.",
    ],
}


def part(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


@pytest.mark.parametrize("lang", ["de", "ar"])
def test_the_safer_and_safest_explanations_speak_the_chosen_language(
    clients: tuple[httpx.Client, httpx.Client], lang: str
) -> None:
    # Tor Browser "Safer" turns WebAssembly off (the page then shows its no-wasm section);
    # "Safest" turns JavaScript off (the browser then shows the <noscript> part).
    t = Catalogue.load(lang)
    web, sealed_web = clients
    for path, keys in NO_WASM.items():
        page = web.get(f"{path}?lang={lang}").text
        section = part(page, '<section id="no-wasm"', "</section>")
        for key in keys:
            assert html(t, key) in section, (path, key)
            assert html(t, key) != html(en, key)
            assert html(en, key) not in section, (path, key)
    for (sealed, path), keys in NO_JAVASCRIPT.items():
        page = (sealed_web if sealed else web).get(f"{path}?lang={lang}").text
        hidden = part(page, "<noscript>", "</noscript>")
        for key in keys:
            assert html(t, key) in hidden, (path, key)
            assert html(t, key) != html(en, key)
            assert html(en, key) not in hidden, (path, key)


@pytest.fixture
def italian(tmp_path: Path) -> Iterator[Path]:
    """A copy of the shipped catalogues plus Italian, made as a translator would (``pybabel
    init``, every message translated), and SafeVoice reading its languages from there."""
    locales = tmp_path / "locale"
    shutil.copytree(i18n.LOCALES, locales)
    CommandLineInterface().run(  # type: ignore[no-untyped-call]  # Babel ships no type hints
        ["pybabel", "-q", "init", "-l", "it", "-i", str(i18n.TEMPLATE), "-d", str(locales)]
    )
    po = locales / "it" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    catalog.header_comment = "# Italian translations for SafeVoice.\n# Review state: a test's."
    for message in catalog:
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            texts = tuple(f"(it) {text}" for text in ids)
            message.string = texts if message.pluralizable else texts[0]
    with po.open("wb") as f:
        write_po(f, catalog)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(i18n, "LOCALES", locales)
        i18n.languages.cache_clear()
        i18n._load.cache_clear()
        yield locales
    i18n.languages.cache_clear()
    i18n._load.cache_clear()


def test_a_seventh_language_needs_only_its_catalogue(
    italian: Path, database: Database, database_url: str, world: World, tmp_path: Path
) -> None:
    it = "(it) "
    assert languages() == ("en", "ar", "de", "es", "fr", "it", "pl")
    # The release bundle holds it (and its hash covers it); the pages read it from there.
    pages_bundle = bundle.build(
        pin=world.pin, out=tmp_path / "pages", node_modules=bundle.default_node_modules()
    )
    assert set(pages_bundle.catalogues) == {"ar", "de", "es", "fr", "it", "pl"}
    italiano = pages_bundle.catalogues["it"]
    assert (italiano.name, italiano.direction) == ("Italiano", "ltr")
    with pages(database, database_url, pages_bundle, nojs=True) as web:
        report = web.get("/report/general?lang=it").text
        assert document(report) == ("it", "ltr")
        assert html(italiano, "What happened?") == html(en, it + "What happened?")
        assert html(italiano, "What happened?") in report
        assert menu(report)["it"] == ("/report/general?lang=it", "Italiano")
        assert 'aria-current="true">Italiano<' in report
        assert script_strings(report)["Please describe what happened."] == (
            it + "Please describe what happened."
        )
        # Offered on the other languages' pages, and chosen by a browser that asks for it.
        assert menu(web.get("/?lang=de").text)["it"] == ("/?lang=it", "Italiano")
        asked = web.get("/", headers={"Accept-Language": "it-IT, en;q=0.5"})
        assert document(asked.text) == ("it", "ltr")
        assert html(italiano, TITLE) in asked.text
        # The code page after a report without JavaScript.
        code_page = sealed_report(web, "it")
        assert code_page.status_code == 200
        assert html(italiano, CODE_HEADING) in code_page.text
    # The reporter's command-line client and the operator's configuration know it too.
    assert i18n.from_environment({"LANG": "it_IT.UTF-8"}).lang == "it"
    assert i18n.from_environment({"LANG": "it_IT.UTF-8"})(TITLE) == it + TITLE
    assert channel_languages({"language": "it", "languages": ["it", "en"]}) == ("it", ("it", "en"))
