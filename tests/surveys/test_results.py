"""Survey results computed on a member's machine: small cells suppressed as the case metrics
are, medians only over five answers or more, the trend against an earlier survey, and free
texts never in the publishable figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from safevoice.client.stats_html import survey_bars, survey_section
from safevoice.client.surveys import tally
from safevoice.crypto.survey import Answer, Survey

FEAR = "I can raise a concern without fear."
ACTED = "Concerns raised are acted on."
SURVEY = Survey(
    instance_id="instance",
    survey_id="A" * 22,
    title="Spring",
    opens_on=date(2027, 3, 1),
    closes_on=date(2027, 3, 14),
    channels=(),
    questions=(FEAR, ACTED),
    free_text="Anything else?",
    author="alice",
)


def answers(*scores: tuple[int | None, int | None], text: str = "") -> list[Answer]:
    return [Answer(scores=s, free_text=text) for s in scores]


def test_a_cell_under_five_is_suppressed_and_cannot_be_recovered_by_subtraction() -> None:
    given = answers(*[(5, 5)] * 12, *[(4, 4)] * 6, (3, 3), (3, None))
    public = tally(SURVEY, given).public
    fear, acted = public["questions"]

    assert public["answers"] == 20
    assert fear["answered"] == 20
    # The largest cell is hidden beside the small ones, so 20 - 6 does not give them away.
    assert fear["counts"] == {"1": "<5", "2": "<5", "3": "<5", "4": 6, "5": "hidden"}
    assert fear["median"] == 5.0
    assert acted["answered"] == 19


def test_a_breakdown_that_would_give_a_small_cell_away_is_hidden_whole() -> None:
    public = tally(SURVEY, answers(*[(5, 4)] * 5, (4, 4), (3, 4))).public
    fear, acted = public["questions"]
    # 5 shown beside a total of 7 would tell the small cells hold 2: nothing is shown.
    assert fear["answered"] == 7
    assert fear["counts"] == dict.fromkeys("12345", "hidden")
    assert acted["counts"] == dict.fromkeys("12345", "hidden")


def test_with_fewer_than_five_answers_nothing_but_less_than_five_is_shown() -> None:
    public = tally(SURVEY, answers((1, 1), (1, 2), (5, 5), (2, None))).public
    assert public["answers"] == "<5"
    for question in public["questions"]:
        assert question["median"] == "<5"
        assert set(question["counts"].values()) == {"<5"}


def test_skipped_questions_are_left_out_of_that_question_only() -> None:
    given = answers(*[(4, None)] * 6)
    public = tally(SURVEY, given).public
    assert public["questions"][0]["answered"] == 6
    assert public["questions"][0]["median"] == 4.0
    assert public["questions"][1]["answered"] == "<5"
    assert public["questions"][1]["median"] == "<5"


def test_the_trend_compares_medians_of_the_same_question_in_the_earlier_survey() -> None:
    earlier = replace(SURVEY, survey_id="B" * 22, questions=(FEAR, "Another question."))
    before = answers(*[(2, 3)] * 6)
    now = answers(*[(4, 4)] * 6)
    public = tally(SURVEY, now, previous=(earlier, before)).public
    fear, acted = public["questions"]
    assert fear["previous_median"] == 2.0
    assert fear["trend"] == 2.0
    assert "trend" not in acted  # not asked in the earlier survey
    small = tally(SURVEY, now, previous=(earlier, before[:3])).public
    assert small["questions"][0]["trend"] == "<5"


def test_free_texts_are_kept_apart_from_the_publishable_figures() -> None:
    canary = "CANARYfreeTextNeverPublished"
    result = tally(SURVEY, answers(*[(3, 3)] * 5, text=canary))
    assert canary not in repr(result.public)
    assert result.free_texts == [canary] * 5


def test_the_metrics_page_charts_each_statement_over_the_surveys_with_its_trend() -> None:
    canary = "CANARYfreeTextNeverCharted"
    earlier = replace(SURVEY, survey_id="B" * 22, title="Winter", closes_on=date(2026, 12, 14))
    before = answers(*[(2, 3)] * 6, text=canary)
    trends = [
        tally(earlier, before).public,
        tally(SURVEY, answers(*[(4, 4)] * 6, (1, None)), previous=(earlier, before)).public,
        tally(replace(SURVEY, survey_id="C" * 22, title="Summer"), answers((5, 5))).public,
    ]

    assert [[(b.label, b.text) for b in bars] for _, bars in survey_bars(trends)] == [
        [("Winter (2026-12)", "2"), ("Spring (2027-03)", "4 (+2)"), ("Summer (2027-03)", "<5")],
        [("Winter (2026-12)", "3"), ("Spring (2027-03)", "4 (+1)"), ("Summer (2027-03)", "<5")],
    ]
    page = survey_section(trends)
    assert page.count("<svg") == 2
    assert page.count('class="bar"') == 4  # a median of one answer is never drawn
    assert "&lt;5 (based on fewer than 5)" in page
    assert canary not in page
    assert "No survey has closed yet." in survey_section([])
