"""Driving the reporter pages in Chromium as a reporter would: report, open the case, answer."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.browser import TIMEOUT_MS
from tests.support.server import ServerProcess


def submit_report(
    page: Page,
    server: ServerProcess,
    text: str,
    *,
    where: str = "Depot 4",
    files: list[Path] | None = None,
    lang: str | None = None,
) -> tuple[str, str]:
    """Send a report through the report page (in the language ``lang`` if given); returns
    (follow-up code, case id)."""
    query = f"?lang={lang}" if lang else ""
    page.goto(f"{server.url}/report/general{query}")
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#q-where", where)
    page.fill("#report-text", text)
    if files:
        page.set_input_files("#report-files", [str(f) for f in files])
    page.click("#submit-button")
    expect(page.locator("#code-panel")).to_be_visible(timeout=TIMEOUT_MS)
    code = page.text_content("#follow-up-code") or ""
    case_id = json.loads(page.text_content("#receipt") or "{}")["case_id"]
    page.check("#written-down")
    page.click("#done-button")
    page.wait_for_url(f"{server.url}/{query}")
    return code, str(case_id)


def open_case(page: Page, server: ServerProcess, code: str, *, lang: str | None = None) -> None:
    """Log in on the follow-up page with the code and wait for the verified thread."""
    page.goto(f"{server.url}/follow-up" + (f"?lang={lang}" if lang else ""))
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#code", code)
    page.click("#login-button")
    expect(page.locator("#thread-panel")).to_be_visible(timeout=TIMEOUT_MS)


def entries(page: Page) -> list[dict[str, str | bool | None]]:
    """The thread as the page shows it, in order."""
    found: list[dict[str, str | bool | None]] = page.evaluate(
        """() => [...document.querySelectorAll('#thread > li')].map(e => ({
            seq: e.dataset.seq,
            kind: e.dataset.kind,
            mine: e.classList.contains('mine'),
            verified: !e.classList.contains('unverified'),
            text: e.querySelector('.entry-text') ? e.querySelector('.entry-text').textContent
                                                 : null,
            files: [...e.querySelectorAll('.files li')].map(f => f.textContent),
        }))"""
    )
    return found


def messages(page: Page) -> list[str | None]:
    return [e["text"] for e in entries(page) if e["kind"] == "message"]


def answer(page: Page, text: str, *, files: list[Path] | None = None) -> None:
    """Write and send an answer on the follow-up page, and wait until it is in the thread."""
    page.fill("#reply-text", text)
    if files:
        page.set_input_files("#reply-files", [str(f) for f in files])
    page.click("#reply-button")
    expect(page.locator("#sent-note")).not_to_be_empty(timeout=TIMEOUT_MS)
