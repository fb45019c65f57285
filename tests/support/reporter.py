"""Building submissions as a reporter's client would, for API-level tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safevoice.crypto import pow as powmod
from safevoice.crypto.casefile import NewCase, create_case
from safevoice.crypto.code import ReporterKeys, derive_reporter_keys, generate_code, parse_code
from safevoice.crypto.manifest import Manifest


@dataclass
class Submission:
    body: dict[str, Any]
    code: str
    reporter: ReporterKeys
    case: NewCase

    @property
    def case_id(self) -> str:
        return str(self.body["case"]["id"])


_derived: dict[bytes, tuple[str, ReporterKeys]] = {}


def reporter_keys(manifest: Manifest, *, fresh: bool = True) -> tuple[str, ReporterKeys]:
    """A code and its keys (Argon2id 64 MiB); ``fresh=False`` reuses one per manifest salt."""
    if not fresh and manifest.instance_salt in _derived:
        return _derived[manifest.instance_salt]
    kdf = manifest.current_code_kdf
    code = generate_code(kdf.version)
    keys = derive_reporter_keys(
        parse_code(code), salt=manifest.instance_salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
    )
    _derived[manifest.instance_salt] = (code, keys)
    return code, keys


def build_submission(
    manifest: Manifest,
    challenge: str,
    *,
    text: str = "Someone altered the safety records.",
    channel: str = "general",
    exclude: list[str] | None = None,
    answers: dict[str, Any] | None = None,
    keys: tuple[str, ReporterKeys] | None = None,
) -> Submission:
    code, reporter = keys or reporter_keys(manifest)
    case = create_case(
        manifest,
        reporter,
        channel=channel,
        text=text,
        answers=answers if answers is not None else {"where": "Depot 4"},
        exclude=exclude,
    )
    solution = powmod.solve(powmod.parse(challenge))
    body = {
        "proof": {"challenge": challenge, "solution": solution},
        "case": case.submission(channel, reporter),
    }
    return Submission(body=body, code=code, reporter=reporter, case=case)
