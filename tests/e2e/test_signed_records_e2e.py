"""What the clients show about a case is what the committee signed (issue 14, items 6 and 14).

The database is edited behind the server's back, as a malicious operator would: a status, an
outcome, an acknowledgement, the day of receipt or the intake mode forged in the clear
metadata, and the committee's internal records (notes, triage, actions, closure) deleted. The
member's `safevoice cases show` and the reporter's `safevoice-report follow-up` show only what
is signed, warn and exit 2; a member who never saw the deleted records notices too, through the
committee head that later status objects sign.
"""

from __future__ import annotations

import json
from pathlib import Path

from safevoice.i18n import Catalogue
from safevoice.storage.db import Database
from tests.conftest import Cli
from tests.e2e.test_dialogue_e2e import execute
from tests.e2e.test_intake_e2e import submit_with_cli
from tests.e2e.test_workflow_e2e import add_action as plan_action
from tests.e2e.test_workflow_e2e import cases_cmd, status
from tests.support.conversation import Conversation
from tests.support.server import ServerProcess
from tests.support.world import World

ENGLISH = Catalogue.load("en")


def problems_of(shown: dict[str, object]) -> list[str]:
    problems = shown["problems"]
    warnings = shown.get("warnings", [])
    assert isinstance(problems, list)
    assert isinstance(warnings, list)
    return [str(p) for p in problems + warnings]


def note(talk: Conversation, text_: str, *, triage: bool = False) -> None:
    extra = ["--triage", "--risk", "high"] if triage else []
    cases_cmd(talk, "note", talk.case_id, *extra, "--text-file", "-", stdin=text_)


def test_a_case_closed_in_the_database_is_not_shown_closed_by_either_client(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    execute(
        raw,
        "UPDATE case_file SET status = 'closed', outcome = 'not_substantiated', "
        "closed_on = CURRENT_DATE WHERE id = :case",
        case=talk.case_id,
    )

    member = talk.show(expect=2)
    reporter = talk.follow_up(expect=2)
    printed = talk.member("cases", "show", talk.case_id, expect=2)

    assert member["signed"]["status"] == "acknowledged"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert member["signed"]["outcome"] is None  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert any(
        "server says the case is closed" in p and "signed is acknowledged" in p
        for p in problems_of(member)
    )
    assert reporter["signed"]["status"] == "acknowledged"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert any("server says the case is closed" in p for p in problems_of(reporter))
    out = printed.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert "signed status acknowledged" in out
    assert "not_substantiated" not in out.split("Warning")[0]


def test_a_forged_outcome_of_a_signed_closure_is_flagged(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    status(talk, "closed", "--outcome", "substantiated")
    assert talk.show()["signed"]["outcome"] == "substantiated"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    execute(
        raw,
        "UPDATE case_file SET outcome = 'not_substantiated' WHERE id = :case",
        case=talk.case_id,
    )

    member = talk.show(expect=2)

    assert member["signed"]["outcome"] == "substantiated"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert any("outcome is not_substantiated" in p for p in problems_of(member))


def test_a_forged_acknowledgement_is_refused_by_the_members_client(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    execute(
        raw,
        "UPDATE case_file SET status = 'acknowledged', acknowledged_on = CURRENT_DATE "
        "WHERE id = :case",
        case=talk.case_id,
    )

    member = talk.show(expect=2)
    listed = json.loads(talk.member("cases", "list", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    refused = status(talk, "investigating", expect=1)

    assert member["signed"]["status"] == "received"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert any("no committee member signed" in p for p in problems_of(member))
    assert next(c for c in listed if c["id"] == talk.case_id)["status_verified"] is False
    assert "does not verify" in refused.stderr + refused.stdout  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object


def test_the_day_of_receipt_and_the_intake_mode_are_signed_with_the_acknowledgement(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    honest = talk.show()
    received = honest["case"]["received_on"]  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert honest["signed"]["received_on"] == received  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert honest["signed"]["intake_mode"] == "e2e"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape

    execute(
        raw,
        "UPDATE case_file SET received_on = '2020-01-01', intake_mode = 'server_sealed' "
        "WHERE id = :case",
        case=talk.case_id,
    )

    member = problems_of(talk.show(expect=2))
    reporter = talk.follow_up(expect=2)

    assert any(f"received on 2020-01-01, but the committee signed {received}" in p for p in member)
    assert any("intake mode is server_sealed, but the committee signed e2e" in p for p in member)
    assert any("received on 2020-01-01" in p for p in problems_of(reporter))
    assert reporter["signed"]["received_on"] == received  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape


def test_a_feedback_deadline_moved_in_the_database_is_flagged_and_the_signed_one_shown(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    promised = talk.show()["case"]["feedback_due_on"]  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    execute(
        raw,
        "UPDATE case_file SET feedback_due_on = '2099-12-31' WHERE id = :case",
        case=talk.case_id,
    )

    member = talk.show(expect=2)
    reporter = talk.follow_up(expect=2)
    printed = talk.cli.report(
        "follow-up",
        "--server",
        talk.server.url,
        "--pin",
        talk.world.pin,
        stdin=talk.code + "\n",
        expect=2,
    )

    assert member["signed"]["feedback_due"] == promised  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    assert any(
        f"feedback is due by 2099-12-31, but the committee signed {promised}" in p
        for p in problems_of(member)
    )
    assert any("feedback is due by 2099-12-31" in p for p in problems_of(reporter))
    # The reporter's terminal writes days the way the reporter's language writes them.
    assert f"feedback due by {ENGLISH.day(promised)}" in printed.stdout


def test_deleted_committee_records_are_noticed_by_the_member_who_saw_them(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    note(talk, "Credible, specific, ongoing.", triage=True)
    note(talk, "Spoke to the depot manager.")
    talk.show()
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'committee' AND seq = 1",
        case=talk.case_id,
    )

    shown = talk.show(expect=2)
    again = talk.show(expect=2)

    assert shown["problems"] == []
    assert any("fewer internal records" in w for w in shown["warnings"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape
    # The client kept what it saw: the warning does not go away on the next look.
    assert any("fewer internal records" in w for w in again["warnings"])  # type: ignore[attr-defined]  # the parsed --json output is typed as object values; the test reads its known shape


def test_deleted_committee_records_are_noticed_by_a_member_who_never_saw_them(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    note(talk, "Credible, specific, ongoing.", triage=True)
    note(talk, "Spoke to the depot manager.")
    status(talk, "investigating")
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'committee'",
        case=talk.case_id,
    )
    talk.login("bob")

    shown = talk.show(expect=2, member="bob")

    assert any(
        "committee's internal record differs from the one signed" in p for p in problems_of(shown)
    )


def test_a_deleted_closure_record_is_noticed(
    conversation: Conversation, raw: Database, tmp_path: Path
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    lessons = tmp_path / "lessons.txt"
    lessons.write_text("Calibrate quarterly.")
    status(talk, "closed", "--outcome", "substantiated", "--lessons-file", str(lessons))
    execute(
        raw,
        "DELETE FROM case_object WHERE case_id = :case AND chain = 'committee' "
        "AND kind = 'closure'",
        case=talk.case_id,
    )
    talk.login("bob")

    shown = talk.show(expect=2, member="bob")

    assert any("closure record signed with thread message" in p for p in problems_of(shown))


def test_an_honest_workflow_shows_no_warning_and_lists_the_signed_status(
    conversation: Conversation,
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    note(talk, "Credible.", triage=True)
    status(talk, "investigating")
    talk.login("bob")

    alice = talk.show()
    bob = talk.show(member="bob")
    reporter = talk.follow_up()
    listed = talk.member("cases", "list", "--json")

    for shown in (alice, bob, reporter):
        assert problems_of(shown) == []
        assert shown["signed"]["status"] == "investigating"  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    case = next(c for c in json.loads(listed.stdout) if c["id"] == talk.case_id)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    assert case["status"] == "investigating"
    assert case["status_verified"] is True


def follow_up_with_receipt(
    talk: Conversation, receipt: Path, *, expect: int
) -> tuple[dict[str, object], str]:
    args = ["follow-up", "--server", talk.server.url, "--pin", talk.world.pin]
    result = talk.cli.report(
        *args, "--receipt", str(receipt), "--json", stdin=talk.code + "\n", expect=expect
    )
    printed = talk.cli.report(
        *args, "--receipt", str(receipt), stdin=talk.code + "\n", expect=expect
    )
    return dict(json.loads(result.stdout)), printed.stdout


def test_the_reporters_receipt_authenticates_the_day_of_receipt_before_any_acknowledgement(
    cli: Cli, server: ServerProcess, world: World, raw: Database, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Depot"}))
    submitted = submit_with_cli(cli, server, world, "The scales are rigged.", answers=answers)
    talk = Conversation(cli, server, world, submitted["case_id"], submitted["code"])
    kept = tmp_path / "receipt.json"
    kept.write_text(json.dumps(submitted))  # the whole `submit --json` answer, as saved
    day = submitted["received_on"]

    honest, printed = follow_up_with_receipt(talk, kept, expect=0)
    assert problems_of(honest) == []
    assert f"received on {ENGLISH.day(day)} (as your receipt says)" in printed

    execute(
        raw,
        "UPDATE case_file SET received_on = '2020-01-01', ack_due_on = '2020-01-08' "
        "WHERE id = :case",
        case=talk.case_id,
    )
    forged, printed = follow_up_with_receipt(talk, kept, expect=2)

    assert any(
        f"received on 2020-01-01, but your receipt says {day}" in p for p in problems_of(forged)
    )
    assert f"received on {ENGLISH.day(day)} (as your receipt says)" in printed


def test_a_receipt_the_server_did_not_sign_or_for_another_case_is_refused(
    conversation: Conversation, cli: Cli, server: ServerProcess, world: World, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"where": "Office"}))
    other = submit_with_cli(cli, server, world, "Another report.", answers=answers)
    forged = dict(other["receipt"])  # type: ignore[arg-type]  # the parsed --json output is typed as object values; the receipt is a dict
    forged["case_id"] = conversation.case_id
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(forged))
    elsewhere = tmp_path / "other.json"
    elsewhere.write_text(json.dumps(other["receipt"]))
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2")

    not_signed, _ = follow_up_with_receipt(conversation, unsigned, expect=2)
    another, _ = follow_up_with_receipt(conversation, elsewhere, expect=2)
    refused = cli.report(
        "follow-up",
        "--server",
        server.url,
        "--pin",
        world.pin,
        "--receipt",
        str(junk),
        stdin=conversation.code + "\n",
        expect=1,
    )

    assert any("not signed by an instance key" in p for p in problems_of(not_signed))
    assert any("for another report" in p for p in problems_of(another))
    assert "does not hold a SafeVoice receipt" in refused.stderr
    assert "Traceback" not in refused.stderr


def add_action(talk: Conversation, owner: str = "bob", due: str = "2099-01-31") -> str:
    plan_action(talk, owner=owner, due=due)
    listed = json.loads(talk.member("actions", "list", "--json").stdout)  # type: ignore[attr-defined]  # the CLI helper returns its finished process typed as object
    return str(next(a["id"] for a in listed if a["case_id"] == talk.case_id))


def test_corrective_actions_deleted_or_changed_in_the_database_are_named(
    conversation: Conversation, raw: Database
) -> None:
    talk = conversation
    status(talk, "acknowledged")
    kept = add_action(talk)
    assert problems_of(talk.show()) == []
    execute(
        raw,
        "UPDATE corrective_action SET owner = 'carol', due_on = '2099-12-31', state = 'dropped' "
        "WHERE id = :action",
        action=kept,
    )
    changed = problems_of(talk.show(expect=2))

    assert any(
        f"corrective action {kept} owned by carol and due by 2099-12-31, but the committee "
        "signed bob and 2099-01-31" in p
        for p in changed
    )
    assert any(
        f"corrective action {kept} is dropped, but the committee signed it planned" in p
        for p in changed
    )

    execute(raw, "DELETE FROM corrective_action WHERE id = :action", action=kept)
    gone = problems_of(talk.show(expect=2))

    assert any(
        f"corrective action {kept}, signed in the committee's record, is missing" in p for p in gone
    )
