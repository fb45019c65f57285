"""The no-JavaScript forms take anything a browser (or anyone) can post and answer with a page:
a clear 4xx page for what they refuse, never a 5xx, and nothing stored for a refused form.

Hypothesis posts arbitrary fields (known names and others, any text, repeated, huge), arbitrary
bytes and other content types to the report form, the follow-up form and the survey form (of
an open survey and of none). A
short run by default; SAFEVOICE_FUZZ_EXAMPLES raises the number of examples for a long one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safevoice.crypto.manifest import Manifest
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.api.test_login import login
from tests.crypto.test_untrusted_decoders import ANY_TEXT
from tests.support.world import World
from tests.surveys.test_survey_api import bearer, opened, survey_for
from tests.web.test_pages import count_cases, pages

EXAMPLES = settings(
    max_examples=int(os.environ.get("SAFEVOICE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    # One app serves every example: what a refused form leaves behind is what is checked.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NAMES = ["text", "answer.where", "answer.", "exclude", "form_token", "code", "reply", "answer"]
NAMES += ["q0", "q1", "q2", "free_text"]
FORMS = ["/report/general", "/report/%00", "/follow-up", "/survey/" + "A" * 22, "/survey/x"]
OPEN_SURVEY = "/survey/open"  # stands for the survey the fixture opened


def encode(value: str) -> str:
    # A browser sends what it cannot encode as a character reference; lone surrogates go as
    # their UTF-8 bytes would be, i.e. invalid UTF-8 on the wire.
    return quote_from_bytes(value.encode("utf-8", errors="surrogatepass"))


fields = st.lists(
    st.tuples(
        st.sampled_from(NAMES) | ANY_TEXT, ANY_TEXT | st.sampled_from(["", " ", "A" * 70_000])
    ),
    max_size=6,
)
bodies = st.one_of(
    fields.map(lambda pairs: "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs).encode()),
    st.binary(max_size=200),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=x",
        "application/json",
        "text/plain",
        "",
    ]
)


@pytest.fixture
def sealed_web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=True) as http:
        yield http


@pytest.fixture
def open_survey(sealed_web: httpx.Client, manifest: Manifest, world: World) -> str:
    """A survey the committee opened for answers; its form's path."""
    survey, alice = survey_for(manifest), world.members["alice"]
    opened(sealed_web, bearer(login(sealed_web, alice, manifest)), survey, alice)
    return f"/survey/{survey.survey_id}"


@EXAMPLES
@given(st.sampled_from([*FORMS, OPEN_SURVEY]), bodies, content_types)
def test_any_post_to_a_no_javascript_form_gets_a_page_never_a_5xx(
    sealed_web: httpx.Client,
    open_survey: str,
    database_url: str,
    form: str,
    body: bytes,
    content_type: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    form = open_survey if form == OPEN_SURVEY else form
    response = sealed_web.post(form, content=body, headers=headers)

    assert response.status_code < 500, (form, body[:200], response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    if response.status_code >= 400:
        assert "<h1" in response.text
        # Nothing without a valid one-time token can be stored; random tokens are never valid.
        assert count_cases(database_url) == 0
