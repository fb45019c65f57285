"""The channels' titles, descriptions and questions in the operator's languages: given per
language in the configuration (``[channels.title] en = … de = …``), shown in the reporter's
language, falling back to the instance's default language; ``admin init`` refuses a
configuration that leaves a configured language without a text, naming channel, field and
language."""

from __future__ import annotations

from pathlib import Path

import pytest

from safevoice.errors import ConfigError
from safevoice.intake import service as intake
from safevoice.storage.db import Database
from safevoice.web.bundle import Bundle
from tests.conftest import Cli
from tests.web.test_pages import pages

RETENTION = {"days_after_closure": 60, "max_age_days": 1095, "unused_days": 90}


def channel() -> dict[str, object]:
    return {
        "name": "werk",
        "title": {"de": "Bedenken im Werk", "en": "Concerns at the plant"},
        "description": {
            "de": "Alles, was Ihnen falsch vorkommt.",
            "en": "Anything that seems wrong.",
        },
        "retention": RETENTION,
        "questions": [
            {
                "id": "where",
                "label": {"de": "Wo ist es passiert?", "en": "Where did it happen?"},
                "help": {"de": "Halle oder Abteilung.", "en": "Hall or department."},
                "type": "text",
            },
            {
                "id": "ongoing",
                "label": {"de": "Dauert es noch an?", "en": "Is it still going on?"},
                "type": "choice",
                "options": ["Yes", "No"],
            },
        ],
    }


def seed(database: Database, raw: dict[str, object]) -> None:
    with database.unit_of_work() as session:
        intake.seed_channels(session, [raw], default="de", languages=("de", "en"))


def test_the_reporter_page_shows_the_channel_in_the_chosen_language_else_the_default(
    database: Database, database_url: str, web_bundle: Bundle
) -> None:
    seed(database, channel())
    with pages(database, database_url, web_bundle, nojs=False) as web:
        english = web.get("/report/werk", params={"lang": "en"}).text
        german = web.get("/report/werk", params={"lang": "de"}).text
        # No French texts are configured: the instance's default language, German, is shown.
        french = web.get("/report/werk", params={"lang": "fr"}).text
        landing = web.get("/", params={"lang": "en"}).text
    for text in ("Concerns at the plant", "Anything that seems wrong.", "Where did it happen?"):
        assert text in english
    assert "Hall or department." in english
    assert "Bedenken im Werk" not in english
    assert "Wo ist es passiert?" not in english
    for page in (german, french):
        for text in ("Bedenken im Werk", "Alles, was Ihnen falsch vorkommt.", "Dauert es noch an?"):
            assert text in page
        assert "Concerns at the plant" not in page
        assert "Is it still going on?" not in page
    assert "Concerns at the plant" in landing
    # A page carries its own language's channel texts only.
    assert "translations" not in german


def test_the_api_lists_every_language_s_texts_beside_the_default_ones(
    database: Database,
) -> None:
    seed(database, channel())
    with database.session(write=False) as session:
        (listed,) = [c for c in intake.list_channels(session) if c.name == "werk"]
    assert listed.title == "Bedenken im Werk"
    assert listed.questionnaire[0].label == "Wo ist es passiert?"
    assert set(listed.translations) == {"en"}
    english = listed.in_language("en")
    assert english.title == "Concerns at the plant"
    assert [q.label for q in english.questionnaire] == [
        "Where did it happen?",
        "Is it still going on?",
    ]
    assert english.questionnaire[1].options == ["Yes", "No"]
    assert listed.in_language("pl").title == "Bedenken im Werk"


def _without(path: tuple[object, ...]) -> dict[str, object]:
    raw = channel()
    target: object = raw
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]  # walks the nested configuration the test built
    del target[path[-1]]  # type: ignore[attr-defined]  # the last step is a table of texts
    return raw


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("title", "en"), "the title"),
        (("description", "en"), "the description"),
        (("questions", 0, "label", "en"), "the label of the question 'where'"),
        (("questions", 1, "label", "de"), "the label of the question 'ongoing'"),
        (("questions", 0, "help", "en"), "the help of the question 'where'"),
    ],
)
def test_a_text_missing_in_a_configured_language_is_refused_naming_channel_field_and_language(
    database: Database, path: tuple[object, ...], field: str
) -> None:
    lang = path[-1]
    with pytest.raises(ConfigError) as refused:
        seed(database, _without(path))
    assert f"Channel 'werk': {field} has no text in {lang!r}" in str(refused.value)
    with database.session(write=False) as session:
        assert "werk" not in [c.name for c in intake.list_channels(session)]


def test_a_plain_text_is_the_default_language_s_and_enough_when_it_is_the_only_one(
    database: Database,
) -> None:
    plain: dict[str, object] = {"name": "plain", "title": "Nur Deutsch", "retention": RETENTION}
    with pytest.raises(ConfigError, match="Channel 'plain': the title has no text in 'en'"):
        seed(database, plain)
    stray = {**channel(), "title": {"de": "Werk", "en": "Plant", "fr": "Usine"}}
    with pytest.raises(ConfigError, match="has a text in 'fr', which is not one of the"):
        seed(database, stray)
    with database.unit_of_work() as session:
        intake.seed_channels(session, [plain], default="de")
    with database.session(write=False) as session:
        (listed,) = [c for c in intake.list_channels(session) if c.name == "plain"]
    assert listed.title == "Nur Deutsch"
    assert listed.translations == {}


CONFIG = """
[instance]
language = "en"
languages = ["en", "de"]

[[channels]]
name = "werk"
description = "Anything that seems wrong."
[channels.title]
en = "Concerns at the plant"
{german_title}
[channels.retention]
days_after_closure = 60
max_age_days = 1095
unused_days = 90
"""


def test_admin_init_checks_each_configured_language_has_the_channel_texts(
    cli: Cli, tmp_path: Path
) -> None:
    env = {"SAFEVOICE_DATABASE_URL": f"sqlite:///{tmp_path / 'instance.sqlite'}"}
    key_out = ("--instance-key-out", str(tmp_path / "instance.pub.json"))
    config = tmp_path / "instance.toml"
    config.write_text(CONFIG.format(german_title='de = "Bedenken im Werk"'))
    refused = cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env, expect=1)
    assert "Channel 'werk': the description has no text in 'de'" in refused.stderr
    config.write_text(
        CONFIG.format(german_title='de = "Bedenken im Werk"').replace(
            'description = "Anything that seems wrong."', ""
        )
    )
    cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env)
    config.write_text(
        CONFIG.format(german_title="").replace('description = "Anything that seems wrong."', "")
    )
    missing = cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env, expect=1)
    assert "Channel 'werk': the title has no text in 'de'" in missing.stderr
    unknown = config.read_text().replace('languages = ["en", "de"]', 'languages = ["en", "xx"]')
    config.write_text(unknown)
    refused = cli.safevoice("admin", "init", "--config", str(config), *key_out, env=env, expect=1)
    assert "the language 'xx' is not one SafeVoice ships" in refused.stderr
