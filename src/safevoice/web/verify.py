"""Compare a live SafeVoice server with a published page bundle (``safevoice web verify``).

Given only the server's address and the bundle hash the organisation published, it fetches the
bundle record and checks that its SHA-256 is that hash; then that every file the record lists
(scripts, style and every language's catalogue) is served byte for byte (compressed and
uncompressed) with the recorded Content-Security-Policy; and that every reporter page (the start
page, the follow-up page and each channel's report page) is served with the recorded page
policy, runs no script but the recorded ones (no inline script but the recorded worker starter,
byte for byte; no event-handler attribute) and refers to no other origin.

What this shows is what the server sent to this client at this moment. A server can tell
clients apart and serve another page to someone else; SECURITY.md says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from safevoice.web.bundle import RECORD_NAME, catalogue_language

DATA_BLOCK_TYPES = ("application/json",)
FORBIDDEN_TAGS = ("base", "iframe", "frame", "object", "embed", "applet", "portal")
URL_ATTRIBUTES = ("src", "href", "action", "formaction", "poster", "data", "srcset", "ping")


@dataclass
class Report:
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> bool:
        self.checks.append((ok, what))
        return ok

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for ok, _ in self.checks)


@dataclass
class PageScan:
    """What a page's HTML would run or load."""

    scripts: list[str] = field(default_factory=list)
    inline_scripts: int = 0
    # The text of each inline script, in page order.
    inline_texts: list[str] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scan = PageScan()
        self._in_script: dict[str, str | None] | None = None
        self._script_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.scan.handlers.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES and value:
                self.scan.urls.append(value)
        if tag in FORBIDDEN_TAGS:
            self.scan.forbidden.append(tag)
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.scan.forbidden.append("meta refresh")
        if tag == "script":
            self._in_script = values
            self._script_text = ""

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self._script_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag != "script" or self._in_script is None:
            return
        values, self._in_script = self._in_script, None
        kind = (values.get("type") or "").strip().lower()
        if kind in DATA_BLOCK_TYPES and not values.get("src"):
            return
        if values.get("src"):
            self.scan.scripts.append(values["src"] or "")
        if self._script_text.strip() or not values.get("src"):
            self.scan.inline_scripts += 1
            self.scan.inline_texts.append(self._script_text)


def scan_html(html: str) -> PageScan:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.scan


def external_references(base: str, urls: list[str]) -> list[str]:
    """URLs in a page that point anywhere but the page's own origin."""
    origin = urlsplit(base)
    outside = []
    for raw in urls:
        for candidate in raw.split(",") if "," in raw else [raw]:
            url = candidate.strip().split(" ")[0]
            target = urlsplit(urljoin(base, url))
            if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
                outside.append(url)
    return outside


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_page(report: Report, http: httpx.Client, path: str, record: dict[str, Any]) -> None:
    response = http.get(path)
    if not report.check(response.status_code == 200, f"{path} answers 200"):
        return
    report.check(
        response.headers.get("content-security-policy") == record.get("page_csp"),
        f"{path} is served with the bundle's page Content-Security-Policy",
    )
    scan = scan_html(response.text)
    allowed = set(record["scripts"])
    report.check(
        set(scan.scripts) <= allowed and len(scan.scripts) == len(set(scan.scripts)),
        f"{path} loads no script but the bundle's ({', '.join(scan.scripts) or 'none'})",
    )
    starter = record["files"].get(record.get("starter"), {}).get("sha256")
    inline = [_sha256(text.encode("utf-8")) for text in scan.inline_texts]
    report.check(
        all(digest == starter for digest in inline) and len(inline) <= 1,
        f"{path} has no inline script but the bundle's worker starter",
    )
    report.check(not scan.handlers, f"{path} has no event-handler attribute")
    report.check(not scan.forbidden, f"{path} has no frame, object, base or refresh")
    outside = external_references(str(response.url), scan.urls)
    report.check(not outside, f"{path} refers to no other origin ({', '.join(outside) or 'none'})")
    static = [u for u in scan.urls if u.startswith("/static/")]
    report.check(
        all(u in record["files"] for u in static), f"{path} uses only the bundle's static files"
    )


def verify(url: str, bundle_hash: str, *, proxy: str | None = None) -> Report:
    report = Report()
    with httpx.Client(
        base_url=url,
        proxy=proxy,
        timeout=60,
        follow_redirects=False,
        headers={"User-Agent": "SafeVoice"},
    ) as http:
        answer = http.get(f"/{RECORD_NAME}", headers={"Accept-Encoding": "identity"})
        record_ok = answer.status_code == 200 and _sha256(answer.content) == bundle_hash
        if not report.check(record_ok, "the bundle record's hash is the published bundle hash"):
            return report
        record = json.loads(answer.content)
        for path, entry in sorted(record["files"].items()):
            lang = catalogue_language(path)
            what = f"the catalogue of the language {lang!r}, {path}" if lang else path
            for encoding in ("gzip", "identity"):
                served = http.get(path, headers={"Accept-Encoding": encoding})
                report.check(
                    served.status_code == 200 and _sha256(served.content) == entry["sha256"],
                    f"{what} ({encoding}) is the bundle's file byte for byte",
                )
                report.check(
                    served.headers.get("content-security-policy") == record["csp"],
                    f"{what} ({encoding}) carries the bundle's Content-Security-Policy",
                )
        channels = http.get("/api/v1/channels")
        names = [c["name"] for c in channels.json()] if channels.status_code == 200 else []
        report.check(bool(names), "the server lists its channels")
        pages = ["/", "/follow-up", *(f"/report/{quote(name, safe='')}" for name in names)]
        for path in pages:
            _check_page(report, http, path, record)
    return report
