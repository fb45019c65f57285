"""The reporter's steps, written once for every place that acts as a reporter's client.

The reporter CLI, the server's no-JavaScript path (which seals on the reporter's behalf), the
test support and the benchmarks all derive keys from a follow-up code, build and seal a
submission, and seal the next message of the thread through these functions, so the steps and
their order exist in one place (docs/protocol.md, "Submission" and "Dialogue").

Invariant: nothing here keeps, logs or sends the code, the keys or the plaintext; callers hold
them only as long as the step needs them. Imports only ``crypto`` (layer rule of DESIGN.md).
"""

from __future__ import annotations

from typing import Any

from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import REPORTER, NewCase, message_plaintext
from safevoice.crypto.code import (
    ParsedCode,
    ReporterKeys,
    derive_reporter_keys,
    generate_code,
    parse_code,
)
from safevoice.crypto.envelope import Envelope, seal
from safevoice.crypto.manifest import Manifest
from safevoice.protocol.reader import ReadCase


def keys_for_code(manifest: Manifest, code: ParsedCode) -> ReporterKeys | None:
    """The reporter's keys from their code (Argon2id with the instance salt).

    None when the manifest no longer offers the code's key derivation; each caller words that
    refusal for its own reader.
    """
    kdf = manifest.code_kdf_for(code.version)
    if kdf is None:
        return None
    return derive_reporter_keys(
        code, salt=manifest.instance_salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
    )


def new_reporter(manifest: Manifest) -> tuple[str, ReporterKeys]:
    """A new follow-up code (canonical form, shown to the reporter once) under the manifest's
    current key derivation, and its keys."""
    kdf = manifest.current_code_kdf
    code = generate_code(kdf.version)
    keys = derive_reporter_keys(
        parse_code(code), salt=manifest.instance_salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
    )
    return code, keys


def submission_body(
    new_case: NewCase,
    reporter: ReporterKeys,
    *,
    channel: str,
    challenge: str,
    solution: str | None = None,
    uploads: list[str] | None = None,
) -> dict[str, Any]:
    """The body of ``POST /api/v1/submissions``: the proof of work and the case sealed by
    ``crypto.casefile.create_case``.

    The proof is solved here unless the caller brings its own ``solution``.
    """
    if solution is None:
        solution = powmod.solve(powmod.parse(challenge))
    return {
        "proof": {"challenge": challenge, "solution": solution},
        "case": new_case.submission(channel, reporter, uploads=uploads),
    }


def next_message(
    read: ReadCase,
    reporter: ReporterKeys,
    *,
    case_id: bytes,
    epoch: int,
    text: str,
    attachments: list[dict[str, Any]] | None = None,
    sealed_by_server: bool = False,
) -> Envelope:
    """Seal the reporter's next message: the thread's next sequence number after the verified
    head, in the case's current epoch, signed with the key from the code (``sealed_by_server``:
    the server-sealed follow-up writes it, and says so inside)."""
    seq, head = read.heads["thread"]
    plaintext = (
        message_plaintext(text, attachments=attachments, sealed_by_server=sealed_by_server)
        if attachments or sealed_by_server
        else message_plaintext(text)
    )
    return seal(
        read.keys.thread,
        plaintext,
        case_id=case_id,
        kind="message",
        sender=REPORTER,
        seq=seq + 1,
        prev=head,
        epoch=epoch,
        sign_seed=reporter.sign_seed,
    )
