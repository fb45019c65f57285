"""A root hand-over as the browser sees it: the page trusts only the root built into its bundle.

The bundle built for the old root accepts the hand-over manifest cross-signed by both roots; the
rebuilt bundle for the new root accepts it too, and refuses a manifest signed by the retired
root alone, so nothing is encrypted to recipients the retired root named.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from safevoice.cases.manifest import publish_manifest
from safevoice.clock import utcnow
from safevoice.crypto.keys import format_fingerprint, generate
from safevoice.crypto.manifest import Manifest, sign_manifest, successor
from safevoice.i18n import Catalogue
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web import bundle
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.support.threaded import serve_app
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def page_state(chromium: Chromium, database_url: str, pages: Bundle) -> tuple[str, str]:
    """What the report page of a server with this bundle does: ("ready", the fingerprint it
    shows) or ("refused", the reason it gives)."""
    app = create_app(
        Settings(database_url=database_url, bundle_dir=pages.folder, snapshot_ttl_seconds=0)
    )
    try:
        with serve_app(app) as base:
            page = chromium.page()
            page.goto(f"{base}/report/general")
            refused = page.locator("#refused")
            expect(page.locator("#pin-line:visible, #refused:visible")).to_be_visible()
            state = (
                ("refused", page.locator("#refused-reason").inner_text())
                if refused.is_visible()
                else ("ready", page.locator("#pin-shown").inner_text())
            )
            page.close()
            return state
    finally:
        app.state.database.dispose()


def test_a_rebuilt_bundle_follows_the_new_root_and_refuses_the_retired_root_alone(
    world: World,
    database: Database,
    database_url: str,
    manifest: Manifest,
    web_bundle: Bundle,
    chromium: Chromium,
    tmp_path: Path,
) -> None:
    new_root = generate("root", "root", "New committee root")
    handed_over = successor(manifest, root=new_root.public.fingerprint, now=utcnow(), days=30)
    now = utcnow()
    with database.unit_of_work() as session:
        publish_manifest(
            session, sign_manifest(handed_over, [world.root, new_root]), today=now.date(), now=now
        )
    rebuilt = bundle.build(
        pin=new_root.public.fingerprint,
        out=tmp_path / "pages",
        node_modules=bundle.default_node_modules(),
    )

    old_page = page_state(chromium, database_url, web_bundle)
    new_page = page_state(chromium, database_url, rebuilt)
    retired_alone = successor(handed_over, root=world.pin, now=utcnow(), days=30)
    with database.unit_of_work() as session:  # as a compromised server would
        publish_manifest(
            session,
            sign_manifest(retired_alone, [world.root]),
            today=now.date(),
            now=utcnow(),
            accept_new_root=True,
        )
    refused = page_state(chromium, database_url, rebuilt)

    assert old_page == ("ready", format_fingerprint(world.pin))
    assert new_page == ("ready", format_fingerprint(new_root.public.fingerprint))
    assert refused == (
        "refused",
        t(
            "The committee's list of readers is not signed by the committee root built into "
            "this page. The server may have been tampered with."
        ),
    )
    assert rebuilt.digest != web_bundle.digest
