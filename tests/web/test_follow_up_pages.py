"""The follow-up page, in process on both databases: it embeds only what its script needs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from safevoice.web.i18n import Catalogue
from tests.web.test_pages import pages

t = Catalogue.load()


@pytest.fixture
def web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=False) as http:
        yield http


def test_the_follow_up_page_embeds_what_its_script_needs_and_loads_only_the_bundle(
    web: httpx.Client, web_bundle: Bundle
) -> None:
    page = web.get("/follow-up").text
    block = re.search(r'<script type="application/json" id="sv-follow-up">(.*?)</script>', page)
    assert block is not None
    data = json.loads(block.group(1))
    assert set(data) == {"manifest", "challenge", "channels"}
    assert data["challenge"]["purpose"] == "reporter-login"
    assert [c["name"] for c in data["channels"]] == ["general", "safety"]
    assert f'<script type="module" src="{web_bundle.followup_script}"></script>' in page
    assert page.count("<script") == 3
    assert 'id="login-form"' in page
    assert "hidden>" in page.split('id="login-form"')[1][:200]
    code_input = re.search(r'<input type="text" id="code"[^>]*>', page)
    assert code_input is not None
    for attribute in ('autocomplete="off"', 'spellcheck="false"', 'name="code"'):
        assert attribute in code_input.group(0)
    assert 'href="/follow-up"' in web.get("/").text
