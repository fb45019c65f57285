"""Every shipped language in real headless Chromium: a reporter reports and follows up with the
pages in their language, the pages pass axe-core, and Arabic reads right to left with nothing
sticking out of a 320-pixel-wide phone screen.

Every language runs on both databases. Per language it stays cheap: the session's one browser
context and one server, one page, and no wait but for what the reporter waits for.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from safevoice.i18n import Catalogue, languages
from tests.support.pages import answer, entries, open_case
from tests.support.server import ServerProcess
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def document(page: Page) -> tuple[str, str]:
    found: list[str] = page.evaluate(
        "[document.documentElement.lang, document.documentElement.dir]"
    )
    return found[0], found[1]


def axe_violations(page: Page) -> list[str]:
    # Playwright evaluates through the DevTools protocol, which the page's CSP does not govern;
    # the pages themselves never run this script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[str] = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' | ')))"
    )
    return found


def overflowing(page: Page) -> list[str]:
    """Visible elements that reach outside the viewport sideways (the skip link, which waits
    off-screen until it has the focus, aside), and whether the page scrolls sideways."""
    found: list[str] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const out = [...document.querySelectorAll('body *')].filter((e) => {
                if (e.closest('.skip')) return false;
                const box = e.getBoundingClientRect();
                if (box.width === 0 && box.height === 0) return false;
                return box.left < -1 || box.right > width + 1;
            }).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className);
            if (document.documentElement.scrollWidth > width) out.push('scrolls sideways');
            return out;
        }"""
    )
    return found


def days(t: Catalogue, offset: int) -> set[str]:
    """The day ``offset`` days from today as the language writes it (the server's day, UTC,
    may be this machine's day before or after)."""
    today = date.today()
    return {t.day(today + timedelta(days=offset + d)) for d in (-1, 0, 1)}


@pytest.mark.parametrize("lang", languages())
def test_each_language_s_report_and_follow_up_flows_pass_axe_and_arabic_fits_a_phone(
    server: ServerProcess, chromium: Chromium, lang: str
) -> None:
    t = Catalogue.load(lang)
    # A right-to-left language (Arabic) is read on a phone, where a mirroring fault shows.
    direction = t.direction
    phone = direction == "rtl"
    page = chromium.page(width=320 if phone else 1024, height=800)

    # The report page in the language, then the code page with its deadlines.
    page.goto(f"{server.url}/report/general?lang={lang}")
    expect(page.locator("#pin-line")).to_be_visible()
    assert document(page) == (lang, direction)
    expect(page.locator("#submit-button")).to_have_text(t("Encrypt and send"))
    assert axe_violations(page) == [], lang
    if phone:
        assert overflowing(page) == []
    page.fill("#report-text", "")
    page.click("#submit-button")
    expect(page.locator("#err-report-text")).to_have_text(t("Please describe what happened."))
    page.fill("#q-where", "Depot 4")
    page.fill("#report-text", f"The fire doors are locked ({lang}).")
    page.click("#submit-button")
    expect(page.locator("#code-panel")).to_be_visible(timeout=60_000)
    code = page.text_content("#follow-up-code") or ""
    received = page.text_content("#received-on") or ""
    assert received in {t("Your report was received on %(day)s.", day=d) for d in days(t, 0)}
    next_ack = page.text_content("#next-ack") or ""
    assert any(d in next_ack for d in days(t, 7)), (lang, next_ack)
    assert axe_violations(page) == [], lang
    if phone:
        assert overflowing(page) == []
    page.check("#written-down")
    page.click("#done-button")
    page.wait_for_url(f"{server.url}/?lang={lang}")
    assert document(page) == (lang, direction)

    # The follow-up page: the thread, its facts and deadlines, an answer sent.
    open_case(page, server, code, lang=lang)
    assert document(page) == (lang, direction)
    facts = page.locator("#case-facts").inner_text()
    assert t("Status") in facts, lang
    assert t("Received") in facts, lang
    assert t("Acknowledgement due by") in facts
    assert any(d in facts for d in days(t, 7)), (lang, facts)
    expect(page.locator("#thread > li").first).to_contain_text(t("Your report"))
    answer(page, f"Also the back door ({lang}).")
    expect(page.locator("#sent-note")).to_have_text(t("Your answer was encrypted and sent."))
    assert [e["kind"] for e in entries(page)] == ["report", "message"]
    assert axe_violations(page) == [], lang
    if phone:
        assert overflowing(page) == []
    page.click("#leave-button")
    page.wait_for_url(f"{server.url}/?lang={lang}")
    page.close()
