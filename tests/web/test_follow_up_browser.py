"""The follow-up page in real headless Chromium against the real server (two workers).

A reporter reports on the report page, a committee member answers with the CLI, the reporter
opens the case on the follow-up page with the code, reads the answer and answers back, and the
member reads it: canaries in every message reach the other side exactly and appear in no
request body, database file, temporary file, log or browser profile. A server that tampers
with the stored thread is caught by the page, which says so plainly and refuses to answer.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_dialogue_e2e import TAMPERING, execute, grown, texts
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.conversation import Conversation
from tests.support.databases import data_paths
from tests.support.pages import answer, entries, messages, open_case, submit_report
from tests.support.server import ServerProcess
from tests.support.world import World
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def problems_shown(page: Page) -> list[str]:
    return [str(x) for x in page.locator("#problem-list li").all_text_contents()]


def nothing_kept(page: Page) -> None:
    """No cookie, web storage or database of this origin holds anything."""
    kept = page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: sessionStorage.length,
            databases: (await indexedDB.databases()).length,
            cookie: document.cookie,
        })"""
    )
    assert kept == {"local": 0, "session": 0, "databases": 0, "cookie": ""}
    assert page.context.cookies() == []


def test_a_full_conversation_through_the_pages_with_canaries_in_every_message(
    server: ServerProcess, world: World, chromium: Chromium, cli: Cli
) -> None:
    reported, question, answered = (
        new_canary("REPORT"),
        new_canary("QUESTION"),
        new_canary("ANSWER"),
    )
    server.proxy.clear()
    page = chromium.page()
    code, case_id = submit_report(page, server, f"The fire doors are locked. {reported}")
    talk = Conversation(cli, server, world, case_id, code)
    talk.login()
    talk.reply(f"Which doors? {question}")

    open_case(page, server, code)
    shown = entries(page)
    assert [e["kind"] for e in shown] == ["report", "message"]
    assert shown[0]["text"] == f"The fire doors are locked. {reported}"
    assert shown[0]["mine"]
    assert not shown[1]["mine"]
    assert all(e["verified"] for e in shown)
    assert messages(page) == [f"Which doors? {question}"]
    expect(page.locator("#thread-problems")).to_be_hidden()
    expect(page.locator("#code")).to_have_value("")
    answer(page, f"The ones in hall B. {answered}")
    assert messages(page) == [f"Which doors? {question}", f"The ones in hall B. {answered}"]
    nothing_kept(page)
    page.click("#leave-button")
    page.wait_for_url(f"{server.url}/")
    page.close()

    seen = talk.show()
    assert texts(seen) == [f"Which doors? {question}", f"The ones in hall B. {answered}"]
    assert all(o["verified"] for o in seen["objects"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    requests = server.proxy.requests()
    assert any(r.target == "/api/v1/reporter/objects" for r in requests)
    assert not any(code.encode() in r.raw for r in requests)
    paths = data_paths(server.database_url)
    for canary in (reported, question, answered):
        for request in requests:
            assert not occurrences(request.raw, canary), request.target
        assert scan_paths(paths, canary) == []
        assert scan_paths([server.tmp_dir, chromium.profile], canary) == []
        assert not occurrences(server.log_path.read_bytes(), canary)


def tampered(raw: Database, db_kind: str, case_id: str, statements: list[str]) -> None:
    for statement in statements:
        if db_kind == "postgresql":
            statement = statement.replace(
                "envelope, 'member", "convert_from(envelope, 'UTF8'), 'member"
            ).replace("'member:carol')", "'member:carol')::bytea")
        execute(raw, statement, case=case_id)


PROBLEM_SHOWN = {
    "delete a message in the middle": t("Messages are missing before message #%(n)s.", n=3),
    "swap two messages": t(
        "Message #%(n)s belongs to another case or to another place in this conversation.", n=1
    ),
    "replay an old message": t(
        "Message #%(n)s belongs to another case or to another place in this conversation.", n=3
    ),
    "change a sender": t("Message #%(n)s is not signed by the person it names as its sender.", n=1),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERING))
def test_a_thread_the_server_tampered_with_is_flagged_and_gets_no_answer(
    conversation: Conversation, raw: Database, db_kind: str, chromium: Chromium, tamper: str
) -> None:
    grown(conversation)
    tampered(raw, db_kind, conversation.case_id, TAMPERING[tamper])
    conversation.server.proxy.clear()

    page = chromium.page()
    open_case(page, conversation.server, conversation.code)

    expect(page.locator("#thread-problems")).to_be_visible()
    assert PROBLEM_SHOWN[tamper] in problems_shown(page)
    expect(page.locator("#reply-blocked")).to_be_visible()
    expect(page.locator("#reply-form")).to_be_hidden()
    page.close()
    assert not [r for r in conversation.server.proxy.requests() if "objects" in r.target]


def test_a_message_moved_from_another_case_is_flagged(
    conversation: Conversation, raw: Database, chromium: Chromium, tmp_path: Path
) -> None:
    conversation.reply("Question in this case.")
    other = another_case(conversation, tmp_path, "Another report.")
    other.reply("Question in the other case.")
    execute(
        raw,
        "UPDATE case_object SET envelope = (SELECT envelope FROM case_object "
        "WHERE case_id = :other AND chain = 'thread' AND seq = 1) "
        "WHERE case_id = :case AND chain = 'thread' AND seq = 1",
        other=other.case_id,
        case=conversation.case_id,
    )

    page = chromium.page()
    open_case(page, conversation.server, conversation.code)

    assert t(
        "Message #%(n)s belongs to another case or to another place in this conversation.", n=1
    ) in problems_shown(page)
    assert "Question in the other case." not in (messages(page))
    page.close()


def cases_command(talk: Conversation, *args: str, member: str = "alice") -> None:
    talk.cli.safevoice("cases", *args, env={"SAFEVOICE_HOME": str(talk.cli.home / member)})


def facts(page: Page) -> dict[str, str]:
    terms = page.locator("#case-facts dt").all_text_contents()
    values = page.locator("#case-facts dd").all_text_contents()
    return dict(zip(terms, values, strict=True))


def test_a_signed_acknowledgement_is_shown_and_one_the_server_forged_is_flagged(
    conversation: Conversation, raw: Database, chromium: Chromium, tmp_path: Path
) -> None:
    cases_command(conversation, "status", conversation.case_id, "acknowledged")
    forged = submit_forged_ack(conversation, raw, tmp_path)

    page = chromium.page()
    open_case(page, conversation.server, conversation.code)
    expect(page.locator("#thread-problems")).to_be_hidden()
    assert facts(page)[t("Status")] == t("Acknowledged")
    assert t("Acknowledged on (signed by the committee)") in facts(page)
    expect(page.locator("#ack-advice")).to_be_hidden()
    assert [e["kind"] for e in entries(page)] == ["report", "status"]

    open_case(page, forged.server, forged.code)
    assert t(
        "The server says your report was acknowledged, but no committee member signed an "
        "acknowledgement. Treat your report as not acknowledged."
    ) in problems_shown(page)
    assert t("Acknowledged on (signed by the committee)") not in facts(page)
    expect(page.locator("#ack-advice")).to_be_visible()
    page.close()


def another_case(talk: Conversation, tmp_path: Path, report: str) -> Conversation:
    answers = tmp_path / "answers-other.json"
    answers.write_text(json.dumps({"where": "Office"}))
    submitted = submit_with_cli(talk.cli, talk.server, talk.world, report, answers=answers)
    return Conversation(talk.cli, talk.server, talk.world, submitted["case_id"], submitted["code"])


def submit_forged_ack(talk: Conversation, raw: Database, tmp_path: Path) -> Conversation:
    """A second case that the server marks acknowledged with no signed status object."""
    forged = another_case(talk, tmp_path, "Nobody answered.")
    execute(
        raw,
        "UPDATE case_file SET status = 'acknowledged', acknowledged_on = :day WHERE id = :case",
        day=date.today(),
        case=forged.case_id,
    )
    return forged


def test_after_a_recusal_and_a_re_key_the_reporter_reads_every_epoch_and_answers_in_the_new(
    conversation: Conversation, chromium: Chromium
) -> None:
    talk = conversation
    talk.reply("Asked before the recusal.")
    talk.login("carol")
    cases_command(talk, "recuse", talk.case_id, member="carol")
    cases_command(talk, "rekey", talk.case_id)
    talk.reply("Asked after the re-key.")

    page = chromium.page()
    open_case(page, talk.server, talk.code)
    expect(page.locator("#thread-problems")).to_be_hidden()
    assert [e["kind"] for e in entries(page)] == ["report", "message", "epoch", "message"]
    assert all(e["verified"] for e in entries(page))
    assert messages(page) == ["Asked before the recusal.", "Asked after the re-key."]
    answer(page, "Answered in the new epoch.")
    page.close()

    shown = talk.show()
    assert texts(shown)[-1] == "Answered in the new epoch."
    assert shown["problems"] == []
    (last,) = [o for o in shown["objects"] if o["seq"] == 4]  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    assert last["epoch"] == 1
    assert last["verified"]


def test_a_reply_while_the_case_waits_to_be_re_keyed_is_refused_with_the_catalogue_s_sentence(
    conversation: Conversation, chromium: Chromium
) -> None:
    """A recusal holds the case on the server only (no key was retired, so the page cannot
    see it): the server answers 409 and the page says why, keeping the answer for later."""
    talk = conversation
    talk.reply("Asked before the recusal.")
    page = chromium.page()
    open_case(page, talk.server, talk.code)
    talk.login("carol")
    cases_command(talk, "recuse", talk.case_id, member="carol")
    written = "Written while the case is held."

    page.fill("#reply-text", written)
    page.click("#reply-button")
    expect(page.locator("#reply-error")).to_have_text(
        t(
            "Your answer was not sent: the committee is renewing the keys of your case. "
            "Please try again later; your answer is still below."
        )
    )
    expect(page.locator("#reply-text")).to_have_value(written)
    cases_command(talk, "rekey", talk.case_id)
    page.click("#reply-button")
    expect(page.locator("#reply-error")).to_have_text(
        t(
            "New messages arrived while you were writing; please read them. Your answer is "
            "still below: press the button again when you are ready."
        )
    )
    assert [e["kind"] for e in entries(page)] == ["report", "message", "epoch"]
    page.click("#reply-button")
    expect(page.locator("#sent-note")).to_have_text(t("Your answer was encrypted and sent."))
    page.close()

    shown = talk.show()
    assert texts(shown) == ["Asked before the recusal.", written]
    assert shown["problems"] == []


def test_unicode_round_trips_exactly_and_an_empty_answer_is_refused_with_a_sentence(
    conversation: Conversation, chromium: Chromium
) -> None:
    words = "שלום עולם — مرحبا 👋🏽 naïve ﷺ \u200f end\nsecond line"
    conversation.reply(words)
    page = chromium.page()
    open_case(page, conversation.server, conversation.code)
    assert messages(page) == [words]
    assert page.locator(".entry-text").nth(1).get_attribute("dir") == "auto"

    conversation.server.proxy.clear()
    page.fill("#reply-text", "  \n\t ")
    page.click("#reply-button")
    expect(page.locator("#err-reply-text")).to_have_text(
        t("Please write your answer before sending; an empty message cannot be sent.")
    )
    assert page.evaluate("document.activeElement.id") == "reply-text"
    assert conversation.server.proxy.requests() == []

    answer(page, f"Back: {words}")
    page.close()
    assert texts(conversation.show()) == [words, f"Back: {words}"]


def test_a_typo_in_the_code_is_caught_before_anything_is_sent_and_a_wrong_code_opens_nothing(
    server: ServerProcess, chromium: Chromium
) -> None:
    from safevoice.crypto.code import generate_code

    good = generate_code(1)
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    page = chromium.page()
    page.goto(f"{server.url}/follow-up")
    expect(page.locator("#pin-line")).to_be_visible()
    code_input = page.locator("#code")
    assert code_input.get_attribute("type") == "text"
    for attribute, value in (("autocomplete", "off"), ("spellcheck", "false")):
        assert code_input.get_attribute(attribute) == value
    server.proxy.clear()

    for typed, message in (
        (
            typo,
            "The code has a typo. Please compare it with what you wrote down, character by "
            "character. Nothing was sent.",
        ),
        (
            good[:-3],
            "A follow-up code has 25 characters, in five groups of five. Please check what "
            "you typed.",
        ),
        (
            good.replace(good[3], "!", 1),
            "The code contains a character that follow-up codes never use: only digits and "
            "letters, without I, L, O and U.",
        ),
    ):
        page.fill("#code", typed)
        page.click("#login-button")
        expect(page.locator("#err-code")).to_have_text(t(message))
        expect(code_input).to_have_attribute("aria-invalid", "true")
    assert server.proxy.requests() == []

    page.fill("#code", good.lower().replace("-", " "))
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text(
        t(
            "No case opens with this code. Check it character by character; if it is right, "
            "the case may have been closed and deleted."
        )
    )
    expect(page.locator("#thread-panel")).to_be_hidden()
    posted = [r for r in server.proxy.requests() if r.method == "POST"]
    assert [r.target for r in posted] == ["/api/v1/reporter/login"]
    assert good.encode() not in posted[0].raw
    assert good.replace("-", "").encode() not in posted[0].raw
    nothing_kept(page)
    page.close()


def cli_conversation(cli: Cli, server: ServerProcess, world: World, tmp_path: Path) -> Conversation:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(cli, server, world, "The scales are rigged.", answers=answers)
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    talk.login()
    return talk


def test_with_javascript_off_the_server_sealed_follow_up_reads_and_answers_where_enabled(
    nojs_server: ServerProcess,
    world: World,
    scriptless_browser: Browser,
    cli: Cli,
    tmp_path: Path,
) -> None:
    question, answered = new_canary("QUESTION"), new_canary("ANSWER")
    talk = cli_conversation(cli, nojs_server, world, tmp_path)
    talk.reply(f"Which scales? {question}")

    page = scriptless_browser.new_page()
    page.goto(f"{nojs_server.url}/follow-up")
    expect(page.locator("#noscript-heading")).to_have_text(
        t("JavaScript is off: the server will open your case")
    )
    expect(page.locator("#login-form")).to_be_hidden()
    page.fill("#sealed-code", talk.code)
    page.click("#sealed-open")
    expect(page.locator("h1")).to_have_text(t("Your case"))
    expect(page.locator(".thread")).to_contain_text(f"Which scales? {question}")
    page.fill("#sealed-code", talk.code)
    page.fill("#sealed-reply", f"Bay 3. {answered}")
    page.click("#sealed-open")
    expect(page.get_by_text(t("Your answer was encrypted and sent."))).to_be_visible()
    page.close()

    shown = talk.show()
    assert texts(shown) == [f"Which scales? {question}", f"Bay 3. {answered}"]
    listed = talk.member("cases", "show", talk.case_id)
    assert "sealed by the server" in listed.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert scan_paths(data_paths(nojs_server.database_url), answered) == []
    assert not occurrences(nojs_server.log_path.read_bytes(), answered)
    assert not occurrences(nojs_server.log_path.read_bytes(), talk.code)


def test_with_the_form_off_a_browser_without_javascript_is_told_how_to_follow_up_instead(
    server: ServerProcess, scriptless_browser: Browser
) -> None:
    page = scriptless_browser.new_page()
    page.goto(f"{server.url}/follow-up")
    expect(page.locator("#noscript-heading")).to_have_text(
        t("This page needs JavaScript to open your case safely")
    )
    expect(page.locator("#code")).to_be_hidden()
    assert page.locator("#sealed-code").count() == 0
    page.close()


def test_without_webassembly_the_follow_up_page_explains_and_offers_the_sealed_form_if_enabled(
    server: ServerProcess,
    nojs_server: ServerProcess,
    jitless_browser: Browser,
    world: World,
    cli: Cli,
    tmp_path: Path,
) -> None:
    page = jitless_browser.new_page()
    page.goto(f"{server.url}/follow-up")
    expect(page.locator("#no-wasm")).to_contain_text(
        t("Use the SafeVoice command-line client on your own computer.")
    )
    expect(page.locator("#no-wasm-sealed")).to_be_hidden()
    expect(page.locator("#login-form")).to_be_hidden()

    talk = cli_conversation(cli, nojs_server, world, tmp_path)
    talk.reply("Are you still there?")
    page.goto(f"{nojs_server.url}/follow-up")
    expect(page.locator("#no-wasm-sealed")).to_be_visible()
    page.click("#use-sealed")
    expect(page.locator("#sealed-chosen")).to_be_visible()
    page.fill("#code", talk.code)
    page.click("#login-button")
    expect(page.locator(".thread")).to_contain_text("Are you still there?")
    page.close()


def test_a_status_and_day_of_receipt_the_server_forged_are_not_shown_as_true(
    conversation: Conversation, raw: Database, chromium: Chromium
) -> None:
    talk = conversation
    cases_command(talk, "status", talk.case_id, "acknowledged")
    received = str(talk.show()["case"]["received_on"])  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    execute(
        raw,
        "UPDATE case_file SET status = 'closed', outcome = 'not_substantiated', "
        "closed_on = CURRENT_DATE, received_on = '2020-01-01' WHERE id = :case",
        case=talk.case_id,
    )

    page = chromium.page()
    open_case(page, talk.server, talk.code)

    shown = facts(page)
    assert shown[t("Status")] == t("Acknowledged")
    assert shown[t("Received on")] == t.day(received)
    assert t("Closed on") not in shown
    assert t(
        "The server shows your case with another status than the last one a committee member "
        "signed. The status shown here is the signed one."
    ) in problems_shown(page)
    assert t(
        "The server shows another day of receipt than the one the committee signed (the one on "
        "your receipt). The day shown here is the signed one; deadlines the server computed "
        "from its own day may be wrong."
    ) in problems_shown(page)
    expect(page.locator("#reply-blocked")).to_be_visible()
    page.close()
