"""The lessons-learned digest, made on a member's machine.

A member who closed a case proposes a publishable summary (dated by quarter only; the client
warns on anything that looks like a finer date, and the member confirms a review checklist);
a second member approves exactly that text; ``build`` assembles the summaries that two
members approved, the corrective actions completed per category, the case metrics and the
survey trends into a static HTML page and its JSON twin, signed together by the member who
builds it. ``verify`` checks such a digest against a member key of the committee-signed
manifest. Every figure keeps the small-count suppression of the statistics; free texts of
surveys never enter it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from safevoice.client import surveys
from safevoice.client.member import MemberSession
from safevoice.clock import utcnow
from safevoice.crypto.committee_box import Sealed
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.keys import KeyPair, verify
from safevoice.crypto.lesson import (
    Lesson,
    SignedLesson,
    approve,
    open_lesson,
    publishable,
    seal_lesson,
    sign_lesson,
    verify_lesson,
)
from safevoice.crypto.login import random_id
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.survey import SCALE
from safevoice.errors import BadRequest, Conflict, NotFound, VerificationFailed
from safevoice.protocol.suppression import count_figure, protect_breakdown
from safevoice.protocol.wire import LessonOut

DIGEST_FORMAT = "safevoice-digest-v1"
DIGEST_CONTEXT = "safevoice-digest-v1"
JSON_NAME = "digest.json"
HTML_NAME = "digest.html"
SIGNATURE_NAME = "digest.sig.json"
DONE = "done"

CHECKLIST = (
    "It names no person, team, place, site or project.",
    "It gives no date finer than the quarter (no day, week or month).",
    "It says nothing only the reporter or a few people could know.",
    "It describes what was learned and changed, not who did what.",
)

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE_PATTERNS = (
    re.compile(r"\b\d{4}-\d{1,2}(-\d{1,2})?\b"),
    re.compile(r"\b\d{1,2}[./-]\d{1,2}([./-]\d{2,4})?\b"),
    re.compile(rf"\b\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?({_MONTHS})\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTHS})\.?\s+\d{{1,4}}\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTHS}|{_WEEKDAYS})\b", re.IGNORECASE),
    re.compile(r"\b(yesterday|today|last|next)\s+(week|month|monday|friday)\b", re.IGNORECASE),
)


def date_warnings(text: str) -> list[str]:
    """Parts of ``text`` that look like a date finer than a quarter (a check, not a proof)."""
    found: list[str] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if match.group(0) not in found:
                found.append(match.group(0))
    return found


def checked_summary(summary: str, *, reviewed: bool, allow_dates: bool) -> str:
    """The summary as it will be proposed, once it passed the checks a program can make and
    the member confirmed the checklist; otherwise BadRequest says what is missing."""
    text = summary.strip()
    if not text:
        raise BadRequest("The publishable summary is empty.")
    found = date_warnings(text)
    if found and not allow_dates:
        raise BadRequest(
            "The summary may contain dates finer than the quarter: "
            + ", ".join(repr(f) for f in found)
            + ". Remove them, or confirm that they are not dates."
        )
    if not reviewed:
        raise BadRequest(
            "Confirm that you reviewed the summary against the checklist: " + " ".join(CHECKLIST)
        )
    return text


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


# -- proposing and approving ---------------------------------------------------------------------


def propose(session: MemberSession, keys: KeyPair, case_id: str, summary: str) -> LessonOut:
    """Sign a closed case's publishable summary, encrypt it to the committee and send it."""
    session.check_owner(keys)
    manifest = session.manifest()
    case = next((c for c in session.api.cases() if c.id == case_id), None)
    if case is None:
        raise NotFound("There is no such case among those you can read.")
    if case.status != "closed" or case.closed_on is None:
        raise Conflict("Close the case with its lessons learned before proposing a summary.")
    lesson = Lesson(
        instance_id=manifest.instance_id,
        lesson_id=random_id(),
        case_id=case.id,
        quarter=quarter_of(case.closed_on),
        category=case.channel,
        summary=summary.strip(),
        author=keys.public.id,
    )
    signed = sign_lesson(lesson, keys)
    sealed = seal_lesson(signed, lesson, manifest)
    approval = approve(
        keys, instance_id=manifest.instance_id, lesson_id=lesson.lesson_id, digest=signed.digest
    )
    return session.api.propose_lesson(
        {
            "lesson_id": lesson.lesson_id,
            "case_id": case.id,
            "digest": b64e(signed.digest),
            "sealed": sealed.to_json(),
            "approval": b64e(approval),
        }
    )


@dataclass(frozen=True)
class Proposed:
    """A proposed summary as this member reads it: verified, with its valid approvals."""

    out: LessonOut
    signed: SignedLesson
    lesson: Lesson

    def approvals(self) -> dict[str, bytes]:
        return {a.member: b64d(a.sig, size=64, what="approval") for a in self.out.approvals}


def read(out: LessonOut, keys: KeyPair, manifest: Manifest) -> Proposed:
    sealed = Sealed.from_json(out.sealed.model_dump())
    signed = open_lesson(sealed, keys, instance_id=manifest.instance_id, lesson_id=out.lesson_id)
    if b64e(signed.digest) != out.digest:
        raise VerificationFailed("The server lists another summary than the one encrypted.")
    lesson = verify_lesson(signed, manifest)
    if lesson.lesson_id != out.lesson_id or lesson.case_id != out.case_id:
        raise VerificationFailed("The summary was moved to another lesson or case.")
    return Proposed(out=out, signed=signed, lesson=lesson)


def proposed(session: MemberSession, keys: KeyPair) -> list[Proposed]:
    session.check_owner(keys)
    manifest = session.manifest()
    return [read(out, keys, manifest) for out in session.api.lessons()]


def approve_lesson(session: MemberSession, keys: KeyPair, found: Proposed) -> LessonOut:
    """Approve exactly this summary for publication (a second member's four eyes)."""
    manifest = session.manifest()
    sig = approve(
        keys,
        instance_id=manifest.instance_id,
        lesson_id=found.lesson.lesson_id,
        digest=found.signed.digest,
    )
    return session.api.approve_lesson(found.lesson.lesson_id, b64e(sig))


# -- building and verifying the digest -----------------------------------------------------------


def _actions_completed(session: MemberSession) -> dict[str, Any]:
    channels = {c.id: c.channel for c in session.api.cases()}
    done = Counter(channels.get(a.case_id, "") for a in session.api.actions() if a.state == DONE)
    names = sorted(set(channels.values()))
    cells = protect_breakdown([done[name] for name in names])
    return {
        "total": count_figure(sum(done.values())),
        "per_category": [{"category": n, "count": c} for n, c in zip(names, cells, strict=True)],
    }


def contents(session: MemberSession, keys: KeyPair) -> dict[str, Any]:
    """What a digest says, computed on this machine."""
    session.check_owner(keys)
    manifest = session.manifest()
    lessons = []
    for found in proposed(session, keys):
        try:
            lesson = publishable(found.signed, found.approvals(), manifest)
        except VerificationFailed:
            continue  # not approved by two members (yet): never published
        lessons.append(
            {"quarter": lesson.quarter, "category": lesson.category, "summary": lesson.summary}
        )
    lessons.sort(key=lambda item: (item["quarter"], item["category"], item["summary"]))
    return {
        "format": DIGEST_FORMAT,
        "instance_id": manifest.instance_id,
        "issued_in": quarter_of(utcnow().date()),
        "signer": f"member:{keys.public.id}",
        "lessons": lessons,
        "actions_completed": _actions_completed(session),
        "metrics": session.api.stats().model_dump(mode="json"),
        "surveys": surveys.trends(session, keys, manifest),
    }


def _cell(value: object) -> str:
    return html.escape(str(value))


def render_html(digest: dict[str, Any]) -> bytes:
    """A static page: no script, nothing fetched from anywhere."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>What we learned from what was reported</title>",
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:2em auto;"
        "padding:0 1em;color:#1b1b1b}table{border-collapse:collapse}td,th{border:1px solid"
        " #999;padding:.2em .6em;text-align:left}blockquote{border-left:4px solid #2b6;"
        "margin:1em 0;padding:.2em 1em}</style></head><body>",
        "<h1>What we learned from what was reported</h1>",
        f"<p>Issued in {_cell(digest['issued_in'])}. Figures built from fewer than 5 cases or "
        "answers are shown as &lt;5 (or hidden), so that no one can be singled out.</p>",
        "<h2>Lessons learned</h2>",
    ]
    if not digest["lessons"]:
        parts.append("<p>No lesson was approved for publication yet.</p>")
    for lesson in digest["lessons"]:
        parts.append(
            f"<h3>{_cell(lesson['quarter'])} · {_cell(lesson['category'])}</h3>"
            f"<blockquote>{_cell(lesson['summary'])}</blockquote>"
        )
    actions = digest["actions_completed"]
    parts.append("<h2>Corrective actions completed</h2>")
    parts.append(f"<p>In total: {_cell(actions['total'])}.</p><table><tr><th>category</th>")
    parts.append("<th>completed</th></tr>")
    for row in actions["per_category"]:
        parts.append(f"<tr><td>{_cell(row['category'])}</td><td>{_cell(row['count'])}</td></tr>")
    parts.append("</table>")
    metrics = digest["metrics"]
    parts.append("<h2>How reports were handled</h2><table>")
    for key in (
        "received_total",
        "median_days_to_acknowledge",
        "median_days_to_close",
        "percent_acknowledged_within_7_days",
        "percent_closed_with_corrective_action",
        "percent_actions_done_on_time",
    ):
        parts.append(
            f"<tr><th>{_cell(key.replace('_', ' '))}</th><td>{_cell(metrics[key])}</td></tr>"
        )
    parts.append("</table><h2>How safe it feels to speak up</h2>")
    for survey in digest["surveys"]:
        parts.append(f"<h3>{_cell(survey['title'])} ({_cell(survey['answers'])} answers)</h3>")
        # The counts per score are the JSON twin's, small cells already suppressed.
        scores = "".join(f"<th>{value}</th>" for value in SCALE)
        parts.append(
            f"<table><tr><th>statement</th><th>median (1 to 5)</th><th>trend</th>{scores}</tr>"
        )
        for q in survey["questions"]:
            counts = q.get("counts", {})
            cells = "".join(f"<td>{_cell(counts.get(str(v), ''))}</td>" for v in SCALE)
            parts.append(
                f"<tr><td>{_cell(q['question'])}</td><td>{_cell(q['median'])}</td>"
                f"<td>{_cell(q.get('trend', ''))}</td>{cells}</tr>"
            )
        parts.append(
            "</table><p>The last five columns count the answers that gave each score, from 1 "
            "(not at all) to 5 (fully).</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _signed_bytes(json_bytes: bytes, html_bytes: bytes) -> tuple[bytes, bytes]:
    return hashlib.sha256(json_bytes).digest(), hashlib.sha256(html_bytes).digest()


def build(session: MemberSession, keys: KeyPair, out: Path) -> dict[str, Any]:
    """Write ``digest.json``, ``digest.html`` and ``digest.sig.json`` into ``out``."""
    digest = contents(session, keys)
    json_bytes = canonical_json(digest)
    html_bytes = render_html(digest)
    sig = keys.sign(DIGEST_CONTEXT, *_signed_bytes(json_bytes, html_bytes))
    out.mkdir(parents=True, exist_ok=True)
    (out / JSON_NAME).write_bytes(json_bytes)
    (out / HTML_NAME).write_bytes(html_bytes)
    (out / SIGNATURE_NAME).write_bytes(
        canonical_json({"signer": digest["signer"], "sig": b64e(sig)})
    )
    return digest


def verify_folder(folder: Path, manifest: Manifest) -> dict[str, Any]:
    """Check a digest's signature against its signer's key in the committee's manifest."""
    try:
        json_bytes = (folder / JSON_NAME).read_bytes()
        html_bytes = (folder / HTML_NAME).read_bytes()
        signature = json.loads((folder / SIGNATURE_NAME).read_bytes())
        sig = b64d(signature["sig"], size=64, what="signature")
        signer = str(signature["signer"])
        digest = json.loads(json_bytes)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VerificationFailed(f"{folder} does not hold a readable digest.") from exc
    if not signer.startswith("member:") or digest.get("signer") != signer:
        raise VerificationFailed("The digest does not name the member who signed it.")
    if digest.get("instance_id") != manifest.instance_id:
        raise VerificationFailed("The digest belongs to another instance.")
    for key in manifest.signing_keys(signer):
        try:
            verify(key, sig, DIGEST_CONTEXT, *_signed_bytes(json_bytes, html_bytes))
        except VerificationFailed:
            continue
        return dict(digest)
    raise VerificationFailed("The digest's signature does not verify with the committee's keys.")
