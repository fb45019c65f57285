"""Building submissions as a reporter's client would, for API-level tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safevoice.crypto.casefile import NewCase, create_case
from safevoice.crypto.code import ReporterKeys, parse_code
from safevoice.crypto.manifest import Manifest
from safevoice.protocol import reporter as reporter_steps


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
    code, keys = reporter_steps.new_reporter(manifest)
    _derived[manifest.instance_salt] = (code, keys)
    return code, keys


def keys_of(manifest: Manifest, code: str) -> ReporterKeys:
    """The keys a reporter's client derives from this code under this manifest."""
    keys = reporter_steps.keys_for_code(manifest, parse_code(code))
    assert keys is not None, "the manifest no longer offers this code's key derivation"
    return keys


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
    body = reporter_steps.submission_body(case, reporter, channel=channel, challenge=challenge)
    return Submission(body=body, code=code, reporter=reporter, case=case)
