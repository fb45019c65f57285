"""The survey page in real Chromium: an answer is encrypted in the browser and reaches only the
committee; a forged survey is never shown; without WebAssembly or JavaScript the page explains
the choices and, where the operator enabled it, takes the answer through the server-sealed form.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Browser, expect

from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.survey import (
    Answer,
)
from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from safevoice.surveys.models import Survey as SurveyRow
from tests.support.canary import new_canary, occurrences
from tests.support.server import ServerProcess
from tests.support.surveys import Committee, choose
from tests.web.conftest import Chromium

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
t = Catalogue.load()


def test_an_answer_typed_in_the_page_is_encrypted_there_and_only_the_committee_reads_it(
    server: ServerProcess, chromium: Chromium, committee: Committee
) -> None:
    survey = committee.open_survey()
    canary = new_canary()
    server.proxy.clear()
    page = chromium.page()
    page.goto(f"{server.url}/survey/{survey.survey_id}")
    page.wait_for_selector("#survey-form:not([hidden])")
    choose(page, "", (4, 2))
    page.fill("#free-text", canary)
    page.click("#submit-button")
    page.wait_for_selector("#thanks-heading:not([hidden])")
    page.close()

    assert committee.answers(survey) == [Answer(scores=(4, 2), free_text=canary)]
    sent = [r for r in server.proxy.requests() if r.method == "POST"]
    assert [r.target for r in sent] == [f"/api/v1/surveys/{survey.survey_id}/answers"]
    for request in server.proxy.requests():
        assert occurrences(request.raw, canary) == []
        assert b"cookie" not in request.raw.lower()


def test_a_survey_whose_text_the_server_changed_is_refused_by_the_page(
    server: ServerProcess, chromium: Chromium, committee: Committee
) -> None:
    survey = committee.open_survey()
    database = Database.connect(server.database_url, pool_size=1)
    try:
        with database.unit_of_work() as session:
            row = session.get(SurveyRow, survey.survey_id)
            assert row is not None
            document = json.loads(row.document)
            payload = b64d(document["payload"]).replace(b"without fear", b"with some fear")
            document["payload"] = b64e(payload)
            row.document = json.dumps(document)
    finally:
        database.dispose()

    page = chromium.page()
    page.goto(f"{server.url}/survey/{survey.survey_id}")
    expect(page.locator("#refused-reason")).to_have_text(
        t(
            "This survey is not signed by a member of your committee, so it is not shown. "
            "Do not answer it here."
        )
    )
    assert page.locator("#survey-form").is_hidden()
    page.close()


def test_without_webassembly_the_page_explains_and_offers_the_server_sealed_form_if_enabled(
    server: ServerProcess,
    nojs_server: ServerProcess,
    jitless_browser: Browser,
    committee: Committee,
    nojs_committee: Committee,
) -> None:
    off = committee.open_survey()
    page = jitless_browser.new_page()
    page.goto(f"{server.url}/survey/{off.survey_id}")
    expect(page.locator("#no-wasm-heading")).to_be_visible()
    assert page.locator("#use-sealed").is_hidden()
    page.close()

    survey = nojs_committee.open_survey()
    page = jitless_browser.new_page()
    page.goto(f"{nojs_server.url}/survey/{survey.survey_id}")
    page.click("#use-sealed")
    expect(page.locator("#sealed-chosen")).to_be_visible()
    choose(page, "", (5, 3))
    page.fill("#free-text", "Thanks for asking.")
    page.click("#submit-button")
    expect(page.locator("h1")).to_have_text(t("Thank you"))
    page.close()
    assert nojs_committee.answers(survey) == [Answer(scores=(5, 3), free_text="Thanks for asking.")]


def test_without_javascript_the_plain_form_is_sealed_by_the_server_only_where_enabled(
    server: ServerProcess,
    nojs_server: ServerProcess,
    scriptless_browser: Browser,
    committee: Committee,
    nojs_committee: Committee,
) -> None:
    off = committee.open_survey()
    page = scriptless_browser.new_page()
    page.goto(f"{server.url}/survey/{off.survey_id}")
    expect(page.locator("#noscript-heading")).to_have_text(
        t("This page needs JavaScript to protect your answer")
    )
    assert page.locator("#sealed-survey-form").count() == 0
    page.close()

    survey = nojs_committee.open_survey(free_text=None)
    page = scriptless_browser.new_page()
    page.goto(f"{nojs_server.url}/survey/{survey.survey_id}")
    choose(page, "sealed-", (2, 2))
    page.click("#sealed-submit")
    expect(page.locator("h1")).to_have_text(t("Thank you"))
    page.close()
    assert nojs_committee.answers(survey) == [Answer(scores=(2, 2))]
