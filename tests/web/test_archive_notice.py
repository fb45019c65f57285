"""Reporters are told on the start page and next to the exclusion list when the committee keeps
an archive key (off by default), before they write anything."""

from __future__ import annotations

import json
import re

import httpx

from safevoice.clock import utcnow
from safevoice.crypto.keys import generate
from safevoice.crypto.manifest import Manifest, successor
from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from tests.members.test_key_changes import publish
from tests.support.world import World
from tests.web.test_pages import web  # noqa: F401 - the pages app, as a fixture

t = Catalogue.load()


def shown(page: str, key: str) -> bool:
    return t(key).replace('"', "&#34;").replace("'", "&#39;") in page


def test_the_pages_say_whether_an_archive_key_can_read_reports(
    web: httpx.Client,  # noqa: F811 - the fixture imported above
    database: Database,
    manifest: Manifest,
    world: World,
) -> None:
    before = (web.get("/").text, web.get("/report/general").text)
    publish(
        database,
        world,
        successor(
            manifest,
            root=world.pin,
            now=utcnow(),
            days=30,
            archive=generate("archive", "archive", "Legal archive").public,
        ),
    )
    after = (web.get("/").text, web.get("/report/general").text)

    assert not shown(
        before[0],
        "The committee also keeps an archive key, so that reports stay readable for as long "
        "as the law requires even if every committee member loses their key. Your report is "
        "encrypted to it too. Nobody holds the archive key alone: it exists only as shares "
        "kept by several people, and each use of it is recorded.",
    )
    assert not shown(
        before[1],
        "Excluding members does not exclude the committee's archive key: it can read every "
        "report, but only when several people bring their shares of it together.",
    )
    assert shown(
        after[0],
        "The committee also keeps an archive key, so that reports stay readable for as long "
        "as the law requires even if every committee member loses their key. Your report is "
        "encrypted to it too. Nobody holds the archive key alone: it exists only as shares "
        "kept by several people, and each use of it is recorded.",
    )
    assert shown(
        after[1],
        "Excluding members does not exclude the committee's archive key: it can read every "
        "report, but only when several people bring their shares of it together.",
    )
    embedded = re.search(r'<script type="application/json" id="sv-intake">(.*?)</script>', after[1])
    assert embedded is not None
    assert json.loads(embedded.group(1))["archive"] is True
