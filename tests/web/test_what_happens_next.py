"""What happens next, said where the reporter meets it (COMPLIANCE.md D2, D3, D6).

The code page and the start page say when the acknowledgement and the feedback are due, when
to come back and when the case is deleted; the follow-up page and the reporter CLI say plainly
when a deadline has passed without the signed acknowledgement or the feedback it promised.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_dialogue_e2e import execute
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.browser import TIMEOUT_MS
from tests.support.conversation import Conversation
from tests.support.pages import open_case
from tests.support.server import ServerProcess
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


@pytest.fixture
def raw(server: ServerProcess) -> Iterator[Database]:
    database = Database.connect(server.database_url, pool_size=1)
    yield database
    database.dispose()


def stored_days(raw: Database, case_id: str) -> tuple[str, str]:
    with raw.reader.connect() as connection:
        row = connection.execute(
            text("SELECT ack_due_on, feedback_due_on FROM case_file WHERE id = :case"),
            {"case": case_id},
        ).one()
    return str(row[0]), str(row[1])


def test_the_code_page_says_what_happens_next_with_the_stored_days(
    server: ServerProcess, chromium: Chromium, raw: Database
) -> None:
    page = chromium.page()
    page.goto(f"{server.url}/report/general")
    expect(page.locator("#pin-line")).to_be_visible()
    page.fill("#q-where", "Depot 4")
    page.fill("#report-text", "The loading bay has no railing.")
    page.click("#submit-button")
    expect(page.locator("#code-panel")).to_be_visible(timeout=TIMEOUT_MS)
    case_id = json.loads(page.text_content("#receipt") or "{}")["case_id"]
    ack_due, feedback_due = stored_days(raw, case_id)

    expect(page.locator("#next-ack")).to_have_text(
        t(
            "By %(day)s: a committee member acknowledges your report with a signed message "
            "that you read with your follow-up code.",
            day=t.day(ack_due),
        )
    )
    expect(page.locator("#next-feedback")).to_have_text(
        t(
            "By %(day)s at the latest: the committee tells you what it is doing about your "
            "report (3 months after the acknowledgement).",
            day=t.day(feedback_due),
        )
    )
    expect(page.locator("#next-return")).to_have_text(
        t(
            "Come back with your code after a few days to read the acknowledgement and any "
            "questions, and again before %(day)s. If a deadline passes without word from the "
            "committee, you may report to the competent authorities listed on the start page.",
            day=t.day(ack_due),
        )
    )
    expect(page.locator("#next-deleted")).to_have_text(t.retention(60, 1095))
    page.check("#written-down")
    page.click("#done-button")
    page.wait_for_url(f"{server.url}/")
    page.close()


def test_the_start_page_says_what_happens_next(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/").text

    for key in (
        "What happens after you report",
        "Within 7 days a committee member acknowledges your report with a signed message that"
        " you read with your follow-up code.",
        "Within 3 months of that acknowledgement the committee tells you what it is doing "
        "about your report, and may ask you questions in the meantime.",
    ):
        assert t(key) in page
    assert t.retention(60, 1095) in page


def reporter_cli(talk: Conversation, expect: int = 0) -> str:
    result = talk.cli.report(
        "follow-up",
        "--server",
        talk.server.url,
        "--pin",
        talk.world.pin,
        stdin=talk.code + "\n",
        expect=expect,
    )
    return str(result.stdout)


def passed_notice(page: Page, talk: Conversation) -> str:
    open_case(page, talk.server, talk.code)
    notice = page.locator("#deadline-passed")
    return notice.text_content() if notice.is_visible() else ""  # type: ignore[return-value]  # text_content is Optional in Playwright's types; a visible notice has text


def answers(tmp_path: Path) -> Path:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"where": "Depot"}))
    return path


def test_a_passed_deadline_is_said_on_the_follow_up_page_and_in_the_reporter_cli(
    cli: Cli,
    server: ServerProcess,
    world: World,
    chromium: Chromium,
    raw: Database,
    tmp_path: Path,
) -> None:
    submitted = submit_with_cli(
        cli, server, world, "Nobody checks the gas alarms.", answers=answers(tmp_path)
    )
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    page = chromium.page()
    assert passed_notice(page, talk) == ""
    assert "was due by" not in reporter_cli(talk)

    # Received five weeks ago, never acknowledged: the 7 days have passed.
    received = date.today() - timedelta(days=35)
    ack_due = received + timedelta(days=7)
    execute(
        raw,
        "UPDATE case_file SET received_on = :received, ack_due_on = :due WHERE id = :case",
        received=received,
        due=ack_due,
        case=talk.case_id,
    )
    assert passed_notice(page, talk) == t(
        "The acknowledgement was due by %(day)s and no committee member has signed one. You "
        "may now report to the competent authorities listed on the start page; you can still "
        "write here too.",
        day=t.day(ack_due),
    )
    assert f"The acknowledgement was due by {t.day(ack_due)}" in " ".join(
        reporter_cli(talk).split()
    )

    # Acknowledged (signed) but the 3 months for feedback have passed without any. Moving the
    # stored deadline also makes it differ from the one the acknowledgement signed, which the
    # reporter's clients list as a problem (exit 2) besides the notice.
    talk.login()
    talk.member("cases", "status", talk.case_id, "acknowledged")
    feedback_due = date.today() - timedelta(days=2)
    execute(
        raw,
        "UPDATE case_file SET feedback_due_on = :due WHERE id = :case",
        due=feedback_due,
        case=talk.case_id,
    )
    assert passed_notice(page, talk) == t(
        "Feedback was due by %(day)s and the committee has not yet told you what it is doing "
        "about your report. You may ask here, and you may report to the competent authorities"
        " listed on the start page.",
        day=t.day(feedback_due),
    )
    assert f"Feedback was due by {t.day(feedback_due)}" in " ".join(reporter_cli(talk, 2).split())
    page.close()


def test_the_server_sealed_follow_up_says_a_deadline_passed(
    cli: Cli, nojs_server: ServerProcess, world: World, tmp_path: Path
) -> None:
    submitted = submit_with_cli(
        cli, nojs_server, world, "The ladder is broken.", answers=answers(tmp_path)
    )
    database = Database.connect(nojs_server.database_url, pool_size=1)
    ack_due = date.today() - timedelta(days=3)
    try:
        execute(
            database,
            "UPDATE case_file SET ack_due_on = :due WHERE id = :case",
            due=ack_due,
            case=submitted["case_id"],
        )
    finally:
        database.dispose()

    page = httpx.post(
        f"{nojs_server.url}/follow-up", data={"code": submitted["code"]}, timeout=60
    ).text

    assert (
        t(
            "The acknowledgement was due by %(day)s and no committee member has signed one. "
            "You may now report to the competent authorities listed on the start page; you "
            "can still write here too.",
            day=t.day(ack_due),
        )
        in page
    )
