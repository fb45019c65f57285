"""Pulse surveys: the member-signed survey document and the answers encrypted to the committee.

A survey is a document signed by one committee member over its exact payload bytes (context
``safevoice-survey-v1``), verified against that member's signing key in the committee-signed
manifest: the server stores and serves it but cannot write or change one. The payload must be
the canonical serialisation of what it parses to, like the manifest's.

An answer is anonymous: it carries no signature, no sender and no time. Its plaintext (the
scores and the optional free text) is padded to the envelope's size buckets and encrypted with
XChaCha20-Poly1305 under a fresh key whose associated data binds the instance and the survey,
so an answer cannot be moved to another survey; the key is sealed (``crypto_box_seal``) to every
committee member of the manifest, bound to the survey and the recipient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from safevoice.crypto.committee_box import (
    Binding,
    Sealed,
    check_shape,
    open_sealed,
    seal,
)
from safevoice.crypto.encoding import b64d, b64e, canonical_json, loads
from safevoice.crypto.keys import KeyPair, verify
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.errors import BadEncoding, BadRequest, VerificationFailed

SURVEY_FORMAT = "safevoice-survey-v1"
SURVEY_CONTEXT = "safevoice-survey-v1"
ANSWER_SUITE = "safevoice-survey-answer-v1"
ANSWER_KEY_CONTEXT = "safevoice-survey-key-v1"

SURVEY_ID_BYTES = 16
SCALE = (1, 2, 3, 4, 5)
MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 300
MAX_TITLE_CHARS = 200
MAX_CHANNELS = 50
MAX_FREE_TEXT_CHARS = 2000
_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MEMBER_PREFIX = "member:"


@dataclass(frozen=True)
class Survey:
    """A parsed survey document: what the committee asks, of whom, and when."""

    instance_id: str
    survey_id: str
    title: str
    opens_on: date
    closes_on: date
    channels: tuple[str, ...]
    questions: tuple[str, ...]
    free_text: str | None
    author: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": SURVEY_FORMAT,
            "instance_id": self.instance_id,
            "survey_id": self.survey_id,
            "title": self.title,
            "opens_on": self.opens_on.isoformat(),
            "closes_on": self.closes_on.isoformat(),
            "channels": list(self.channels),
            "questions": list(self.questions),
            "free_text": self.free_text,
            "author": self.author,
        }

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on


def new_survey_id() -> str:
    """A random survey id (128 bits) that can be given as a command-line argument."""
    return random_id(SURVEY_ID_BYTES)


def _text(value: Any, *, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadEncoding(f"The survey's {what} must be text of 1 to {limit} characters.")
    return value


def _day(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise BadEncoding(f"The survey's {what} must be a day like 2027-03-01.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadEncoding(f"The survey's {what} must be a day like 2027-03-01.") from None


def check_survey(survey: Survey) -> Survey:
    """Refuse a survey the clients could not present or answer safely."""
    b64d(survey.survey_id, size=SURVEY_ID_BYTES, what="survey id")
    _text(survey.title, limit=MAX_TITLE_CHARS, what="title")
    if not 1 <= len(survey.questions) <= MAX_QUESTIONS:
        raise BadEncoding(f"A survey asks 1 to {MAX_QUESTIONS} questions.")
    for question in survey.questions:
        _text(question, limit=MAX_QUESTION_CHARS, what="question")
    if survey.free_text is not None:
        _text(survey.free_text, limit=MAX_QUESTION_CHARS, what="free-text prompt")
    if survey.closes_on < survey.opens_on:
        raise BadEncoding("A survey cannot close before it opens.")
    if len(survey.channels) > MAX_CHANNELS or len(set(survey.channels)) != len(survey.channels):
        raise BadEncoding("The survey's channel list is too long or names a channel twice.")
    if any(not _CHANNEL.match(c) for c in survey.channels):
        raise BadEncoding("The survey names a channel that is not a channel name.")
    if not survey.author or not isinstance(survey.author, str):
        raise BadEncoding("The survey does not name its author.")
    return survey


def parse_survey(payload: bytes) -> Survey:
    """Parse a survey payload; it must be exactly the canonical form of what it holds."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEncoding("The survey document is not JSON.") from exc
    if not isinstance(data, dict) or data.get("format") != SURVEY_FORMAT:
        raise BadEncoding("This is not a SafeVoice survey document.")
    try:
        channels = data["channels"]
        questions = data["questions"]
        if not isinstance(channels, list) or not isinstance(questions, list):
            raise BadEncoding("The survey's channels and questions must be lists.")
        survey = Survey(
            instance_id=str(data["instance_id"]),
            survey_id=data["survey_id"],
            title=data["title"],
            opens_on=_day(data["opens_on"], "opening day"),
            closes_on=_day(data["closes_on"], "closing day"),
            channels=tuple(channels),
            questions=tuple(questions),
            free_text=data["free_text"],
            author=data["author"],
        )
    except KeyError as exc:
        raise BadEncoding(f"The survey document lacks {exc.args[0]!r}.") from None
    check_survey(survey)
    if canonical_json(survey.to_payload()) != payload:
        raise BadEncoding("The survey document is not in its one signed form.")
    return survey


@dataclass(frozen=True)
class SignedSurvey:
    """A survey on the wire: ``{payload, signer, sig}``; the signature covers the payload."""

    payload: bytes
    signer: str
    sig: bytes

    def to_json(self) -> dict[str, str]:
        return {"payload": b64e(self.payload), "signer": self.signer, "sig": b64e(self.sig)}

    @classmethod
    def from_json(cls, data: Any) -> SignedSurvey:
        if not isinstance(data, dict):
            raise BadEncoding("The survey document is malformed.")
        try:
            signer = data["signer"]
            if not isinstance(signer, str):
                raise BadEncoding("The survey's signer is malformed.")
            return cls(
                payload=b64d(data["payload"], what="survey payload"),
                signer=signer,
                sig=b64d(data["sig"], size=64, what="survey signature"),
            )
        except KeyError as exc:
            raise BadEncoding(f"The survey document lacks {exc.args[0]!r}.") from None

    def unverified(self) -> Survey:
        """The payload parsed without checking the signature: only to show or route it."""
        return parse_survey(self.payload)


def sign_survey(survey: Survey, keys: KeyPair) -> SignedSurvey:
    """Sign a survey as the member whose key this is (the survey must name them as author)."""
    if keys.public.kind != "member" or survey.author != keys.public.id:
        raise BadRequest("A survey is signed by the committee member it names as its author.")
    payload = canonical_json(check_survey(survey).to_payload())
    return SignedSurvey(
        payload=payload,
        signer=f"{_MEMBER_PREFIX}{keys.public.id}",
        sig=keys.sign(SURVEY_CONTEXT, payload),
    )


def verify_survey(signed: SignedSurvey, manifest: Manifest) -> Survey:
    """Check the signature against the author's key in the manifest, then parse the payload.

    Keys a member retired still verify the surveys they signed, as for every signed object.
    """
    if not signed.signer.startswith(_MEMBER_PREFIX):
        raise VerificationFailed("A survey must be signed by a committee member.")
    keys = manifest.signing_keys(signed.signer)
    if not keys:
        raise VerificationFailed("The survey's signer is not a committee member of the manifest.")
    for key in keys:
        try:
            verify(key, signed.sig, SURVEY_CONTEXT, signed.payload)
            break
        except VerificationFailed:
            continue
    else:
        raise VerificationFailed("The survey's signature does not verify.")
    survey = parse_survey(signed.payload)
    if f"{_MEMBER_PREFIX}{survey.author}" != signed.signer:
        raise VerificationFailed("The survey is signed by someone other than its author.")
    if survey.instance_id != manifest.instance_id:
        raise VerificationFailed("The survey belongs to another instance.")
    return survey


# -- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One person's answer: a score from 1 to 5 (or None, skipped) per question, free text."""

    scores: tuple[int | None, ...]
    free_text: str = ""


SealedAnswer = Sealed


def check_answer(survey: Survey, answer: Answer) -> Answer:
    if len(answer.scores) != len(survey.questions):
        raise BadRequest("An answer gives one score (or none) per question of the survey.")
    if any(s is not None and (type(s) is not int or s not in SCALE) for s in answer.scores):
        raise BadRequest("Each score is a whole number from 1 to 5.")
    if answer.free_text and survey.free_text is None:
        raise BadRequest("This survey asks for no free text.")
    if len(answer.free_text) > MAX_FREE_TEXT_CHARS:
        raise BadRequest(f"The free text is limited to {MAX_FREE_TEXT_CHARS} characters.")
    return answer


def _binding(survey: Survey) -> Binding:
    return Binding(
        suite=ANSWER_SUITE,
        key_context=ANSWER_KEY_CONTEXT,
        fields=(survey.instance_id, survey.survey_id),
    )


def seal_answer(survey: Survey, manifest: Manifest, answer: Answer) -> SealedAnswer:
    """Encrypt an answer on the answering person's machine, to every committee member."""
    check_answer(survey, answer)
    plaintext = canonical_json({"scores": list(answer.scores), "free_text": answer.free_text})
    return seal(plaintext, manifest, _binding(survey))


def check_sealed_shape(survey: Survey, sealed: SealedAnswer, recipients: Sequence[str]) -> None:
    """What the server can check without reading: one key per member, sizes of the buckets."""
    check_shape(sealed, recipients, _binding(survey))


def open_answer(survey: Survey, sealed: SealedAnswer, keys: KeyPair) -> Answer:
    """Decrypt an answer with a member's key; anything altered or moved fails to open."""
    plaintext = open_sealed(sealed, keys, _binding(survey))
    try:
        data = loads(plaintext.decode("utf-8"))
        answer = Answer(scores=tuple(data["scores"]), free_text=str(data["free_text"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("The answer's content is malformed.") from exc
    try:
        return check_answer(survey, answer)
    except BadRequest as exc:
        raise VerificationFailed("The answer does not fit the survey.") from exc
