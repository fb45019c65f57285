"""The desk in Chromium, end to end: a report made on the real reporter page reaches the member
through the desk, the conversation goes back and forth, and no plaintext is left behind.

The desk runs as its own ``safevoice desk --no-browser`` process with its own home and temp
folder, exactly as a member starts it, so that everything it writes can be searched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from safevoice.crypto.keys import format_fingerprint
from tests.support.browser import TIMEOUT_MS
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.pages import answer, messages, open_case, submit_report
from tests.support.server import ServerProcess
from tests.support.world import PASSPHRASE, World

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
BIN = Path(sys.executable).parent
AXE = Path(__file__).parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@dataclass
class DeskProcess:
    process: subprocess.Popen[str]
    url: str
    home: Path
    tmp: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_desk(server: ServerProcess, world: World, root: Path) -> DeskProcess:
    home, tmp = root / "home", root / "tmp"
    home.mkdir(parents=True)
    tmp.mkdir()
    env = {
        **os.environ,
        "SAFEVOICE_HOME": str(home),
        "TMPDIR": str(tmp),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "400",
    }
    env.pop("SAFEVOICE_PASSPHRASE", None)
    process = subprocess.Popen(
        [
            str(BIN / "safevoice"),
            "desk",
            "--no-browser",
            "--server",
            server.url,
            "--pin",
            world.pin,
            "--key",
            str(world.key_file("alice")),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"http://127\.0\.0\.1:\d+/open/\S+", line)
        if found:
            return DeskProcess(process, found.group(0), home, tmp)
    raise AssertionError(f"the desk printed no address (exit {process.wait()})")


@pytest.fixture
def member_context(browser: Browser, tmp_path: Path) -> Iterator[BrowserContext]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def reporter_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def desk_process(server: ServerProcess, world: World, tmp_path: Path) -> Iterator[DeskProcess]:
    running = start_desk(server, world, tmp_path / "desk")
    yield running
    running.stop()


def unlock(page: Page, desk: DeskProcess) -> None:
    page.goto(desk.url)
    expect(page.locator("h1")).to_have_text("Unlock your desk")
    page.fill("#passphrase", PASSPHRASE)
    page.click("button:has-text('Unlock')")
    expect(page.locator("h1")).to_have_text("Inbox")


def open_details(page: Page, summary: str) -> None:
    page.locator("summary", has_text=summary).click()


def test_a_report_from_the_real_page_through_the_desk_and_back_leaves_no_plaintext(
    server: ServerProcess,
    world: World,
    reporter_page: Page,
    member_context: BrowserContext,
    desk_process: DeskProcess,
    tmp_path: Path,
) -> None:
    reported, filed, named, replied, answered, lesson = (
        new_canary(label) for label in ("REPORT", "FILE", "NAME", "REPLY", "ANSWER", "LESSON")
    )
    attachment = tmp_path / f"scan-{named}.pdf"
    attachment.write_bytes(b"%PDF-1.4\n" + filed.encode() * 300 + os.urandom(70_000))
    server.proxy.clear()
    code, case_id = submit_report(
        reporter_page, server, f"The brake tests are faked. {reported}", files=[attachment]
    )

    page = member_context.new_page()
    unlock(page, desk_process)
    row = page.locator(f"a[href='/cases/{case_id}']").first
    expect(row).to_be_visible()
    expect(page.locator("body")).to_contain_text("new case: acknowledgement due")
    row.click()
    expect(page.locator(".report")).to_have_text(f"The brake tests are faked. {reported}")
    expect(page.locator("#tamper")).to_have_count(0)
    with page.expect_download() as download:
        page.click(f"a[href='/cases/{case_id}/files/0']")
    assert download.value.suggested_filename == attachment.name
    assert Path(download.value.path()).read_bytes() == attachment.read_bytes()

    page.click("button:has-text('Acknowledge')")
    expect(page.locator("#flash")).to_contain_text("signed acknowledgement")
    open_details(page, "Triage")
    page.select_option("#triage-risk", "medium")
    page.fill("#triage-text", "Credible; investigate the test bench.")
    page.click("button:has-text('Record the triage')")
    expect(page.locator("#flash")).to_contain_text("triage")
    open_details(page, "Plan a corrective action")
    page.fill("#action-due", "2031-06-30")
    page.fill("#action-description", "Recalibrate the brake test bench.")
    page.click("button:has-text('Plan the action')")
    expect(page.locator("#flash")).to_contain_text("planned")
    page.fill("#reply-text", f"Thank you. Which bench? {replied}")
    page.click("button:has-text('Send')")
    expect(page.locator("#flash")).to_contain_text("sent")

    open_case(reporter_page, server, code)
    assert f"Thank you. Which bench? {replied}" in messages(reporter_page)
    answer(reporter_page, f"Bench 2, every Friday. {answered}")

    page.goto(desk_process.url.split("/open/")[0] + "/")
    page.click("button:has-text('Fetch new cases and messages')")
    expect(page.locator("tr", has_text=case_id[:8])).to_contain_text(
        "unread message from the reporter"
    )
    page.click(f"a[href='/cases/{case_id}']")
    expect(page.locator("#thread")).to_be_visible()
    expect(page.locator("body")).to_contain_text(f"Bench 2, every Friday. {answered}")
    open_details(page, "Close")
    page.select_option("#close-outcome", "substantiated")
    page.fill("#close-lessons", f"Benches need a second check. {lesson}")
    page.check("#close-confirm")
    page.click("button:has-text('Close the case')")
    expect(page.locator("#flash")).to_contain_text("closed")
    expect(page.locator("body")).to_contain_text(f"Benches need a second check. {lesson}")
    page.click("button:has-text('Lock')")
    expect(page.locator("h1")).to_have_text("Unlock your desk")
    desk_process.stop()

    requests = server.proxy.requests()
    for canary in (reported, filed, named, replied, answered, lesson):
        assert scan_paths([desk_process.home, desk_process.tmp], canary) == [], canary
        for request in requests:
            assert not occurrences(request.raw, canary), (canary, request.target)
    state = json.loads((desk_process.home / "state.json").read_text())
    assert state["current"] == server.url


HOSTILE = (
    '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
    "\u202egnp.exe\u202c <b>bold</b> \x07bell\x1b[31m"
)


def test_untrusted_text_in_every_field_is_escaped_and_breaks_no_policy(
    server: ServerProcess,
    world: World,
    reporter_page: Page,
    member_context: BrowserContext,
    desk_process: DeskProcess,
    tmp_path: Path,
) -> None:
    weird = tmp_path / "<svg onload=alert(1)>\u202eexe.txt"
    weird.write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")
    code, case_id = submit_report(
        reporter_page, server, f"Report {HOSTILE}", where=f"Where {HOSTILE}", files=[weird]
    )
    open_case(reporter_page, server, code)
    answer(reporter_page, f"Answer {HOSTILE}")

    member_context.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = member_context.new_page()
    unlock(page, desk_process)
    page.goto(desk_process.url.split("/open/")[0] + f"/cases/{case_id}")
    expect(page.locator(".report")).to_contain_text("Report <script>")
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('main script, main img, main b').length") == 0
    body = page.inner_text("main")
    assert "\u202e" not in body
    assert "\\u202e" in body
    assert "\\u0007bell\\u001b[31m" in body
    assert "<svg onload=alert(1)>" in body
    assert f"Answer {HOSTILE[:30]}" in body
    page.goto(desk_process.url.split("/open/")[0] + f"/cases?q={case_id[:4]}")
    assert page.evaluate("window.__violations") == []
    assert page.evaluate("window.__pwned") is None


def test_the_desk_pages_pass_axe_with_the_keyboard_and_at_200_percent(
    server: ServerProcess,
    world: World,
    member_context: BrowserContext,
    desk_process: DeskProcess,
    reporter_page: Page,
) -> None:
    _code, case_id = submit_report(reporter_page, server, "The ladder in store 3 is broken.")
    page = member_context.new_page()
    page.goto(desk_process.url)
    # Keyboard only: the skip link comes first, then the form is reachable and submittable.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.focus("#passphrase")
    page.keyboard.type(PASSPHRASE)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Inbox")
    base = desk_process.url.split("/open/")[0]
    axe = AXE.read_text(encoding="utf-8")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for path in ("/", "/cases", f"/cases/{case_id}", "/metrics", "/session"):
            page.goto(base + path)
            # Playwright evaluates through the DevTools protocol, which the page's CSP does not
            # govern; the desk itself never runs this script.
            page.evaluate(axe)
            result = page.evaluate(
                "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']})"
                ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target)"
                ".join(' | ')))"
            )
            assert result == [], (scheme, path, result)
    # 200 % zoom on a laptop screen: half the CSS pixels, and nothing scrolls sideways.
    page.set_viewport_size({"width": 640, "height": 450})
    for path in ("/", "/cases", f"/cases/{case_id}"):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.goto(base + "/session")
    expect(page.locator("main")).to_contain_text(format_fingerprint(world.pin))
    # The metrics page draws the willingness-to-report charts where a member can see them.
    page.set_viewport_size({"width": 1000, "height": 900})
    page.goto(base + "/metrics")
    for label in (
        "Reports received per quarter and channel",
        "Share of reports per channel",
        "Shares of cases and actions",
        "Median days to acknowledge",
    ):
        chart = page.locator(f'svg.chart[aria-label^="{label}"]')
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 30
    expect(page.locator("main")).to_contain_text("No survey has closed yet.")
