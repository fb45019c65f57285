"""The follow-up page in real headless Chromium shows a redacted message (COMPLIANCE.md D9):
the text the committee kept, the day part of it was removed, and nothing of what was removed;
the thread still verifies, so the reporter can answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from safevoice.i18n import Catalogue
from tests.support.canary import new_canary
from tests.support.conversation import Conversation
from tests.support.pages import answer, entries, messages, open_case
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def test_the_reporter_sees_the_kept_text_and_the_day_part_of_it_was_removed(
    conversation: Conversation, chromium: Chromium, tmp_path: Path
) -> None:
    canary = new_canary("NAME")
    conversation.reply(f"Did {canary} from the night shift see it too?")
    kept = tmp_path / "kept.txt"
    kept.write_text("Did [a colleague] from the night shift see it too?", encoding="utf-8")
    done: Any = conversation.member(
        "cases", "redact", conversation.case_id, "1", "--text-file", str(kept), "--yes", "--json"
    )
    day = json.loads(done.stdout)["on"]

    page = chromium.page()
    open_case(page, conversation.server, conversation.code)

    expect(page.locator("#thread-problems")).to_be_hidden()
    assert messages(page) == ["Did [a colleague] from the night shift see it too?"]
    assert all(e["verified"] for e in entries(page))
    notice = page.locator('#thread > li[data-seq="1"] .redacted')
    expect(notice).to_have_text(
        t("Part of this message was removed by the committee on %(day)s.", day=t.day(day))
    )
    expect(page.locator('#thread > li[data-seq="0"] .redacted')).to_have_count(0)
    assert canary not in page.content()
    answer(page, "Yes, she did.")
    page.close()


def test_the_reporter_sees_how_many_attached_files_the_committee_removed(
    conversation: Conversation, chromium: Chromium, tmp_path: Path
) -> None:
    photo = tmp_path / "badge-photo.txt"
    photo.write_text("A colleague's badge.", encoding="utf-8")
    conversation.cli.safevoice(
        "cases",
        "reply",
        conversation.case_id,
        "--text-file",
        "-",
        "--attach",
        str(photo),
        stdin="Is this the badge?",
        env={"SAFEVOICE_HOME": str(conversation.cli.home / "alice")},
    )
    kept = tmp_path / "kept.txt"
    kept.write_text("Is this the badge? [photo removed]", encoding="utf-8")
    done: Any = conversation.member(
        "cases",
        "redact",
        conversation.case_id,
        "1",
        "--text-file",
        str(kept),
        "--remove-file",
        "1",
        "--yes",
        "--json",
    )
    day = json.loads(done.stdout)["on"]

    page = chromium.page()
    open_case(page, conversation.server, conversation.code)

    expect(page.locator("#thread-problems")).to_be_hidden()
    assert all(e["verified"] for e in entries(page))
    notices = page.locator('#thread > li[data-seq="1"] .redacted')
    expect(notices).to_have_text(
        [
            t("Part of this message was removed by the committee on %(day)s.", day=t.day(day)),
            t(
                "%(count)s attached file(s) removed by the committee on %(day)s.",
                count=1,
                day=t.day(day),
            ),
        ]
    )
    assert "badge-photo.txt" not in page.content()
    page.close()
