"""Fixtures of the reporter-page tests: real headless Chromium (Debian's) and extra servers.

One persistent Chromium profile per database kind serves the whole session, so that the test of
the canary can search the profile folder afterwards. Two more browsers are started once, each
with one capability switched off as a reporter's browser would have it: JavaScript
(``--blink-settings=scriptEnabled=false``, as Tor Browser "Safest") and WebAssembly
(``--js-flags=--jitless``, as Tor Browser "Safer").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from safevoice.web.bundle import Bundle
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.databases import DatabaseFactory
from tests.support.server import ServerProcess
from tests.support.surveys import Committee
from tests.support.world import World


@dataclass
class Chromium:
    context: BrowserContext
    profile: Path

    def page(self, *, width: int = 1024, height: int = 900) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.set_viewport_size({"width": width, "height": height})
        return page


@pytest.fixture(scope="session")
def chromium(
    playwright: Playwright, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chromium]:
    profile = tmp_path_factory.mktemp(f"chromium-{db_kind}")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
    )
    yield Chromium(context=context, profile=profile)
    context.close()


@pytest.fixture(scope="session")
def jitless_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with V8's JIT off, which also removes WebAssembly (as Tor Browser "Safer")."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--js-flags=--jitless"]
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def scriptless_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with JavaScript off, which also renders <noscript> (as Tor Browser "Safest")."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--blink-settings=scriptEnabled=false"]
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def nojs_server(
    db_factory: DatabaseFactory, web_bundle: Bundle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A second real server, with the no-JavaScript (server-sealed) form turned on."""
    url = db_factory.clone()
    process = ServerProcess.start(
        url,
        tmp_path_factory.mktemp(f"nojs-server-{db_factory.kind}"),
        extra_env={"SAFEVOICE_BUNDLE_DIR": str(web_bundle.folder), "SAFEVOICE_NOJS": "1"},
    )
    yield process
    process.stop()
    db_factory.drop(url)


# The conversation of the CLI's end-to-end tests (a report submitted with the CLI, the member
# logged in) and raw access to the session server's database, for the follow-up page's tests.
from tests.e2e.conftest import conversation, raw  # noqa: E402, F401  # pytest finds fixtures by name here; they come after the local ones they use


@pytest.fixture
def committee(server: ServerProcess, world: World) -> Iterator[Committee]:
    c = Committee(server, world)
    yield c
    c.http.close()


@pytest.fixture
def nojs_committee(nojs_server: ServerProcess, world: World) -> Iterator[Committee]:
    c = Committee(nojs_server, world)
    yield c
    c.http.close()
