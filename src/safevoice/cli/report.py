"""``safevoice-report``: the reporter's own client, for the terminal and for Tor.

Everything happens on the reporter's machine: the manifest is verified against the pinned root
before anything is encrypted, the follow-up code is generated and stretched locally, the report
is encrypted to the committee, the proof of work is solved, and only then is anything sent. The
report text is read from a file, standard input or a prompt, never from an argument. Without
``--state DIR`` nothing is written to disk.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress
from typer.core import TyperCommand, TyperGroup, TyperOption

from safevoice.cli import render
from safevoice.cli.common import (
    SafeVoiceGroup,
    console,
    err_console,
    fail,
    make_app,
    print_json,
    read_secret_text,
    untrusted,
)
from safevoice.client import surveys
from safevoice.client.api import Api
from safevoice.client.files import PendingUpload, UploadJournal, upload_file
from safevoice.client.patience import STORAGE_FULL, TRANSIENT, UNAVAILABLE, GaveUp, Patience
from safevoice.client.pending import PendingReport
from safevoice.client.state import State, normalise
from safevoice.client.trust import verify_for
from safevoice.clock import utcnow
from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, create_case
from safevoice.crypto.code import ReporterKeys, parse_code
from safevoice.crypto.encoding import b64d, b64e
from safevoice.crypto.envelope import Envelope, new_case_id
from safevoice.crypto.keys import format_fingerprint
from safevoice.crypto.login import random_id, sign_login
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.receipt import Receipt
from safevoice.crypto.survey import Answer, Survey, check_answer
from safevoice.errors import (
    BadCode,
    ChallengeRejected,
    Conflict,
    RateLimited,
    SafeVoiceError,
    StorageFull,
    Unauthorized,
    Unavailable,
    Unreachable,
    VerificationFailed,
)
from safevoice.i18n import (
    N_,
    OUTCOME_WORDS,
    SOURCE,
    STATUS_WORDS,
    Catalogue,
    from_environment,
)
from safevoice.protocol import reporter as reporter_steps
from safevoice.protocol.reader import ReadCase, SignedState, read_as_reporter, receipt_problems
from safevoice.protocol.wire import (
    IntakeOut,
    ObjectOut,
    ReporterCaseInfo,
    ReporterCaseView,
    SubmissionOut,
)

T = TypeVar("T")


def t(message: str, **values: object) -> str:
    """A message in the reporter's language (LANGUAGE, LC_ALL, LC_MESSAGES or LANG), from the
    reporter pages' catalogues."""
    return _catalogue()(message, **values)


# Click's own option, named in the reporter's language too.
HELP_OPTION = N_("Show this message and exit.")


def _translate_help(command: TyperCommand | TyperGroup) -> None:
    """The command's help texts (marked with ``N_`` where they are written) in the reporter's
    language, set just before the command line is read, so that --help speaks it."""
    command.help = t(command.help) if command.help else command.help
    for param in command.params:
        if isinstance(param, TyperOption) and param.help:
            param.help = t(param.help)
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None and help_option.help:
        help_option.help = t(help_option.help)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if isinstance(sub, TyperCommand | TyperGroup):
                _translate_help(sub)


class ReporterGroup(SafeVoiceGroup):
    """Failures in the reporter's language."""

    say = staticmethod(t)

    def main(self, *args: Any, **kwargs: Any) -> Any:  # click's own signature, passed on
        _translate_help(self)
        return super().main(*args, **kwargs)

    def explain(self, exc: SafeVoiceError) -> str:
        """English readers get the error's own detailed sentence; others the catalogue's
        sentence for its kind, where the reporter can meet it (else the English one)."""
        if _catalogue().lang == SOURCE or isinstance(exc, GaveUp):
            return exc.message
        for kind, sentence in ERROR_SENTENCES:
            if isinstance(exc, kind):
                return t(sentence)
        return exc.message


# What a reporter is told, in their language, for the errors they can meet (most specific
# first); the English sentences of the errors themselves say the same with more detail.
ERROR_SENTENCES: tuple[tuple[type[SafeVoiceError], str], ...] = (
    (
        BadCode,
        N_(
            "This is not a follow-up code as SafeVoice writes them (five groups of "
            "characters); please compare it character by character."
        ),
    ),
    (
        Unauthorized,
        N_(
            "Login failed: the follow-up code is not right, or the case no longer exists. "
            "Check the code character by character."
        ),
    ),
    (
        Unreachable,
        N_(
            "The server cannot be reached, so nothing may have been sent. Check the address "
            "(and the proxy, if you use one), then try again."
        ),
    ),
    (
        RateLimited,
        N_(
            "The server is receiving too many requests just now; please wait a little and "
            "try again."
        ),
    ),
    (StorageFull, STORAGE_FULL),
    (Unavailable, UNAVAILABLE),
)


app = make_app(
    N_("Report a concern to your organisation's ethics committee, anonymously."),
    group=ReporterGroup,
)


def _catalogue() -> Catalogue:
    return from_environment(os.environ)


def _day(value: object) -> str:
    """A day written the way the reporter's language writes it (days only, never a time);
    anything that is not a day is shown as it is, made safe for the terminal."""
    return untrusted(_catalogue().day(str(value)))


def _word(words: dict[str, str], value: object) -> str:
    """The catalogue's word for a status or outcome; an unknown one is shown as it is."""
    word = words.get(str(value))
    return t(word) if word is not None else untrusted(str(value))


UNKNOWN_KDF = N_("This follow-up code belongs to a key derivation this server no longer offers.")
ARCHIVE_NOTICE = N_(
    "Note: this committee keeps an archive key, so that reports stay readable for legal "
    "retention even if every member loses their key. Your report is encrypted to it too. The "
    "archive key exists only as shares held by several people, and using it is recorded."
)

ServerOption = Annotated[str, typer.Option(help=N_("The SafeVoice server's address."))]
PinOption = Annotated[
    str | None,
    typer.Option(help=N_("The committee root fingerprint your organisation published.")),
]
ProxyOption = Annotated[
    str | None,
    typer.Option(
        help=N_("Send everything through this proxy, e.g. socks5h://127.0.0.1:9050 for Tor.")
    ),
]
StateOption = Annotated[
    Path | None,
    typer.Option(
        help=N_(
            "Remember the pinned root and manifest version in this folder "
            "(otherwise nothing is stored)."
        )
    ),
]


RetryOption = Annotated[
    int,
    typer.Option(
        "--retry-for",
        help=N_(
            "While the server cannot be reached or is unavailable, keep trying for this many "
            "seconds, with the same encrypted request, before giving up."
        ),
        min=0,
    ),
]
RETRY_SECONDS = 600


def _patience(seconds: int) -> Patience:
    return Patience(seconds=seconds, tell=lambda line: err_console.print(line, markup=False), say=t)


AttachOption = Annotated[
    list[Path] | None,
    typer.Option(help=N_("A file to attach, encrypted on this machine (repeatable).")),
]


def _readable_files(paths: list[Path] | None) -> list[Path]:
    files = list(paths or [])
    for path in files:
        if not path.is_file():
            fail(t("There is no file %(path)s to attach.", path=path))
    return files


def _send_files(
    api: Api,
    files: list[Path],
    *,
    case_id: str,
    start: Callable[[], str],
    journal: UploadJournal,
    quiet: bool,
) -> list[dict[str, Any]]:
    """Upload each file, resuming what a state folder remembers; return their descriptors."""
    if not files:
        return []
    saved = journal.load()
    if saved.get("case_id") != case_id:
        saved = {"case_id": case_id, "files": {}, "done": {}}
    descriptors = []
    with Progress(console=err_console, transient=True, disable=quiet) as progress:
        for path in files:
            name = str(path.resolve())
            if name in saved["done"]:
                descriptors.append(saved["done"][name])
                continue
            pending = saved["files"].get(name)
            task = progress.add_task(
                t("Encrypting and sending %(name)s", name=path.name), total=path.stat().st_size
            )

            def remember(upload: PendingUpload, name: str = name) -> None:
                saved["files"][name] = upload.to_json()
                journal.save(saved)

            descriptor = upload_file(
                api,
                path,
                case_id=case_id,
                start=start,
                pending=PendingUpload(**pending) if pending else None,
                remember=remember,
                progress=partial(progress.advance, task),
            )
            saved["done"][name] = descriptor
            saved["files"].pop(name, None)
            journal.save(saved)
            descriptors.append(descriptor)
    return descriptors


@app.callback()
def _root() -> None:
    """Report a concern anonymously; everything is encrypted on this machine."""


def _read_answers(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        fail(t("%(path)s is not valid JSON.", path=path))
    if not isinstance(data, dict):
        fail(t("%(path)s must hold a JSON object of question ids and answers.", path=path))
    return data


@app.command(
    "submit",
    help=N_(
        "Encrypt and submit a report; prints your follow-up code once.\n\nWith --state DIR, a "
        "report that could not be confirmed is kept there, encrypted, and the same command run "
        "again resends it (it can never arrive twice)."
    ),
)
def submit(
    server: ServerOption,
    channel: Annotated[str, typer.Option(help=N_("The channel to report in."))],
    pin: PinOption = None,
    text_file: Annotated[
        str | None,
        typer.Option(help=N_("Read the report from this file, or - for standard input.")),
    ] = None,
    answers_file: Annotated[
        Path | None, typer.Option(help=N_("Answers to the channel's questions (JSON object)."))
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            help=N_(
                "A committee member with a conflict of interest (repeatable). "
                "The operator can see whom you excluded."
            )
        ),
    ] = None,
    attach: AttachOption = None,
    proxy: ProxyOption = None,
    state: StateOption = None,
    retry_for: RetryOption = RETRY_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object."))] = False,
) -> None:
    kept = PendingReport.load(state)
    if kept is not None and kept.server != normalise(server):
        fail(
            t(
                "A report for %(server)s has not been confirmed yet and is kept in %(path)s; "
                "send it first with --server %(server)s.",
                server=kept.server,
                path=PendingReport.path(state or Path()),
            )
        )
    files = _readable_files(attach) if kept is None else []
    text = (
        read_secret_text(
            text_file,
            what="report",
            prompt=t("Type your report; finish with an empty line followed by Ctrl-D."),
        )
        if kept is None
        else ""
    )
    answers = _read_answers(answers_file) if kept is None else {}
    stored = State.load(state) if state is not None else None
    remembered = stored.server(server) if stored is not None else None
    patience = _patience(retry_for)
    with Api(server, proxy=proxy) as api:
        intake = _patiently(patience, api.intake, t("the request for the form"))
        verified = verify_for(
            intake.manifest.model_dump(),
            pin=pin,
            remembered=remembered,
            now=utcnow(),
            handovers=api.manifest_handovers,
        )
        manifest = verified.manifest
        if kept is not None:
            err_console.print(
                t(
                    "A report from an earlier attempt has not been confirmed yet: sending it "
                    "again exactly as it was encrypted then (it cannot arrive twice; the text "
                    "given now is not used)."
                )
            )
            answer = _send_report(api, kept, patience, state)
            pending = kept
        else:
            answer, pending = _new_report(
                api,
                intake,
                manifest,
                channel=channel,
                text=text,
                answers=answers,
                exclude=exclude or [],
                files=files,
                state=state,
                patience=patience,
                as_json=as_json,
            )
    _check_receipt(answer, manifest, pending.report_hash)
    PendingReport.clear(state)
    if stored is not None:
        stored.save()
    code = pending.code
    if as_json:
        print_json(
            {
                "code": code,
                "case_id": answer.case_id,
                "received_on": answer.received_on.isoformat(),
                "receipt": answer.receipt.model_dump(),
                "archive": manifest.archive is not None,
            }
        )
        return
    console.print(
        "\n"
        + t("Your report arrived: it was received on %(day)s.", day=_day(answer.received_on))
        + "\n"
    )
    console.print(t("Your follow-up code — write it down now, it is shown only once:") + "\n")
    console.print(f"    [bold]{code}[/]\n")
    console.print(
        t(
            "With this code you can read the committee's questions and answer them. "
            "Nobody else can recover it."
        )
    )
    console.print(
        t("Committee root: %(fingerprint)s", fingerprint=format_fingerprint(verified.pin))
    )
    console.print(t("Receipt (proof of submission; it contains nothing you wrote):"))
    console.print(json.dumps(answer.receipt.model_dump()), markup=False)


def _patiently(patience: Patience, attempt: Callable[[], T], what: str) -> T:
    try:
        return patience.run(attempt, what=what)
    except GaveUp as exc:
        fail(t("%(reason)s Nothing was sent; try again later.", reason=exc.message))


def _new_report(
    api: Api,
    intake: IntakeOut,
    manifest: Manifest,
    *,
    channel: str,
    text: str,
    answers: dict[str, Any],
    exclude: list[str],
    files: list[Path],
    state: Path | None,
    patience: Patience,
    as_json: bool,
) -> tuple[SubmissionOut, PendingReport]:
    """Encrypt a new report, keep it (with --state) and send it until it lands."""
    channels = {c.name: c for c in intake.channels}
    if channel not in channels:
        fail(
            t(
                "There is no channel %(channel)s; choose one of: %(channels)s.",
                channel=repr(channel),
                channels=", ".join(sorted(channels)),
            )
        )
    missing = [
        q.id
        for q in channels[channel].questionnaire
        if q.required and not str(answers.get(q.id, "")).strip()
    ]
    if missing:
        fail(
            t(
                "Please answer the required questions: %(questions)s (--answers-file).",
                questions=", ".join(missing),
            )
        )

    if not as_json:
        if manifest.archive is not None:
            err_console.print(t(ARCHIVE_NOTICE))
        err_console.print(t("Encrypting your report on this machine…"))
    code, reporter = reporter_steps.new_reporter(manifest)
    journal = UploadJournal(state)
    saved = journal.load()
    case_id = b64d(saved["case_id"], size=16) if files and "case_id" in saved else None
    case_id = case_id or new_case_id()

    def start() -> str:
        # A new case has no session yet: each upload costs a proof of work instead.
        challenge = powmod.parse(api.challenge("upload").challenge)
        proof = {"challenge": challenge.token, "solution": powmod.solve(challenge)}
        return api.start_upload(b64e(case_id), proof=proof).id

    descriptors = _send_files(
        api, files, case_id=b64e(case_id), start=start, journal=journal, quiet=as_json
    )
    new_case = create_case(
        manifest,
        reporter,
        channel=channel,
        text=text,
        answers=answers,
        exclude=exclude or [],
        attachments=descriptors,
        case_id=case_id,
    )
    challenge = intake.challenge
    if challenge.expires - 60 < utcnow().timestamp():
        challenge = _patiently(patience, lambda: api.challenge("submit"), t("the request"))
    body = reporter_steps.submission_body(
        new_case,
        reporter,
        channel=channel,
        challenge=challenge.challenge,
        uploads=[d["upload_id"] for d in descriptors],
    )
    pending = PendingReport(
        server=normalise(api.server),
        channel=channel,
        idempotency_key=random_id(16),
        body=body,
        code=code,
        report_hash=b64e(new_case.report.transcript_hash()),
    )
    pending.save(state)
    journal.clear()
    return _send_report(api, pending, patience, state), pending


def _send_report(
    api: Api, pending: PendingReport, patience: Patience, state: Path | None
) -> SubmissionOut:
    """Send the kept request until it lands, the same bytes under the same idempotency key."""
    try:
        try:
            return api.submit(
                pending.body, idempotency_key=pending.idempotency_key, patience=patience
            )
        except ChallengeRejected:
            # The server recognises a retry of a stored report before it looks at the proof of
            # work, so a refused proof means this report was never stored (its challenge
            # expired while the server was away): solve a fresh one and send it again.
            fresh = patience.run(lambda: api.challenge("submit"), what=t("the request"))
            pending.body["proof"] = {
                "challenge": fresh.challenge,
                "solution": powmod.solve(powmod.parse(fresh.challenge)),
            }
            pending.save(state)
            return api.submit(
                pending.body, idempotency_key=pending.idempotency_key, patience=patience
            )
    except GaveUp as exc:
        fail(_not_confirmed(exc, state))


def _not_confirmed(exc: GaveUp, state: Path | None) -> str:
    if state is not None:
        return t(
            "Your report has NOT been confirmed. %(reason)s It is kept, encrypted, with your "
            "follow-up code, in %(path)s (readable only by you). Run the same command again "
            "(with --state %(state)s) when the server is back: it sends exactly the same "
            "report, which can never arrive twice.",
            reason=exc.message,
            path=PendingReport.path(state),
            state=state,
        )
    return t(
        "Your report has NOT been confirmed. %(reason)s It may or may not have arrived, and "
        "nothing was kept on this machine (no --state), so sending it again could make a "
        "second report. Wait until the server is back, then send it again; use --state DIR "
        "to be able to resume safely.",
        reason=exc.message,
    )


def _read_code() -> str:
    """The follow-up code from the first line of standard input, or a hidden prompt."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line.strip():
            fail(t("Give your follow-up code on the first line of standard input."))
        return line
    return str(typer.prompt(t("Your follow-up code"), hide_input=True))


def _kept_receipt(path: Path | None) -> Receipt | None:
    """The receipt the reporter saved from `submit` (the object printed after the code, or the
    `receipt` member of `submit --json`)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("receipt"), dict):
            data = data["receipt"]
        return Receipt.from_json(data)
    except OSError:
        fail(t("The receipt file %(path)s cannot be read.", path=path))
    except (ValueError, SafeVoiceError):
        fail(t("%(path)s does not hold a SafeVoice receipt.", path=path))


@app.command(
    "follow-up",
    help=N_(
        "Read the committee's messages with your follow-up code, and answer them.\n\nThe "
        "code is read from a hidden prompt or from the first line of standard input, never "
        "from an argument. Everything is decrypted and verified on this machine."
    ),
)
def follow_up(
    server: ServerOption,
    pin: PinOption = None,
    reply_file: Annotated[
        str | None,
        typer.Option(
            help=N_(
                "Send a reply read from this file, or - for the rest of standard "
                "input (after the code on its first line)."
            )
        ),
    ] = None,
    attach: AttachOption = None,
    proxy: ProxyOption = None,
    state: StateOption = None,
    receipt_file: Annotated[
        Path | None,
        typer.Option(
            "--receipt",
            help=N_(
                "The receipt you kept from `submit` (a JSON file): checks the day of "
                "receipt the server shows, from which your deadlines are counted."
            ),
        ),
    ] = None,
    retry_for: RetryOption = RETRY_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help=N_("Print one JSON object."))] = False,
) -> None:
    files = _readable_files(attach)
    kept = _kept_receipt(receipt_file)
    code = parse_code(_read_code())
    reply = (
        read_secret_text(
            reply_file,
            what="reply",
            prompt=t("Type your reply; finish with an empty line followed by Ctrl-D."),
        )
        if reply_file is not None
        else None
    )
    if files and reply is None:
        fail(t("Files go with a reply: add --reply-file."))
    stored = State.load(state) if state is not None else None
    remembered = stored.server(server) if stored is not None else None
    patience = _patience(retry_for)
    with Api(server, proxy=proxy) as api:
        manifest = verify_for(
            _patiently(patience, api.manifest, t("the request")).model_dump(),
            pin=pin,
            remembered=remembered,
            now=utcnow(),
            handovers=api.manifest_handovers,
        ).manifest
        if manifest.code_kdf_for(code.version) is None:
            fail(t(UNKNOWN_KDF))
        if not as_json:
            err_console.print(t("Deriving your keys from the code on this machine…"))
        reporter = reporter_steps.keys_for_code(manifest, code)
        if reporter is None:  # checked above; this narrows the type for what follows
            fail(t(UNKNOWN_KDF))
        _patiently(patience, lambda: _log_in(api, manifest, reporter), t("your login"))
        view = _patiently(patience, api.reporter_case, t("the request"))
        read = read_as_reporter(view, reporter=reporter, manifest=manifest)
        if kept is not None:
            read.problems.extend(
                receipt_problems(
                    kept,
                    read,
                    case_id=view.case.id,
                    received_on=view.case.received_on.isoformat(),
                    manifest=manifest,
                )
            )
        sent = None
        if reply is not None:
            if read.problems:
                _print_warnings(read.problems)
                fail(t("The conversation does not verify, so your reply was not sent."))
            if read.held_by:
                fail(
                    t(
                        "The committee is renewing the keys of this case, so your reply was "
                        "not sent; please try again later."
                    )
                )
            journal = UploadJournal(state)
            descriptors = _send_files(
                api,
                files,
                case_id=view.case.id,
                start=lambda: api.start_upload(view.case.id).id,
                journal=journal,
                quiet=as_json,
            )
            envelope = reporter_steps.next_message(
                read,
                reporter,
                case_id=b64d(view.case.id, size=16, what="case id"),
                epoch=view.case.epoch,
                text=reply,
                attachments=descriptors,
            )
            sent = _send_reply(
                api, envelope.to_json(), [d["upload_id"] for d in descriptors], patience
            )
            journal.clear()
    if stored is not None:
        stored.save()
    if as_json:
        print_json(
            {
                "case": view.case.model_dump(mode="json"),
                **render.read_json(read),
                "sent": None if sent is None else sent.model_dump(),
            }
        )
    else:
        _print_follow_up(view, read, manifest, kept=kept, sent=sent)
    if read.problems:
        raise typer.Exit(code=2)


def _send_reply(
    api: Api, envelope: dict[str, Any], uploads: list[str], patience: Patience
) -> ObjectOut:
    """Send the signed reply until it lands; after a lost answer, a 409 for its place in the
    thread means it did land if the thread holds exactly this message there."""
    lost = False

    def attempt() -> ObjectOut:
        nonlocal lost
        try:
            return api.post_reporter_object(envelope, uploads=uploads)
        except TRANSIENT:
            lost = True
            raise

    try:
        return patience.run(attempt, what=t("your reply"))
    except Conflict:
        if not lost:
            raise
        view = _patiently(patience, api.reporter_case, t("the request"))
        for stored in view.objects:
            if stored.seq == envelope["seq"] and stored.envelope.sig == envelope["sig"]:
                digest = Envelope.from_json(envelope).transcript_hash()
                return ObjectOut(chain=stored.chain, seq=stored.seq, hash=b64e(digest))
        raise
    except GaveUp as exc:
        fail(
            t(
                "Your reply has NOT been confirmed. %(reason)s Run the same command again when "
                "the server is back: you will see whether it arrived before sending it again.",
                reason=exc.message,
            )
        )


def _check_receipt(answer: SubmissionOut, manifest: Manifest, report_hash: str) -> None:
    """Refuse the server's signed receipt unless the instance's receipt key signed it for
    exactly this report, case and day."""
    receipt = Receipt.from_json(answer.receipt.model_dump())
    try:
        receipt.verify(manifest.receipt_key)
    except VerificationFailed:
        fail(
            t(
                "The server's receipt does not verify; your report may not have been stored "
                "by the instance your committee named. Do not rely on this submission."
            )
        )
    if (
        b64e(receipt.report_hash) != report_hash
        or receipt.instance_id != manifest.instance_id
        or receipt.case_id != answer.case_id
        or receipt.day != answer.received_on.isoformat()
    ):
        fail(t("The server's receipt is for something other than what you sent."))


def _print_follow_up(
    view: ReporterCaseView,
    read: ReadCase,
    manifest: Manifest,
    *,
    kept: Receipt | None,
    sent: ObjectOut | None,
) -> None:
    """The case as the reporter's terminal shows it: status, deadlines, warnings, thread."""
    c = view.case
    # Only what a committee member signed is shown as the status; the server's fields are
    # compared with it and any difference is among the warnings below.
    signed = read.signed or SignedState()
    if signed.received_on:
        received = _day(signed.received_on)
    elif kept is not None:
        received = t("%(day)s (as your receipt says)", day=_day(kept.day))
    else:
        received = t(
            "%(day)s (as the server says; check it with --receipt)", day=_day(c.received_on)
        )
    status = _word(STATUS_WORDS, signed.status)
    if signed.outcome:
        status += f" ({_word(OUTCOME_WORDS, signed.outcome)})"
    console.print(
        t("Your report, received on %(day)s · status: %(status)s", day=received, status=status)
    )
    acknowledged = (
        t("acknowledged on %(day)s", day=_day(signed.acknowledged_on))
        if signed.acknowledged_on
        else t("acknowledgement due by %(day)s", day=_day(c.ack_due_on))
    )
    feedback_due = _day(signed.feedback_due or c.feedback_due_on)
    console.print(
        "  "
        + t(
            "%(acknowledged)s · feedback due by %(day)s",
            acknowledged=acknowledged,
            day=feedback_due,
        )
    )
    passed = deadline_passed(c, signed)
    if passed:
        console.print(f"[bold red]{passed}[/]")
    _print_warnings(read.problems)
    _print_thread(read, manifest)
    if sent is not None:
        console.print("\n" + t("Your reply was sent (message #%(n)s).", n=sent.seq))


def _print_warnings(problems: list[str]) -> None:
    if problems:
        heading = t("This conversation does not verify")
        console.print(f"[bold red]{heading}:[/]")
    for problem in problems:
        console.print(f"  [red]- {untrusted(problem)}[/]")


def _print_thread(read: ReadCase, manifest: Manifest) -> None:
    """The conversation as the reporter reads it, every word from the catalogue (the
    committee's own terminal shows the same objects in its own words, cli/render.py)."""
    for o in read.thread():
        if o.kind == "report":
            what = t("Your report")
        elif o.kind == "status":
            what = t("Status: %(status)s", status=_word(STATUS_WORDS, o.body.get("status")))
            if o.body.get("outcome"):
                what = t(
                    "Status: %(status)s (%(outcome)s)",
                    status=_word(STATUS_WORDS, o.body.get("status")),
                    outcome=_word(OUTCOME_WORDS, o.body["outcome"]),
                )
        elif o.kind == "epoch":
            what = t("Change of who can read your case")
        else:
            what = t("Message")
        mark = t("signature verified") if o.verified else "[red]" + t("Not verified.") + "[/]"
        console.print(f"\n[bold]#{o.seq} {what}[/] {_sender(o.sender, manifest)} · {mark}")
        if o.kind == "report" and read.report is not None:
            render.print_body(read.report.text)
            for question, answer in read.report.answers.items():
                render.print_body(f"{question}: {answer}")
        elif o.text is not None:
            render.print_body(o.text)
        if o.redacted is not None:
            notice = t(
                "Part of this message was removed by the committee on %(day)s.",
                day=_day(o.redacted.on),
            )
            by = _sender(o.redacted.by, manifest)
            console.print(f"{render.BODY_INDENT}[italic]{notice} ({by})[/]")
            if o.redacted.files:
                files = t(
                    "%(count)s attached file(s) removed by the committee on %(day)s.",
                    count=len(o.redacted.files),
                    day=_day(o.redacted.on),
                )
                console.print(f"{render.BODY_INDENT}[italic]{files} ({by})[/]")


def _sender(sender: str, manifest: Manifest) -> str:
    if sender == REPORTER:
        return t("from you")
    kind, _, ident = sender.partition(":")
    member = manifest.member(ident) if kind == "member" else None
    if member is None:
        return t("from someone who is not on the committee")
    return t("from %(name)s (committee)", name=untrusted(member.name))


def _log_in(api: Api, manifest: Manifest, reporter: ReporterKeys) -> None:
    """Log in as the case's reporter: sign a fresh, proof-of-work-protected challenge with the
    key derived from the code (docs/protocol.md, reporter login)."""
    challenge = powmod.parse(api.challenge("reporter-login").challenge)
    token = api.reporter_login(
        sign_key=b64e(reporter.sign_public),
        challenge=challenge.token,
        solution=powmod.solve(challenge),
        signature=b64e(sign_login(reporter.sign_seed, manifest.instance_id, challenge)),
    )
    api.set_token(token.token)


def deadline_passed(case: ReporterCaseInfo, signed: SignedState) -> str:
    """The sentence for a legal deadline that passed without the signed acknowledgement or the
    feedback it promised (as on the follow-up page), or "" when none has."""
    if signed.acknowledged_on is None and case.today > case.ack_due_on:
        return t(
            "The acknowledgement was due by %(day)s and no committee member has signed one. "
            "You may now report to the competent authorities listed on the start page; you "
            "can still write here too.",
            day=_day(case.ack_due_on),
        )
    if case.feedback_overdue and signed.status != "closed":
        return t(
            "Feedback was due by %(day)s and the committee has not yet told you what it is "
            "doing about your report. You may ask here, and you may report to the competent "
            "authorities listed on the start page.",
            day=_day(case.feedback_due_on),
        )
    return ""


# The sentences crypto/survey.py's check_answer refuses an answer with, marked here so that
# the reporter reads them in their language (tests/cli/test_report_language.py checks one).
ANSWER_REFUSALS = (
    N_("An answer gives one score (or none) per question of the survey."),
    N_("Each score is a whole number from 1 to 5."),
    N_("This survey asks for no free text."),
)


def _survey_answer(survey: Survey, path: str | None) -> Answer:
    """The answer from a JSON file or standard input, or asked question by question."""
    if path is not None:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(raw)
            answer = Answer(
                scores=tuple(data["scores"]), free_text=str(data.get("free_text") or "")
            )
        except (json.JSONDecodeError, KeyError, TypeError):
            fail(
                t(
                    "The answers must be JSON like %(example)s.",
                    example='{"scores": [4, 5, null], "free_text": "…"}',
                )
            )
    else:
        scores: list[int | None] = []
        err_console.print(
            t(
                "%(title)s (1 = not at all … 5 = fully; Enter skips)",
                title=untrusted(survey.title),
            )
        )
        for question in survey.questions:
            given = typer.prompt(untrusted(question), default="", show_default=False).strip()
            scores.append(int(given) if given.isdigit() else None)
        text = ""
        if survey.free_text is not None:
            text = typer.prompt(untrusted(survey.free_text), default="", show_default=False)
        answer = Answer(scores=tuple(scores), free_text=text)
    try:
        return check_answer(survey, answer)
    except SafeVoiceError as exc:
        fail(t("Your answer cannot be accepted: %(reason)s", reason=t(exc.message)))


@app.command(
    "survey",
    help=N_("Answer an open pulse survey anonymously; the answer is encrypted on this machine."),
)
def survey(
    server: ServerOption,
    pin: PinOption = None,
    survey_id: Annotated[
        str | None, typer.Option("--survey", help=N_("Which open survey (if several are open)."))
    ] = None,
    answers_file: Annotated[
        str | None,
        typer.Option(help=N_("Your answers as JSON, from this file or - for standard input.")),
    ] = None,
    proxy: ProxyOption = None,
    state: StateOption = None,
) -> None:
    stored = State.load(state) if state is not None else None
    remembered = stored.server(server) if stored is not None else None
    with Api(server, proxy=proxy) as api:
        verified = verify_for(
            api.manifest().model_dump(),
            pin=pin,
            remembered=remembered,
            now=utcnow(),
            handovers=api.manifest_handovers,
        )
        open_surveys, challenge = surveys.open_now(api, verified.manifest)
        chosen = [s for s in open_surveys if survey_id in (None, s.survey_id)]
        if not chosen:
            fail(
                t("No survey is open for answers.")
                if survey_id is None
                else t("No such open survey.")
            )
        if len(chosen) > 1:
            listed = ", ".join(f"{s.survey_id} ({untrusted(s.title)})" for s in chosen)
            fail(
                t(
                    "Several surveys are open; choose one with --survey: %(surveys)s.",
                    surveys=listed,
                )
            )
        answer = _survey_answer(chosen[0], answers_file)
        err_console.print(t("Encrypting your answer on this machine…"))
        surveys.send_answer(api, verified.manifest, chosen[0], answer, challenge=challenge)
    if stored is not None:
        stored.save()
    console.print(t("Thank you: your answer was received. Nothing links it to you."))


def main() -> None:
    app()
