"""Lessons-learned summaries proposed for the published digest, and their approvals.

A summary is written by the member who closed a case, signed by them (``safevoice-lesson-v1``
over the canonical payload) and encrypted to the committee (``committee_box``) until it is
published. Publishing needs two members: every approval, the author's included, is a signature
(``safevoice-lesson-approval-v1``) over the instance, the lesson id and the hash of the signed
payload, so an approval cannot be moved to another text. A digest takes a summary only with
valid approvals from two different members of the manifest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from safevoice.crypto.committee_box import Binding, Sealed, open_sealed, seal
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.keys import KeyPair, blake2b, verify
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, VerificationFailed

LESSON_FORMAT = "safevoice-lesson-v1"
LESSON_CONTEXT = "safevoice-lesson-v1"
APPROVAL_CONTEXT = "safevoice-lesson-approval-v1"
LESSON_SUITE = "safevoice-lesson-sealed-v1"
LESSON_KEY_CONTEXT = "safevoice-lesson-key-v1"
MAX_SUMMARY_CHARS = 3000
REQUIRED_APPROVALS = 2
_QUARTER = re.compile(r"^[0-9]{4}-Q[1-4]$")


@dataclass(frozen=True)
class Lesson:
    """A publishable summary: the quarter and category are all it says about its case."""

    instance_id: str
    lesson_id: str
    case_id: str
    quarter: str
    category: str
    summary: str
    author: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": LESSON_FORMAT,
            "instance_id": self.instance_id,
            "lesson_id": self.lesson_id,
            "case_id": self.case_id,
            "quarter": self.quarter,
            "category": self.category,
            "summary": self.summary,
            "author": self.author,
        }


def check_lesson(lesson: Lesson) -> Lesson:
    if not _QUARTER.match(lesson.quarter):
        raise BadEncoding("A lesson is dated by its quarter only, like 2027-Q1.")
    if not lesson.summary.strip() or len(lesson.summary) > MAX_SUMMARY_CHARS:
        raise BadEncoding(f"A summary is 1 to {MAX_SUMMARY_CHARS} characters.")
    if not lesson.category or len(lesson.category) > 64:
        raise BadEncoding("A lesson needs a category of at most 64 characters.")
    return lesson


@dataclass(frozen=True)
class SignedLesson:
    payload: bytes
    sig: bytes

    @property
    def digest(self) -> bytes:
        return blake2b(self.payload)

    def to_bytes(self) -> bytes:
        return canonical_json({"payload": b64e(self.payload), "sig": b64e(self.sig)})

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedLesson:
        try:
            parsed = json.loads(data.decode("utf-8"))
            return cls(
                payload=b64d(parsed["payload"], what="lesson"),
                sig=b64d(parsed["sig"], size=64, what="lesson signature"),
            )
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise BadEncoding("The lesson is malformed.") from exc


def sign_lesson(lesson: Lesson, keys: KeyPair) -> SignedLesson:
    if lesson.author != keys.public.id:
        raise BadEncoding("A lesson is signed by the member it names as its author.")
    payload = canonical_json(check_lesson(lesson).to_payload())
    return SignedLesson(payload=payload, sig=keys.sign(LESSON_CONTEXT, payload))


def parse_lesson(payload: bytes) -> Lesson:
    try:
        data = json.loads(payload.decode("utf-8"))
        if data.get("format") != LESSON_FORMAT:
            raise BadEncoding("This is not a SafeVoice lesson.")
        lesson = Lesson(**{k: str(data[k]) for k in Lesson.__dataclass_fields__})
    except (UnicodeDecodeError, ValueError, KeyError, AttributeError) as exc:
        raise BadEncoding("The lesson is malformed.") from exc
    if canonical_json(check_lesson(lesson).to_payload()) != payload:
        raise BadEncoding("The lesson is not in its one signed form.")
    return lesson


def _verify_any(keys: list[bytes], sig: bytes, context: str, *fields: bytes | str) -> bool:
    for key in keys:
        try:
            verify(key, sig, context, *fields)
        except VerificationFailed:
            continue
        return True
    return False


def verify_lesson(signed: SignedLesson, manifest: Manifest) -> Lesson:
    lesson = parse_lesson(signed.payload)
    keys = manifest.signing_keys(f"member:{lesson.author}")
    if not _verify_any(keys, signed.sig, LESSON_CONTEXT, signed.payload):
        raise VerificationFailed("The lesson is not signed by the member named as its author.")
    if lesson.instance_id != manifest.instance_id:
        raise VerificationFailed("The lesson belongs to another instance.")
    return lesson


def approve(keys: KeyPair, *, instance_id: str, lesson_id: str, digest: bytes) -> bytes:
    """A member's approval of one exact summary for publication."""
    return keys.sign(APPROVAL_CONTEXT, instance_id, lesson_id, digest)


def approval_verifies(
    manifest: Manifest, member_id: str, sig: bytes, *, lesson_id: str, digest: bytes
) -> bool:
    keys = manifest.signing_keys(f"member:{member_id}")
    return _verify_any(keys, sig, APPROVAL_CONTEXT, manifest.instance_id, lesson_id, digest)


def publishable(signed: SignedLesson, approvals: dict[str, bytes], manifest: Manifest) -> Lesson:
    """The lesson, if its author signed it and two different members approved exactly it."""
    lesson = verify_lesson(signed, manifest)
    valid = {
        member
        for member, sig in approvals.items()
        if approval_verifies(
            manifest, member, sig, lesson_id=lesson.lesson_id, digest=signed.digest
        )
    }
    if len(valid) < REQUIRED_APPROVALS:
        raise VerificationFailed(
            "A summary is published only with the approval of two committee members."
        )
    return lesson


def binding(instance_id: str, lesson_id: str) -> Binding:
    return Binding(
        suite=LESSON_SUITE, key_context=LESSON_KEY_CONTEXT, fields=(instance_id, lesson_id)
    )


def seal_lesson(signed: SignedLesson, lesson: Lesson, manifest: Manifest) -> Sealed:
    return seal(signed.to_bytes(), manifest, binding(lesson.instance_id, lesson.lesson_id))


def open_lesson(sealed: Sealed, keys: KeyPair, *, instance_id: str, lesson_id: str) -> SignedLesson:
    return SignedLesson.from_bytes(open_sealed(sealed, keys, binding(instance_id, lesson_id)))
