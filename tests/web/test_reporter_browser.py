"""The reporter pages in real headless Chromium against the real server (two workers).

A canary typed into the page must reach the committee member readable and leave no readable
trace anywhere else: not in any request body the server received (Web Workers' requests
included, so they are captured by the recording proxy in front of the server), not in the
browser profile, the database files, temporary files or the server log.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import text

from safevoice.crypto.code import parse_code
from safevoice.crypto.keys import generate
from safevoice.i18n import Catalogue
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.databases import data_paths
from tests.support.proxy import RecordingProxy
from tests.support.server import ServerProcess
from tests.support.threaded import serve_app
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def submissions(server: ServerProcess) -> list[bytes]:
    return [
        r.body
        for r in server.proxy.requests()
        if r.method == "POST" and r.target == "/api/v1/cases"
    ]


def case_ids(database_url: str) -> set[str]:
    database = Database.connect(database_url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            return {str(row[0]) for row in connection.execute(text("SELECT id FROM case_file"))}
    finally:
        database.dispose()


def read_as_member(cli: Cli, server: ServerProcess, world: World, case_id: str) -> str:
    cli.safevoice(
        "login", "--server", server.url, "--key", str(world.key_file("alice")), "--pin", world.pin
    )
    return str(cli.safevoice("cases", "show", case_id).stdout)


def test_a_canary_typed_into_the_page_reaches_the_member_and_leaves_no_trace_elsewhere(
    server: ServerProcess, world: World, chromium: Chromium, cli: Cli
) -> None:
    canary = new_canary()
    server.proxy.clear()
    page = chromium.page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#q-where", f"Depot {canary}-where")
    page.check("#q-ongoing-1")
    page.fill("#q-when", "2026-11-02")
    page.fill("#report-text", f"The fire exits are chained shut. {canary}")
    page.click("#submit-button")

    expect(page.locator("#code-panel")).to_be_visible()
    code = page.text_content("#follow-up-code") or ""
    assert parse_code(code).version == 1
    receipt = json.loads(page.text_content("#receipt") or "{}")
    case_id = receipt["case_id"]
    page.check("#written-down")
    page.click("#done-button")
    page.wait_for_url(f"{server.url}/")
    page.close()

    bodies = submissions(server)
    assert len(bodies) == 1
    assert case_id.encode() in bodies[0]
    requests = server.proxy.requests()
    assert len(requests) >= 5
    for request in requests:
        assert not occurrences(request.raw, canary), request.target

    shown = read_as_member(cli, server, world, case_id)
    assert canary in shown
    assert f"Depot {canary}-where" in shown
    assert "end-to-end encrypted" in shown
    assert code not in shown

    assert scan_paths([chromium.profile], canary) == []
    paths = data_paths(server.database_url)
    assert scan_paths(paths, case_id), "the scan does not reach the stored data"
    assert scan_paths(paths, canary) == []
    assert scan_paths([server.tmp_dir], canary) == []
    assert not occurrences(server.log_path.read_bytes(), canary)
    assert scan_paths([cli.home], canary) == []


def test_a_manifest_from_an_attackers_root_makes_the_page_refuse_and_nothing_is_sent(
    world: World,
    database_url: str,
    web_bundle: Bundle,
    chromium: Chromium,
    cli: Cli,
    tmp_path: Path,
) -> None:
    from safevoice.cli.manifest import write_signed
    from safevoice.instance import service as instance

    database = Database.connect(database_url, pool_size=1)
    try:
        with database.session(write=False) as session:
            instance_key = instance.instance_public_key(session)
    finally:
        database.dispose()
    attacker = generate("root", "attacker", "Not the committee")
    _, signed = world.manifest(
        instance_key, version=2, roots=[attacker], root=attacker.public.fingerprint
    )
    write_signed(tmp_path / "attacker.json", signed)
    cli.safevoice(
        "manifest",
        "publish",
        str(tmp_path / "attacker.json"),
        "--database",
        database_url,
        "--accept-new-root",
    )

    app = create_app(
        Settings(database_url=database_url, bundle_dir=web_bundle.folder, snapshot_ttl_seconds=0)
    )
    with serve_app(app) as base:
        proxy = RecordingProxy(upstream_port=int(base.rsplit(":", 1)[1])).start()
        try:
            page = chromium.page()
            page.goto(f"{proxy.url}/report/general")
            expect(page.locator("#refused")).to_be_visible()
            expect(page.locator("#refused-reason")).to_have_text(
                t(
                    "The committee's list of readers is not signed by the committee root "
                    "built into this page. The server may have been tampered with."
                )
            )
            expect(page.locator("#submit-button")).to_be_disabled()
            page.fill("#q-where", "Depot 9")
            page.fill("#report-text", "This must never leave the browser.")
            page.locator("#report-form").evaluate("form => form.requestSubmit()")
            page.wait_for_timeout(1500)
            expect(page.locator("#code-panel")).to_be_hidden()
            page.close()
            posted = [r for r in proxy.requests() if r.method == "POST"]
        finally:
            proxy.stop()
            app.state.database.dispose()
    assert posted == []
    assert case_ids(database_url) == set()


def test_without_webassembly_the_page_explains_the_choices_and_sends_nothing(
    server: ServerProcess, jitless_browser: Browser, web_bundle: Bundle
) -> None:
    server.proxy.clear()
    page = jitless_browser.new_page()
    page.goto(f"{server.url}/report/general")
    explanation = page.locator("#no-wasm")
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text(
        t('Set Tor Browser to "Standard" for this site and reload this page.')
    )
    expect(explanation).to_contain_text(
        t("Use the SafeVoice command-line client on your own computer.")
    )
    expect(page.locator("#no-wasm-sealed")).to_be_hidden()
    expect(page.locator("#report-form")).to_be_hidden()
    page.close()
    assert submissions(server) == []
    assert not [r for r in server.proxy.requests() if r.method == "POST"]
    # Nor is the worker (most of the page's bytes) fetched: neither the page's inline starter
    # nor its script starts it without WebAssembly.
    fetched = [r.target for r in server.proxy.requests()]
    assert web_bundle.page_script in fetched
    assert web_bundle.worker_script not in fetched


def test_without_webassembly_the_reporter_may_choose_the_server_sealed_form_where_enabled(
    nojs_server: ServerProcess, jitless_browser: Browser
) -> None:
    before = case_ids(nojs_server.database_url)
    page = jitless_browser.new_page()
    page.goto(f"{nojs_server.url}/report/general")
    expect(page.locator("#no-wasm-sealed")).to_be_visible()
    expect(page.locator("#report-form")).to_be_hidden()
    page.click("#use-sealed")
    expect(page.locator("#sealed-chosen")).to_be_visible()
    page.fill("#q-where", "Depot 3")
    page.fill("#report-text", "Sent knowingly through the server-sealed form.")
    page.click("#submit-button")
    expect(page.locator("#follow-up-code")).to_be_visible()
    parse_code(page.text_content("#follow-up-code") or "")
    page.close()
    assert len(case_ids(nojs_server.database_url) - before) == 1


def test_with_the_form_on_and_javascript_off_the_server_seals_a_case_the_member_reads(
    nojs_server: ServerProcess, world: World, scriptless_browser: Browser, cli: Cli
) -> None:
    canary = new_canary()
    before = case_ids(nojs_server.database_url)
    page = scriptless_browser.new_page()
    page.goto(f"{nojs_server.url}/report/general")
    # Playwright's text search skips <noscript>, so the notice is found by its id.
    expect(page.locator("#noscript-heading")).to_have_text(
        t("JavaScript is off: the server will encrypt your report")
    )
    expect(page.locator("noscript section")).to_contain_text(
        t(
            "Your words do pass through the server's memory, so whoever controls the server "
            "could in principle read them. The committee will see that this report was sealed"
            " by the server."
        )
    )
    expect(page.locator("#report-form")).to_be_hidden()
    page.fill("#sealed-q-where", f"Depot {canary}-where")
    page.fill("#sealed-text", f"Invoices are being backdated. {canary}")
    page.check("#sealed-exclude-bob")
    page.click("#sealed-submit")
    code = page.locator("#follow-up-code")
    expect(code).to_be_visible()
    parse_code(code.text_content() or "")
    page.check("#written-down")
    page.click("#done-button")
    page.wait_for_url(f"{nojs_server.url}/?written=on")
    page.close()

    (case_id,) = case_ids(nojs_server.database_url) - before
    shown = read_as_member(cli, nojs_server, world, case_id)
    assert canary in shown
    assert "sealed by the server" in shown
    paths = data_paths(nojs_server.database_url)
    assert scan_paths(paths, case_id), "the scan does not reach the stored data"
    assert scan_paths(paths, canary) == []
    assert scan_paths([nojs_server.tmp_dir], canary) == []
    assert not occurrences(nojs_server.log_path.read_bytes(), canary)


def test_with_the_form_off_a_browser_without_javascript_is_told_what_to_do_instead(
    server: ServerProcess, scriptless_browser: Browser
) -> None:
    canary = new_canary()
    before = case_ids(server.database_url)
    page = scriptless_browser.new_page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#noscript-heading")).to_have_text(
        t("This page needs JavaScript to protect your report")
    )
    expect(page.locator("noscript section")).to_contain_text(
        t("use the SafeVoice command-line client on your own computer.")
    )
    expect(page.locator("#report-text")).to_be_hidden()
    assert page.locator("#sealed-form").count() == 0
    page.close()

    answer = httpx.post(f"{server.url}/report/general", data={"text": canary, "answer.where": "x"})
    assert answer.status_code == 403
    assert t("JavaScript or the command-line client is needed") in answer.text
    assert canary not in answer.text
    assert case_ids(server.database_url) == before


def test_the_report_page_works_by_keyboard_alone_and_announces_errors_at_the_field(
    server: ServerProcess, chromium: Chromium
) -> None:
    page = chromium.page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"
    )
    assert unlabelled == []
    chatty = page.evaluate(
        "() => [...document.querySelectorAll('input, textarea')]"
        ".filter(e => e.getAttribute('spellcheck') !== 'false'"
        " || e.getAttribute('autocomplete') !== 'off').map(e => e.id)"
    )
    assert chatty == []

    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id"))
        if reached[-1] == "submit-button":
            break
    assert {"q-where", "q-ongoing-1", "q-when", "report-text", "exclude-alice"} <= set(reached)
    assert reached[-1] == "submit-button"

    page.keyboard.press("Enter")
    error = page.locator("#err-q-where")
    expect(error).to_have_text(t("Please answer this question."))
    expect(page.locator("#err-report-text")).to_have_text(t("Please describe what happened."))
    assert page.evaluate("document.activeElement.id") == "q-where"
    where = page.locator("#q-where")
    expect(where).to_have_attribute("aria-invalid", "true")
    assert "err-q-where" in (where.get_attribute("aria-describedby") or "")

    page.keyboard.type("Depot 7")
    page.focus("#report-text")
    page.keyboard.type("Typed with the keyboard only.")
    page.focus("#submit-button")
    page.keyboard.press("Enter")
    expect(page.locator("#code-panel")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "code-heading"
    page.focus("#written-down")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "done-button"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")
    page.close()


@pytest.mark.parametrize("path", ["/", "/report/general", "/follow-up"])
def test_the_pages_fit_a_320_pixel_screen_and_200_percent_zoom_without_web_fonts(
    server: ServerProcess, chromium: Chromium, path: str
) -> None:
    page = chromium.page(width=320, height=640)
    page.goto(f"{server.url}{path}")
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    assert page.evaluate("document.fonts.size") == 0

    # 200 % zoom of a 1280-pixel-wide window: a 640-pixel layout drawn at twice the density.
    session = chromium.context.new_cdp_session(page)
    session.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 640, "height": 800, "deviceScaleFactor": 2, "mobile": False},
    )
    page.reload()
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 640
    overflowing = page.evaluate(
        "() => [...document.querySelectorAll('main *')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX"
        " === 'visible' && e.clientWidth > 0).map(e => e.tagName + '#' + e.id)"
    )
    assert overflowing == []
    page.close()
