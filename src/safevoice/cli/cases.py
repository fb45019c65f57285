"""``safevoice cases`` and ``safevoice inbox``: the committee's work on cases.

Everything a member writes is encrypted and signed on this machine; everything read is
decrypted and verified here. Before writing, a command reads the case and refuses to go on if
its record does not verify, so nobody builds on a history the server may have altered.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress
from rich.table import Table

from safevoice.cli import render
from safevoice.cli.common import (
    console,
    edit_text,
    err_console,
    fail,
    make_app,
    open_key,
    print_json,
    read_json_file,
    read_secret_text,
    untrusted,
)
from safevoice.cli.session import Context, Server, logged_in
from safevoice.client import cleaning, digest, member
from safevoice.client.files import download
from safevoice.client.member import (
    OUTCOMES,
    STATUSES,
    Closure,
    Opened,
    UntrustworthyCase,
    Upload,
    attachments_of,
)
from safevoice.crypto.casefile import REPORTER, SERVER_SEALED, message_plaintext
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest
from safevoice.errors import SafeVoiceError, VerificationFailed
from safevoice.protocol.reader import (
    ReadCase,
    SignedState,
    action_problems,
    read_case,
    sealed_by_server,
    status_unverified,
)
from safevoice.protocol.wire import CaseDetail, CaseSummary

app = make_app("Read and handle cases (committee members).")
T = TypeVar("T")

INTAKE_MODES = {
    "e2e": "end-to-end encrypted in the reporter's client",
    "server_sealed": "sealed by the server (the plaintext passed through server memory)",
}
KeyOption = Annotated[
    Path | None, typer.Option(envvar="SAFEVOICE_KEY", help="Your private key file.")
]
CaseArgument = Annotated[str, typer.Argument(help="The case id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _flags(case: CaseSummary, seen: dict[str, Any] | None) -> str:
    flags = []
    if status_unverified(case.status, case.outcome, seen):
        # The listing does not decrypt; `cases show` or `cases sync` verifies the signed status.
        flags.append("status unverified")
    if case.ack_overdue:
        flags.append("ack overdue")
    if case.feedback_overdue:
        flags.append("feedback overdue")
    if case.rekey_needed:
        flags.append("re-key needed")
    if case.intake_mode == "server_sealed":
        flags.append("server-sealed")
    return ", ".join(flags)


@app.command("list")
def list_command(
    server: Server = None,
    overdue: Annotated[
        bool, typer.Option(help="Only cases whose acknowledgement or feedback is overdue.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Cases you can read, with their metadata and legal deadlines.

    The listing does not decrypt: a status that differs from the one signed in the case when
    you last verified it (`cases show`, `cases sync`), or that you never verified, is flagged
    "status unverified" (`status_verified` in JSON)."""
    context = logged_in(server)
    with context.api:
        cases = context.api.cases(overdue=overdue)
    if as_json:
        print_json(
            [
                {
                    **c.model_dump(mode="json"),
                    "status_verified": not status_unverified(
                        c.status, c.outcome, context.remembered.heads.get(c.id)
                    ),
                }
                for c in cases
            ]
        )
        return
    if not cases:
        console.print("No overdue cases." if overdue else "No cases.")
        return
    table = Table(
        "case", "channel", "status", "handler", "received", "ack due", "feedback due", "flags"
    )
    for c in cases:
        table.add_row(
            c.id,
            c.channel,
            c.status,
            c.handler or "",
            str(c.received_on),
            str(c.ack_due_on),
            str(c.feedback_due_on),
            _flags(c, context.remembered.heads.get(c.id)),
        )
    console.print(table)


def open_case(context: Context, case_id: str, key: Path | None) -> Opened:
    return member.open_case(context, case_id, context.keys(key))


def open_for_writing(context: Context, case_id: str, key: Path | None) -> Opened:
    try:
        return member.open_for_writing(context, case_id, context.keys(key))
    except UntrustworthyCase as exc:
        render.print_warnings(exc.problems)
        fail("The case's record does not verify, so nothing was written; see the warnings.")


def case_json(opened: Opened) -> dict[str, Any]:
    return {
        "case": opened.detail.case.model_dump(mode="json"),
        **render.read_json(opened.read),
        "warnings": opened.warnings,
    }


def _unsigned(value: object) -> str:
    return f"{value} (the server's word, not signed)"


def print_case(opened: Opened) -> None:
    """The status and outcome shown are the ones a committee member signed; the day of receipt
    and the intake mode too once a signed status attests them (before, they are marked as the
    server's word). Any disagreement with the server's fields is among the warnings."""
    c = opened.detail.case
    signed = opened.read.signed or SignedState()
    console.print(
        f"[bold]Case {c.id}[/] · channel {c.channel} · signed status {signed.status}"
        + (f" ({untrusted(signed.outcome)})" if signed.outcome else "")
        + (f" since {untrusted(signed.changed_on)}" if signed.changed_on else "")
    )
    received = untrusted(signed.received_on) if signed.received_on else _unsigned(c.received_on)
    if sealed_by_server(opened.read) is not None:
        # The reporter's own signed records say the server sealed them: that is shown,
        # whatever the clear metadata or an attestation says (the warnings name any conflict).
        intake = INTAKE_MODES[SERVER_SEALED]
    elif signed.intake_mode:
        intake = untrusted(INTAKE_MODES.get(signed.intake_mode, signed.intake_mode))
    else:
        intake = _unsigned(INTAKE_MODES.get(c.intake_mode, c.intake_mode))
    console.print(
        f"  received {received} · acknowledgement due {c.ack_due_on} · "
        f"feedback due {c.feedback_due_on}"
    )
    console.print(f"  handler: {c.handler or 'nobody yet'} · intake: {intake}")
    render.print_warnings(opened.read.problems + opened.warnings)
    render.print_thread(opened.read, opened.manifest)
    render.print_committee(opened.read, opened.manifest)


@app.command("show")
def show_command(
    case_id: CaseArgument,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decrypt and show a case on this machine, verifying every signature and the chain.

    Exit status 2 means the record does not verify (the output says how).
    """
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        opened = open_case(context, case_id, key)
        # Owners, due days and states of corrective actions are metadata in the clear; the
        # signed action records say what they must be.
        actions = [a for a in context.listed_actions() if a.case_id == case_id]
        opened.warnings.extend(action_problems(opened.read, actions))
    if as_json:
        print_json(case_json(opened))
    else:
        print_case(opened)
    if not opened.trustworthy:
        raise typer.Exit(code=2)


def remember_head(context: Context, case_id: str, chain: str, seq: int, digest: str) -> None:
    context.remember_head(case_id, chain, seq, digest)


@app.command("reply")
def reply_command(
    case_id: CaseArgument,
    text_file: Annotated[
        str | None, typer.Option(help="Read the message from this file, or - for standard input.")
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            help="This message gives the reporter feedback (counts for the "
            "3-month feedback deadline)."
        ),
    ] = False,
    attach: Annotated[
        list[Path] | None,
        typer.Option(help="A file to attach, encrypted on this machine (repeatable)."),
    ] = None,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Write to the reporter: encrypted here, signed with your key, appended to the thread."""
    files = list(attach or [])
    for path in files:
        if not path.is_file():
            fail(f"There is no file {path} to attach.")
    text = read_secret_text(text_file, what="message to the reporter")
    message_plaintext(text)  # refuses an empty message before anything is sent
    context = logged_in(server)
    with context.api, ExitStack() as stack:
        case_id = context.case_id(case_id)
        keys = context.keys(key)
        uploads = [
            Upload(
                name=path.name,
                stream=stack.enter_context(path.open("rb")),
                size=path.stat().st_size,
            )
            for path in files
        ]
        try:
            seq = member.reply(context, case_id, keys, text=text, files=uploads, feedback=feedback)
        except UntrustworthyCase as exc:
            render.print_warnings(exc.problems)
            fail("The case's record does not verify, so nothing was written; see the warnings.")
    console.print(f"Sent as message #{seq} of case {case_id}.")


@app.command("note")
def note_command(
    case_id: CaseArgument,
    text_file: Annotated[
        str | None, typer.Option(help="Read the note from this file, or - for standard input.")
    ] = None,
    triage: Annotated[
        bool, typer.Option(help="Record the triage decision (ISO 37002 8.3) instead of a note.")
    ] = False,
    risk: Annotated[
        str | None,
        typer.Option(
            help="With --triage: the assessed risk of detriment to the reporter "
            "(low, medium or high)."
        ),
    ] = None,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Add an internal note (or the triage record) that only the committee can read."""
    if triage and risk not in ("low", "medium", "high"):
        fail("A triage record needs --risk low, medium or high.")
    if risk is not None and not triage:
        fail("--risk belongs to a triage record (--triage).")
    text = read_secret_text(text_file, what="note")
    if not text.strip():
        fail("The note is empty; please write something.")
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        keys = context.keys(key)
        guarded(partial(member.add_note, context, case_id, keys, text=text, triage_risk=risk))
    console.print(f"Added {'the triage record' if triage else 'a note'} to case {case_id}.")


def guarded(step: Callable[[], T]) -> T:
    """Run a writing step; a case that does not verify is shown with its warnings."""
    try:
        return step()
    except UntrustworthyCase as exc:
        render.print_warnings(exc.problems)
        fail("The case's record does not verify, so nothing was written; see the warnings.")


def _optional_text(path: Path | None) -> str:
    return path.read_text(encoding="utf-8").strip() if path is not None else ""


def publishable_summary(summary: str, *, reviewed: bool, allow_dates: bool) -> str:
    """A lessons-learned summary that passed the dates check and the member's review of the
    checklist, or exit saying what is missing (before anything is sent)."""
    text = summary.strip()
    if not text:
        fail("The summary is empty.")
    found = digest.date_warnings(text)
    if found and not allow_dates:
        fail(
            "The summary may contain dates finer than the quarter: "
            + ", ".join(repr(f) for f in found)
            + ". Remove them, or send with --allow-dates if they are not dates."
        )
    if not reviewed:
        err_console.print("Before a summary is proposed, check that:")
        for line in digest.CHECKLIST:
            err_console.print(f"  • {line}")
        fail("Run again with --reviewed once the summary passes every point.")
    return text


def print_proposed(lesson_id: str) -> None:
    console.print(
        f"Proposed lesson {lesson_id}. Another committee member must approve it with "
        f"`safevoice digest approve {lesson_id}` before it is published."
    )


@app.command("status")
def status_command(
    case_id: CaseArgument,
    status: Annotated[
        str,
        typer.Argument(
            help="acknowledged, investigating, action_planned "
            "or closed (closed → investigating reopens)."
        ),
    ],
    outcome: Annotated[
        str | None,
        typer.Option(
            help="When closing: substantiated, not_substantiated, out_of_scope or no_action_needed."
        ),
    ] = None,
    text_file: Annotated[
        str | None,
        typer.Option(
            help="Your message to the reporter about the change (default: a "
            "standard sentence), or - for standard input."
        ),
    ] = None,
    actions_taken_file: Annotated[
        Path | None, typer.Option(help="When closing: the actions taken (committee only).")
    ] = None,
    lessons_file: Annotated[
        Path | None, typer.Option(help="When closing: lessons learned (committee only).")
    ] = None,
    protection_file: Annotated[
        Path | None,
        typer.Option(help="When closing: how the reporter stays protected (committee only)."),
    ] = None,
    publishable_summary_file: Annotated[
        str | None,
        typer.Option(
            help="When closing: the lessons as they may be published in the digest (no names, "
            "places or dates finer than the quarter), from a file or - for standard input; "
            "proposed at once, published once a second member approves it."
        ),
    ] = None,
    reviewed: Annotated[
        bool,
        typer.Option(
            help="Confirm that you reviewed the publishable summary against the checklist."
        ),
    ] = False,
    allow_dates: Annotated[
        bool,
        typer.Option(help="Propose the summary even though the dates check found something."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Close even though corrective actions are open.")
    ] = False,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Move a case on; the reporter receives the change signed by you."""
    if status not in STATUSES:
        fail(f"The status must be one of: {', '.join(STATUSES)}.")
    closing = status == "closed"
    if closing and outcome not in OUTCOMES:
        fail(f"Closing needs --outcome, one of: {', '.join(OUTCOMES)}.")
    if not closing and outcome is not None:
        fail("--outcome is only for closing a case.")
    if not closing and publishable_summary_file is not None:
        fail("--publishable-summary-file is only for closing a case.")
    if text_file == "-" and publishable_summary_file == "-":
        fail("Only one of --text-file and --publishable-summary-file can read standard input.")
    custom = read_secret_text(text_file, what="message") if text_file is not None else None
    # Checked before the case is closed, so that a refused summary leaves the case as it was.
    summary = (
        publishable_summary(
            read_secret_text(publishable_summary_file, what="publishable summary"),
            reviewed=reviewed,
            allow_dates=allow_dates,
        )
        if publishable_summary_file is not None
        else None
    )
    context = logged_in(server)
    closure = (
        Closure(
            outcome=outcome or "",
            actions_taken=_optional_text(actions_taken_file),
            lessons=_optional_text(lessons_file),
            protection=_optional_text(protection_file),
        )
        if closing
        else None
    )

    def confirm() -> bool:
        if not typer.confirm("The case still has open corrective actions. Close it anyway?"):
            fail("The case was not closed.")
        return True

    with context.api:
        case_id = context.case_id(case_id)
        keys = context.keys(key)
        guarded(
            partial(
                member.change_status,
                context,
                case_id,
                keys,
                status=status,
                text=custom,
                closure=closure,
                confirm_open_actions=yes,
                confirm=confirm,
            )
        )
        console.print(f"Case {case_id} is now {status}" + (f" ({outcome})." if outcome else "."))
        if summary is not None:
            try:
                out = digest.propose(context, keys, case_id, summary)
            except SafeVoiceError as exc:
                fail(
                    f"The case is closed, but its summary was not proposed: {exc.message} "
                    f"Propose it with `safevoice digest propose {case_id}`."
                )
            print_proposed(out.lesson_id)


@app.command("claim")
def claim_command(
    case_id: CaseArgument,
    offer_to: Annotated[
        str | None, typer.Option(help="Offer the case to this member instead of taking it.")
    ] = None,
    server: Server = None,
) -> None:
    """Handle a case yourself (or accept an offer), or offer it to another member."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        context.api.claim(case_id, offer_to=offer_to)
    if offer_to:
        console.print(
            f"Offered case {case_id} to {offer_to}; they accept with "
            f"`safevoice cases claim {case_id}`."
        )
    else:
        console.print(f"You now handle case {case_id}.")


@app.command("disclose")
def disclose_command(
    case_id: CaseArgument,
    consent_message: Annotated[
        int | None,
        typer.Option(
            help="The number of the reporter's message (as `cases show` prints it, #N) in "
            "which they explicitly consent to the disclosure of their identity."
        ),
    ] = None,
    legal_ground: Annotated[
        str | None,
        typer.Option(
            help="Instead of consent: the legal obligation that requires the disclosure (the "
            "provision or order, for the audit log; never the reporter's identity)."
        ),
    ] = None,
    server: Server = None,
    as_json: JsonOption = False,
) -> None:
    """Record the ground for disclosing the reporter's identity, BEFORE disclosing it.

    EU Directive 2019/1937 Art. 16 allows it only with the reporter's explicit consent or
    where the law requires it. The ground becomes an audit entry (without anything the reporter
    wrote); the server checks that a consent message really is the reporter's."""
    if (consent_message is None) == (legal_ground is None):
        fail("Give either --consent-message N or --legal-ground TEXT.")
    body: dict[str, Any] = (
        {"basis": "consent", "consent_message": consent_message}
        if consent_message is not None
        else {"basis": "legal_obligation", "legal_ground": legal_ground}
    )
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        recorded = context.api.record_disclosure_ground(case_id, body)
    if as_json:
        print_json(recorded.model_dump(mode="json"))
        return
    ground = (
        f"the reporter's consent in message #{recorded.consent_message}"
        if recorded.basis == "consent"
        else f"the legal obligation {untrusted(recorded.legal_ground or '')}"
    )
    console.print(
        f"Recorded on {recorded.on} for case {case_id}: the reporter's identity may be "
        f"disclosed on {ground}. The audit log keeps this entry."
    )


def _answers_to_keep(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    answers = read_json_file(path, what="answers to keep")
    if not isinstance(answers, dict) or not all(isinstance(v, str) for v in answers.values()):
        fail(f"{path} must hold a JSON object of question ids and the answers to keep.")
    return {str(k): v for k, v in answers.items()}


@app.command("redact")
def redact_command(
    case_id: CaseArgument,
    number: Annotated[
        int,
        typer.Argument(
            min=0, help="The number of the report (0), message or note, as `cases show` prints it."
        ),
    ],
    committee: Annotated[
        bool, typer.Option(help="The number is a note of the committee's internal record.")
    ] = False,
    text_file: Annotated[
        str | None,
        typer.Option(
            help="Read the text to keep from this file, or - for standard input (without it, "
            "the current text opens in $EDITOR)."
        ),
    ] = None,
    answers_file: Annotated[
        Path | None,
        typer.Option(
            help="For the report (0): a JSON object of question ids and the answers to keep "
            "for them (`cases show --json` prints the report's answers)."
        ),
    ] = None,
    remove_file: Annotated[
        list[int] | None,
        typer.Option(
            "--remove-file",
            min=1,
            help="Also remove this attached file of the report or message, numbered as "
            "`cases files` lists them (repeat for several).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove personal data that is manifestly irrelevant from a report, message or note.

    The text you keep replaces the original for everyone who reads the case (the reporter
    too), encrypted and signed here; the server deletes the original, and the files you
    remove, for good and the audit log records the removal without any content (COMPLIANCE.md
    D9). Readers see "Part of this message was removed by the committee on <day>" and "N
    attached file(s) removed by the committee on <day>"."""
    chain = "committee" if committee else "thread"
    files = remove_file or []
    answers = _answers_to_keep(answers_file)
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        keys = context.keys(key)
        if text_file is not None:
            text = read_secret_text(text_file, what="text to keep")
        else:
            opened = open_for_writing(context, case_id, key)
            current = guarded(partial(member.redactable_text, opened.read, chain=chain, seq=number))
            text = edit_text(current)
            if text == current and answers is None and not files:
                fail("The text was not changed, so nothing was removed.")
        dropping = f" and delete {len(files)} attached file(s)" if files else ""
        if not yes and not typer.confirm(
            f"Replace {chain} #{number} of case {case_id} by the text you kept{dropping}? The "
            "original is deleted for good, for every reader",
            default=False,
            err=True,
        ):
            fail("Nothing was removed.")
        on = guarded(
            partial(
                member.redact,
                context,
                case_id,
                keys,
                chain=chain,
                seq=number,
                text=text,
                answers=answers,
                remove_files=files,
            )
        )
    if as_json:
        print_json(
            {
                "case_id": case_id,
                "chain": chain,
                "seq": number,
                "on": on.isoformat(),
                "files_removed": len(files),
            }
        )
        return
    deleted = f" and {len(files)} attached file(s)" if files else ""
    console.print(
        f"Removed on {on}: {chain} #{number} of case {case_id} now shows the text you kept, "
        f"marked as redacted; the server deleted the original{deleted} and the audit log "
        "records the removal without content."
    )


@app.command("recuse")
def recuse_command(case_id: CaseArgument, server: Server = None) -> None:
    """Declare a conflict of interest: you will hold no key for anything new in this case."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        context.api.recuse(case_id)
    console.print(
        f"You recused from case {case_id}. Another member must now re-key it "
        f"(`safevoice cases rekey {case_id}`); you will not read anything new."
    )


def _signing_keys(context: Context, manifest: Manifest, key: Path | None) -> KeyPair:
    """The logged-in recipient's own key, which must be the one the manifest lists now."""
    return member.signing_keys(context, manifest, context.keys(key))


def _old_keys(context: Context, old_key: Path | None, keys: KeyPair) -> KeyPair | None:
    """The key the cases are still wrapped to, after the committee rotated the caller's key."""
    if old_key is None:
        return None
    old = open_key(old_key)
    if old.public.id != keys.public.id or old.public.kind != keys.public.kind:
        fail(f"{old_key} is not an earlier key of {context.label}.")
    if old.box_secret is None or old.public == keys.public:
        fail(f"{old_key} is not an earlier key: it is the one you logged in with.")
    return old


def _stale(read: ReadCase, manifest: Manifest) -> list[str]:
    """Current recipients the manifest no longer lists (left the committee, or an archive
    recipient that was removed or replaced)."""
    enrolled = manifest.current_keys()
    return sorted(label for label in read.recipients if label != REPORTER and label not in enrolled)


def _read_for_rekey(
    context: Context, detail: CaseDetail, *, manifest: Manifest, keys: KeyPair, old: KeyPair | None
) -> tuple[ReadCase, bool]:
    """Read a case with the current key, or else with the old one; say which one opened it."""
    try:
        return read_case(detail, keys=keys, label=context.label, manifest=manifest), False
    except VerificationFailed:
        if old is None:
            raise
    return read_case(detail, keys=old, label=context.label, manifest=manifest), True


def _rekey_one(
    context: Context, detail: CaseDetail, read: ReadCase, *, manifest: Manifest, keys: KeyPair
) -> int:
    return member.rekey_one(context, detail, read, manifest=manifest, keys=keys)


@app.command("rekey")
def rekey_command(
    case_id: Annotated[str | None, typer.Argument(help="The case id (or use --all).")] = None,
    all_cases: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every case you can read that needs it: held by the server after a recusal or "
            "a key change, or with a recipient no longer in the manifest.",
        ),
    ] = False,
    every: Annotated[
        bool,
        typer.Option(
            "--every",
            help="With --all: re-key every case you can read, whatever the server says (after "
            "a lost or stolen key, when you cannot trust the server's flags).",
        ),
    ] = False,
    old_key: Annotated[
        Path | None,
        typer.Option(
            help="Your previous key file, to which the cases are still wrapped after the "
            "committee rotated your key."
        ),
    ] = None,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new key epoch (after a recusal, a member leaving or a key rotation).

    The new keys go to the recipients the reporter chose who are still in the manifest and have
    not recused, each under the key the manifest lists for them now.
    """
    if (case_id is None) == (not all_cases):
        fail("Give one case id, or --all.")
    if every and not all_cases:
        fail("--every goes with --all.")
    context = logged_in(server)
    if case_id is not None:
        with context.api:
            case_id = context.case_id(case_id)
            manifest = context.manifest()
            keys = _signing_keys(context, manifest, key)
            old = _old_keys(context, old_key, keys)
            detail = context.api.case(case_id)
            read, _ = _read_for_rekey(context, detail, manifest=manifest, keys=keys, old=old)
            try:
                members = _rekey_one(context, detail, read, manifest=manifest, keys=keys)
            finally:
                context.state.save()
        console.print(
            f"Case {case_id} is now in key epoch {detail.case.epoch + 1}, "
            f"readable by {members} committee member(s) and the reporter."
        )
        return
    rekeyed: list[str] = []
    unchanged = 0
    failed: list[dict[str, str]] = []
    with context.api:
        manifest = context.manifest()
        keys = _signing_keys(context, manifest, key)
        old = _old_keys(context, old_key, keys)
        details = list(context.api.export_cases())
        with Progress(console=err_console, transient=as_json) as progress:
            task = progress.add_task("Re-keying cases", total=len(details))
            for detail in details:
                try:
                    read, with_old = _read_for_rekey(
                        context, detail, manifest=manifest, keys=keys, old=old
                    )
                    if not (
                        every or with_old or detail.case.rekey_needed or _stale(read, manifest)
                    ):
                        unchanged += 1
                        continue
                    _rekey_one(context, detail, read, manifest=manifest, keys=keys)
                    rekeyed.append(detail.case.id)
                except SafeVoiceError as exc:
                    failed.append({"id": detail.case.id, "problem": exc.message})
                finally:
                    progress.advance(task)
        context.state.save()
    if as_json:
        print_json({"rekeyed": rekeyed, "unchanged": unchanged, "failed": failed})
    else:
        console.print(
            f"Re-keyed {len(rekeyed)} case(s) to the keys of manifest version "
            f"{manifest.version}; {unchanged} needed nothing."
        )
        for failure in failed:
            console.print(
                f"[red]Case {failure['id']} was not re-keyed:[/] {untrusted(failure['problem'])}"
            )
    if failed:
        raise typer.Exit(code=2)


@app.command("files")
def files_command(
    case_id: CaseArgument,
    server: Server = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a case's attachments (names and sizes are known only after decryption)."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        opened = open_case(context, case_id, key)
    files = attachments_of(opened.read)
    render.print_warnings(opened.read.problems + opened.warnings)
    if as_json:
        print_json(
            [
                {
                    "number": number,
                    "name": f.name,
                    "type": f.type,
                    "size": f.size,
                    "message": f.seq,
                    "id": f.upload_id,
                }
                for number, f in enumerate(files, start=1)
            ]
        )
        return
    if not files:
        console.print("No attachments.")
        return
    table = Table("file", "message", "name", "type", "size")
    for number, f in enumerate(files, start=1):
        table.add_row(
            str(number), f"#{f.seq}", untrusted(f.name), untrusted(f.type), f"{f.size:,} bytes"
        )
    console.print(table)


@app.command("download")
def download_command(
    case_id: CaseArgument,
    out: Annotated[Path, typer.Option(help="Folder to save the files in.")] = Path("."),
    strip_metadata: Annotated[
        bool,
        typer.Option(
            help="Also write a copy of each image and PDF without its metadata (NAME.clean.EXT)."
        ),
    ] = False,
    server: Server = None,
    key: KeyOption = None,
) -> None:
    """Fetch, verify and decrypt a case's attachments on this machine."""
    context = logged_in(server)
    with context.api:
        case_id = context.case_id(case_id)
        opened = open_for_writing(context, case_id, key)
        files = attachments_of(opened.read)
        if not files:
            console.print("No attachments.")
            return
        with Progress(console=err_console, transient=True) as progress:
            for attachment in files:
                task = progress.add_task(
                    f"Decrypting {untrusted(attachment.name)}", total=attachment.size
                )
                saved = download(
                    context.api, attachment, out, progress=partial(progress.advance, task)
                )
                console.print(
                    f"Saved {untrusted(str(saved))} ({attachment.size:,} bytes, verified)."
                )
                if strip_metadata:
                    cleaned = cleaning.strip_metadata(saved)
                    console.print(
                        f"  cleaned copy: {untrusted(str(cleaned))}"
                        if cleaned
                        else "  no metadata cleaner for this type; the copy was not made."
                    )


@app.command("sync")
def sync_command(
    server: Server = None,
    key: KeyOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Fetch and verify every case, not only what changed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fetch, verify and decrypt the cases that changed since the last sync (every case the
    first time, or with --full), and remember their heads.

    Use it to check the record (exit status 2 if any case fetched does not verify, or the
    server no longer lists a case you verified before) and before `inbox`, which then knows
    what you have read. A case that changed is compared with the history you saw before, and
    the server's digest of every case's change marker with the markers kept here, so a case
    dropped or changed without being marked is still reported.
    """
    context = logged_in(server)
    with context.api:
        manifest = context.manifest()
        keys = context.keys(key)
        with Progress(transient=True, console=err_console) as progress:
            task = progress.add_task("Verifying and decrypting cases", total=None)
            try:
                synced = member.sync(
                    context,
                    keys,
                    manifest=manifest,
                    full=full,
                    advance=partial(progress.advance, task),
                )
            finally:
                # What was verified before a failure stays remembered.
                context.state.save()
    failing = [{"id": c.id, "problems": c.problems, "messages": c.messages} for c in synced.failing]
    fetched = len(synced.checked)
    if as_json:
        print_json(
            {"cases": synced.readable, "fetched": fetched, "full": synced.full, "failing": failing}
        )
    else:
        what = "every case" if synced.full else "the cases that changed"
        console.print(
            f"{fetched} case(s) fetched ({what}), verified and decrypted on this machine; "
            f"{synced.readable} case(s) readable."
        )
        for case in synced.failing:
            console.print(f"[red]Case {case.id} does not verify:[/]")
            render.print_warnings(case.problems)
    if failing:
        raise typer.Exit(code=2)


def inbox(server: Server = None, as_json: JsonOption = False) -> None:
    """Cases with messages from the reporter you have not read yet (in `cases show`)."""
    context = logged_in(server)
    with context.api:
        cases = context.api.cases()
    unread = []
    for case in cases:
        seen = context.remembered.heads.get(case.id, {}).get("thread", [-1])[0]
        if case.last_reporter_seq > int(seen):
            unread.append(case)
    if as_json:
        print_json([c.model_dump(mode="json") for c in unread])
        return
    if not unread:
        console.print("No unread messages from reporters.")
        return
    table = Table("case", "channel", "status", "latest from reporter", "flags")
    for c in unread:
        table.add_row(
            c.id,
            c.channel,
            c.status,
            f"#{c.last_reporter_seq}",
            _flags(c, context.remembered.heads.get(c.id)),
        )
    console.print(table)
