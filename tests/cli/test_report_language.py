"""The reporter CLI speaks the reporter's language, chosen as gettext chooses it (LANGUAGE,
LC_ALL, LC_MESSAGES, LANG), from the same catalogues as the reporter pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safevoice.i18n import Catalogue, from_environment
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from tests.conftest import Cli
from tests.support.surveys import open_survey
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


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_german_and_an_arabic_reporter_meet_no_english_sentence(
    cli: Cli, url: str, world: World, tmp_path: Path
) -> None:
    de, ar = Catalogue.load("de"), Catalogue.load("ar")
    german, arabic = {"LANG": "de_DE.UTF-8"}, {"LANG": "ar_EG.UTF-8"}
    server = ["--server", url, "--pin", world.pin]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))

    wrong = cli.report(
        "submit",
        *server,
        "--channel",
        "canteen",
        "--text-file",
        "-",
        stdin="x",
        env=german,
        expect=1,
    )
    said = _flat(wrong.output)
    assert (
        de(
            "There is no channel %(channel)s; choose one of: %(channels)s.",
            channel="'canteen'",
            channels="general, safety",
        )
        in said
    )
    assert "There is no channel" not in said
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    general = [*server, "--channel", "general", "--text-file", "-"]
    broken = cli.report(
        "submit", *general, "--answers-file", str(not_json), stdin="x", env=german, expect=1
    )
    assert de("%(path)s is not valid JSON.", path=not_json) in _flat(broken.output)
    assert "is not valid JSON" not in broken.output

    submitted = json.loads(
        cli.report(
            "submit",
            *general,
            "--answers-file",
            str(answers),
            "--json",
            stdin="The brakes were disabled.",
            env=german,
        ).stdout
    )
    member = Cli(tmp_path / "member")
    member.safevoice(
        "login", "--server", url, "--key", str(world.key_file("alice")), "--pin", world.pin
    )
    member.safevoice(
        "cases", "reply", submitted["case_id"], "--text-file", "-", stdin="Which depot, please?"
    )
    member.safevoice("cases", "status", submitted["case_id"], "acknowledged")

    read = cli.report("follow-up", *server, stdin=f"{submitted['code']}\n", env=arabic)
    shown = _flat(read.output)
    day = ar.day(submitted["received_on"])
    assert (
        ar(
            "Your report, received on %(day)s · status: %(status)s",
            day=day,
            status=ar("Acknowledged"),
        )
        in shown
    )
    for heading in ("Your report", "Message", "from you", "signature verified"):
        assert ar(heading) in shown
    assert ar("Status: %(status)s", status=ar("Acknowledged")) in shown
    assert "Which depot, please?" in shown  # what people wrote is shown as they wrote it
    assert submitted["received_on"] not in shown  # days in the reporter's way, not ISO
    for english in (
        "received on",
        "status:",
        "signature verified",
        "from the reporter",
        "(committee)",
        "acknowledged",
        "feedback due",
        "Message",
        "Warning",
    ):
        assert english not in shown

    no_survey = cli.report(
        "survey", *server, "--answers-file", "-", stdin="{}", env=german, expect=1
    )
    assert de("No survey is open for answers.") in _flat(no_survey.output)
    assert "No survey is open" not in no_survey.output


def _mistyped_code(cli: Cli, url: str, world: World, env: dict[str, str]) -> Any:
    return cli.report(
        "follow-up", "--server", url, "--pin", world.pin, stdin="ABCD\n", env=env, expect=1
    )


def test_errors_a_reporter_meets_are_told_in_their_language(
    cli: Cli, url: str, world: World
) -> None:
    de, ar = Catalogue.load("de"), Catalogue.load("ar")
    typo = _mistyped_code(cli, url, world, {"LANG": "de_DE.UTF-8"})
    said = _flat(typo.output)
    assert said.startswith(de("Error:"))
    assert "Zugangscode" in said
    assert "follow-up code" not in said
    assert "Error" not in said

    # Nothing listens on port 9 (discard) here: the server cannot be reached.
    away = cli.report(
        "survey",
        "--server",
        "http://127.0.0.1:9",
        "--pin",
        world.pin,
        "--answers-file",
        "-",
        stdin="{}",
        env={"LC_ALL": "ar_EG.UTF-8"},
        expect=1,
    )
    shown = _flat(away.output)
    assert ar("Error:") in shown
    assert (
        ar(
            "The server cannot be reached, so nothing may have been sent. Check the address (and "
            "the proxy, if you use one), then try again."
        )
        in shown
    )
    assert "Cannot reach" not in shown
    assert "server" not in shown

    english = _mistyped_code(cli, url, world, {"LANG": "C.UTF-8"})
    assert "A follow-up code has" in english.output  # English keeps the detailed sentence


def test_the_help_speaks_the_reporter_s_language(cli: Cli) -> None:
    de = Catalogue.load("de")
    shown = _flat(cli.report("submit", "--help", env={"LANG": "de_DE.UTF-8"}).output)
    assert de("Show this message and exit.") in shown
    assert de("The channel to report in.") in shown
    assert "Encrypt and submit a report" not in shown
    assert "The channel to report in." not in shown
    english = _flat(cli.report("submit", "--help", env={"LANG": "C"}).output)
    assert "The channel to report in." in english


def test_a_refused_survey_answer_is_explained_in_the_reporter_s_language(
    cli: Cli, url: str, world: World, tmp_path: Path
) -> None:
    member = Cli(tmp_path / "member")
    member.safevoice(
        "login", "--server", url, "--key", str(world.key_file("alice")), "--pin", world.pin
    )
    open_survey(member, folder=tmp_path)

    pl = Catalogue.load("pl")
    refused = cli.report(
        "survey",
        "--server",
        url,
        "--pin",
        world.pin,
        "--answers-file",
        "-",
        stdin=json.dumps({"scores": [7]}),
        env={"LANG": "pl_PL.UTF-8"},
        expect=1,
    )
    said = _flat(refused.output)
    assert (
        pl(
            "Your answer cannot be accepted: %(reason)s",
            reason=pl("Each score is a whole number from 1 to 5."),
        )
        in said
    )
    assert "whole number" not in said
