"""A committee member's key is rotated while a reporter's case is open, as the browser sees it.

The committee rotates Alice's key with the real tools (`safevoice manifest rotate-member-key`,
`manifest publish`, `safevoice cases rekey --all --old-key`, as tests/e2e/test_key_lifecycle_e2e
does). Until the case is re-keyed the follow-up page shows Alice's earlier message as verified
(her retired key signed it while it was valid) and lets the reporter write nothing, since
Alice's old key may still open the case; afterwards it shows every message verified, old key
and new, and the reporter's answer reaches Alice.

The manifest changes here, so the test has a server of its own: the pages' app on a cloned
database, served from a thread (cheaper than a server process), in the session's Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from safevoice.i18n import Catalogue
from safevoice.settings import Settings
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.e2e.test_key_lifecycle_e2e import Committee, new_key, texts
from tests.support.pages import answer, entries, messages, open_case
from tests.support.threaded import serve_app
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


@dataclass
class PagesServer:
    """What Committee and open_case use of a server: where clients reach it, and its
    database (for `safevoice manifest publish`)."""

    url: str
    database_url: str


@pytest.fixture
def committee(
    cli: Cli, world: World, database_url: str, web_bundle: Bundle, tmp_path: Path
) -> Iterator[Committee]:
    settings = Settings(
        database_url=database_url,
        bundle_dir=web_bundle.folder,
        snapshot_ttl_seconds=0,
        blob_store=f"fs:{tmp_path / 'blobs'}",
    )
    app = create_app(settings)
    folder = tmp_path / "offline"
    folder.mkdir()
    try:
        with serve_app(app) as base:
            server = PagesServer(url=base, database_url=database_url)
            yield Committee(cli, server, world, folder, world.key_file("root"))
    finally:
        app.state.database.dispose()


def senders(page: Page) -> list[str]:
    return [str(s) for s in page.locator("#thread > li .entry-head .hint").all_text_contents()]


def test_after_a_member_s_key_is_rotated_the_page_verifies_old_and_new_messages(
    committee: Committee, world: World, chromium: Chromium, tmp_path: Path
) -> None:
    submitted = committee.submit("Invoices are being back-dated.")
    case_id, code = submitted["case_id"], submitted["code"]
    committee.login("alice", world.key_file("alice"))
    committee.reply("alice", case_id, "Asked with Alice's old key.")
    _, new_file = new_key(tmp_path / "alice-new", "member", "alice")
    committee.change("rotate-member-key", str(new_file.with_suffix(".pub.json")))

    page = chromium.page()
    open_case(page, committee.server, code)
    expect(page.locator("#thread-problems")).to_be_hidden()
    assert [e["verified"] for e in entries(page)] == [True, True]
    assert messages(page) == ["Asked with Alice's old key."]
    expect(page.locator("#reply-held")).to_have_text(
        t(
            "The committee is renewing the keys of your case, because someone who could read "
            "it left the committee or replaced their key. You cannot answer until that is "
            "done; please come back later."
        )
    )
    expect(page.locator("#reply-form")).to_be_hidden()

    committee.login("alice", new_file)
    rekeyed = committee.rekey_all("alice", "--old-key", str(world.key_file("alice")))
    committee.reply("alice", case_id, "Asked with Alice's new key.")
    open_case(page, committee.server, code)

    assert rekeyed == {"rekeyed": [case_id], "unchanged": 0, "failed": []}
    expect(page.locator("#thread-problems")).to_be_hidden()
    expect(page.locator("#reply-held")).to_be_hidden()
    assert [e["kind"] for e in entries(page)] == ["report", "message", "epoch", "message"]
    assert all(e["verified"] for e in entries(page))
    assert messages(page) == ["Asked with Alice's old key.", "Asked with Alice's new key."]
    assert t("from %(name)s (committee)", name="Alice") in senders(page)[1]
    assert t("from %(name)s (committee)", name="Alice") in senders(page)[3]
    answer(page, "Answered under the new keys.")
    page.close()

    shown = committee.show("alice", case_id)
    assert shown["problems"] == []
    assert texts(shown)[-1] == "Answered under the new keys."
    assert all(o["verified"] for o in shown["objects"])
