"""The reporter CLI speaks the reporter's language, chosen as gettext chooses it (LANGUAGE,
LC_ALL, LC_MESSAGES, LANG), from the same catalogues as the reporter pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.i18n import Catalogue, from_environment
from tests.conftest import Cli
from tests.support.threaded import serve_app
from tests.support.world import World


def test_the_locale_variables_choose_the_language_in_gettext_s_order() -> None:
    assert from_environment({}).lang == "en"
    assert from_environment({"LANG": "de_DE.UTF-8"}).lang == "de"
    assert from_environment({"LANG": "de_DE.UTF-8", "LC_MESSAGES": "fr_FR"}).lang == "fr"
    assert from_environment({"LC_MESSAGES": "fr_FR", "LC_ALL": "es_ES.UTF-8"}).lang == "es"
    assert from_environment({"LC_ALL": "es_ES", "LANGUAGE": "it:pl:de"}).lang == "pl"
    assert from_environment({"LANGUAGE": "it", "LANG": "ar_EG.UTF-8"}).lang == "ar"
    assert from_environment({"LC_ALL": "C", "LANG": "C.UTF-8"}).lang == "en"
    assert from_environment({"LANG": "sr_RS@latin"}).lang == "en"


@pytest.fixture
def url(database: Database, database_url: str) -> Iterator[str]:
    app = create_app(Settings(database_url=database_url, snapshot_ttl_seconds=0), database=database)
    with serve_app(app) as found:
        yield found


def test_submit_and_follow_up_speak_the_reporter_s_language(
    cli: Cli, url: str, world: World, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    de = Catalogue.load("de")
    submitted = cli.report(
        "submit",
        "--server",
        url,
        "--pin",
        world.pin,
        "--channel",
        "general",
        "--answers-file",
        str(answers),
        "--text-file",
        "-",
        stdin="The brakes were disabled.",
        env={"LANG": "de_DE.UTF-8"},
    )
    said = " ".join(submitted.output.split())
    assert de("Your follow-up code — write it down now, it is shown only once:") in said
    assert de("Receipt (proof of submission; it contains nothing you wrote):") in said
    assert "Your report arrived" not in said
    # The code is printed on its own line after its heading.
    heading = de("Your follow-up code — write it down now, it is shown only once:")
    code = submitted.output.split(heading)[1].split()[0]

    ar = Catalogue.load("ar")
    read = cli.report(
        "follow-up",
        "--server",
        url,
        "--pin",
        world.pin,
        stdin=f"{code}\n",
        env={"LANGUAGE": "ar", "LANG": "de_DE.UTF-8"},
    )
    shown = " ".join(read.output.split())
    assert ar("Deriving your keys from the code on this machine…") in shown
    assert ar("acknowledgement due by %(day)s", day="").strip() in shown
    assert "Your report, received on" not in shown
