"""What the pages say and what the server-sealed form does, in process on both databases."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import text

from safevoice.crypto.casefile import MAX_TEXT_CHARS, member_label, parse_report
from safevoice.crypto.code import parse_code
from safevoice.crypto.encoding import b64d
from safevoice.crypto.envelope import Envelope, decrypt, unwrap_case_keys
from safevoice.crypto.keys import format_fingerprint
from safevoice.crypto.login import random_id
from safevoice.errors import Unavailable
from safevoice.i18n import TEMPLATE, Catalogue, languages
from safevoice.instance import service as instance
from safevoice.intake.sealed import SealingSlots
from safevoice.settings import Settings
from safevoice.storage.db import Database
from safevoice.web.app import create_app
from safevoice.web.bundle import Bundle, format_digest
from tests.support.asgi import client_for
from tests.support.canary import new_canary, occurrences, scan_paths
from tests.support.databases import CHANNELS, data_paths
from tests.support.world import World

t = Catalogue.load()
ASSETS = Path(__file__).resolve().parents[2] / "src/safevoice/web/assets"
TEMPLATES = Path(__file__).resolve().parents[2] / "src/safevoice/web/templates"


def pages(database: Database, url: str, bundle: Bundle, *, nojs: bool) -> httpx.Client:
    settings = Settings(
        database_url=url, bundle_dir=bundle.folder, snapshot_ttl_seconds=0, nojs_enabled=nojs
    )
    return client_for(create_app(settings, database=database))


@pytest.fixture
def web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with database.unit_of_work() as session:
        instance.set_external_channels(
            session,
            [
                {
                    "name": "Labour inspectorate",
                    "description": "Safety.",
                    "address": "https://x.example/",
                }
            ],
        )
    with pages(database, database_url, web_bundle, nojs=False) as http:
        yield http


@pytest.fixture
def sealed_web(database: Database, database_url: str, web_bundle: Bundle) -> Iterator[httpx.Client]:
    with pages(database, database_url, web_bundle, nojs=True) as http:
        yield http


class TextNodes(HTMLParser):
    """The text a person sees (outside script, style and data blocks)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def test_the_start_page_explains_what_is_kept_advises_tor_and_shows_what_to_compare(
    web: httpx.Client, web_bundle: Bundle, world: World
) -> None:
    page = web.get("/").text
    for key in (
        "Use a personal device, not one from work. Your employer's computers, phones and "
        "networks may record what you type and which sites you visit.",
        'If you can, use Tor Browser (from torproject.org) at its "Standard" security level. '
        "It hides from the network and from this server where you connect from.",
        "your IP address or details about your browser or device;",
        "which committee members received a key, so also whom you chose to exclude.",
        "You may also report directly to the competent authorities, instead of or in addition"
        " to this channel.",
    ):
        assert t(key).replace('"', "&#34;").replace("'", "&#39;") in page, key
    assert format_fingerprint(world.pin) in page
    assert format_digest(web_bundle.digest) in page
    assert "Labour inspectorate" in page
    assert "https://x.example/" in page
    assert 'href="/report/general"' in page
    assert 'href="https://x.example/"' not in page


def test_every_string_a_person_sees_comes_from_the_catalogue_or_the_instance(
    web: httpx.Client, sealed_web: httpx.Client
) -> None:
    with TEMPLATE.open("rb") as f:
        allowed = {" ".join(str(m.id).split()) for m in read_po(f) if m.id}
    for channel in CHANNELS:
        allowed |= {str(channel["title"]), str(channel.get("description", ""))}
        for q in channel.get("questions", []):  # type: ignore[attr-defined]  # the channel is parsed JSON typed as object; the page data has this shape
            allowed |= {q["label"], *q.get("options", [])}
        kept = channel["retention"]
        allowed.add(t.retention(kept["days_after_closure"], kept["max_age_days"]))  # type: ignore[index]  # the parsed --json output is typed as object values; the test reads its known shape
    allowed |= {"Alice", "Bob", "Carol", "Labour inspectorate", "Safety.", "https://x.example/"}
    # The language menu names each language in itself.
    allowed |= {Catalogue.load(lang).name for lang in languages()}
    allowed |= {
        t(
            "Up to %(max)s characters; a longer text is refused, never cut.",
            max=f"{MAX_TEXT_CHARS:,}",
        )
    }
    pages = [
        (web, "/"),
        (web, "/report/general"),
        (sealed_web, "/report/general"),
        (web, "/follow-up"),
        (sealed_web, "/follow-up"),
    ]
    for client, path in pages:
        parser = TextNodes()
        parser.feed(client.get(path).text)
        fingerprints = re.compile(r"^[0-9a-f]{4}(-[0-9a-f]{4}){9}$|^[0-9a-f]{8}( [0-9a-f]{8}){7}$")
        strays = [s for s in parser.texts if s not in allowed and not fingerprints.match(s)]
        assert strays == [], path


def _table(script: str, name: str) -> set[str]:
    """The codes of one of the scripts' tables of texts (``const NAME = { code: N_("…"), }``)."""
    body = script[script.index(f"const {name} = {{") :]
    return set(re.findall(r"^  (\w+): N_\(", body[: body.index("\n};")], re.MULTILINE))


def test_the_scripts_have_a_text_for_every_reason_the_worker_gives() -> None:
    ui = (ASSETS / "ui.js").read_text()
    worker = (ASSETS / "worker.js").read_text()
    reasons = set(re.findall(r'Refusal\("(\w+)"\)', worker)) | {"not_ready", "internal"}
    assert reasons <= _table(ui, "FAILED_TEXTS")
    (known,) = re.findall(r"const known = \[([^\]]*)\]", worker)
    refusals = set(re.findall(r'"(\w+)"', known)) | {"manifest", "broken"}
    assert refusals <= _table(ui, "REFUSED_TEXTS")


def test_the_catalogue_explains_every_problem_the_browser_s_reader_can_find() -> None:
    crypto = (ASSETS / "crypto.js").read_text()
    reader = crypto[crypto.index("// --- reading the thread") : crypto.index("// --- receipts")]
    codes = set(
        re.findall(
            r'(?:problemAt|answer)\("(\w+)"|problem \|\| "(\w+)"|return "(\w+)"'
            r'|(?:envelope|signature): "(\w+)"|found \|\| "(\w+)"',
            reader,
        )
    )
    found = {code for groups in codes for code in groups if code}
    assert {"moved", "older_epoch", "epoch_late", "epoch_rollback", "epoch_sender"} <= found
    followup = (ASSETS / "followup.js").read_text()
    assert sorted(found - _table(followup, "PROBLEM_TEXTS")) == []
    worker = (ASSETS / "worker.js").read_text()
    (unsent,) = re.findall(r'sent: false, reason: [^?]+\? "(\w+)" : "(\w+)" \}', worker)
    assert set(unsent) == {"changed", "held"}
    assert set(unsent) <= _table(followup, "NOT_SENT_TEXTS")


def test_the_report_page_embeds_its_data_and_strings_and_loads_only_the_bundle(
    web: httpx.Client, web_bundle: Bundle
) -> None:
    page = web.get("/report/general").text
    block = re.search(r'<script type="application/json" id="sv-intake">(.*?)</script>', page)
    assert block is not None
    data = json.loads(block.group(1))
    assert set(data) == {"manifest", "channels", "challenge", "limits", "archive"}
    assert data["challenge"]["purpose"] == "submit"
    assert f'<script type="module" src="{web_bundle.page_script}"></script>' in page
    # The page script, two data blocks and the inline worker starter.
    assert page.count("<script") == 4
    assert "hidden>" in page.split('id="report-form"')[1].split("\n")[0] + ">"


@pytest.mark.parametrize("path", ["/report/general", "/follow-up"])
def test_the_first_response_starts_the_worker_before_the_stylesheet_by_a_pinned_inline_script(
    web: httpx.Client, web_bundle: Bundle, path: str
) -> None:
    """The page itself names the worker, so the browser fetches it beside the page's script
    and stylesheet instead of after the script; the policy allows that one script by hash."""
    response = web.get(path)
    page = response.text
    starter = f"<script>{web_bundle.starter_text}</script>"
    assert page.count(starter) == 1
    assert f'"{web_bundle.worker_script}"' in web_bundle.starter_text
    assert page.index(starter) < page.index(f'href="{web_bundle.stylesheet}"')
    digest = hashlib.sha256(web_bundle.starter_text.encode()).digest()
    policy = response.headers["content-security-policy"]
    assert f"'sha256-{base64.b64encode(digest).decode()}'" in policy
    assert "'unsafe-inline'" not in policy
    assert web.get("/").text.count("<script>") == 0


def test_with_the_form_off_a_posted_report_is_refused_unread_and_nothing_is_stored(
    web: httpx.Client, database_url: str
) -> None:
    canary = new_canary()
    answer = web.post("/report/general", data={"text": canary, "answer.where": "Depot"})
    assert answer.status_code == 403
    assert canary not in answer.text
    assert not scan_paths(data_paths(database_url), canary)
    assert count_cases(database_url) == 0


def count_cases(url: str) -> int:
    database = Database.connect(url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM case_file")).scalar_one())
    finally:
        database.dispose()


def test_the_server_sealed_form_stores_a_marked_case_only_the_chosen_members_can_open(
    sealed_web: httpx.Client, database_url: str, world: World
) -> None:
    canary = new_canary()
    answer = sealed_web.post(
        "/report/general",
        data={
            "form_token": random_id(),
            # Longer than the old 20,000-character limit: sent and stored whole.
            "text": f"Safety records were altered. {canary}" + " More detail." * 2_000,
            "answer.where": f"Depot {canary}",
            "answer.ongoing": "Yes",
            "answer.when": "",
            "exclude": "bob",
        },
    )
    assert answer.status_code == 200
    # The code page says what happens next, with the days the server stores.
    assert t("What happens next") in answer.text
    # The days are written as a reader writes them (Babel, English here), not as ISO dates.
    assert re.search(r"By [A-Z][a-z]+ \d{1,2}, \d{4}: a committee member acknowledges", answer.text)
    assert t.retention(60, 1095) in answer.text
    code = re.search(r'id="follow-up-code">([0-9A-Z-]+)<', answer.text)
    assert code is not None
    parse_code(code.group(1))
    assert canary not in answer.text

    database = Database.connect(database_url, pool_size=1)
    try:
        with database.reader.connect() as connection:
            case_id, mode = connection.execute(text("SELECT id, intake_mode FROM case_file")).one()
            wraps: dict[str, bytes] = dict(
                connection.execute(
                    text("SELECT recipient, sealed FROM wrapped_key WHERE case_id = :c"),
                    {"c": case_id},
                ).all()
            )
            envelope = connection.execute(
                text("SELECT envelope FROM case_object WHERE case_id = :c"), {"c": case_id}
            ).scalar_one()
            staged = [
                json.loads(bytes(b))
                for (b,) in connection.execute(text("SELECT body FROM audit_staging"))
            ]
    finally:
        database.dispose()
    assert mode == "server_sealed"
    assert set(wraps) == {"member:alice", "member:carol", "reporter"}
    assert {"event": "case.server_sealed", "case_id": case_id} in [
        {"event": s["event"], "case_id": s["case_id"]} for s in staged
    ]
    assert all(s["actor"] == "reporter" and "T" not in s["on"] for s in staged)
    alice = world.members["alice"]
    assert alice.box_secret is not None
    case_bytes = b64d(case_id, size=16)
    keys = unwrap_case_keys(
        alice.box_secret,
        bytes(wraps["member:alice"]),
        case_id=case_bytes,
        epoch=0,
        recipient=member_label("alice"),
    )
    report = parse_report(
        decrypt(keys.thread, Envelope.from_json(json.loads(bytes(envelope)))), case_id=case_bytes
    )
    assert canary in report.text
    assert report.text.endswith(" More detail." * 2_000)
    assert report.answers == {"where": f"Depot {canary}", "ongoing": "Yes"}
    assert not scan_paths(data_paths(database_url), canary)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"text": "   ", "answer.where": "Depot {c}"}, 400),
        ({"text": "Something happened. {c}"}, 400),
        ({"text": "{c}", "answer.where": "Depot", "answer.ongoing": "Maybe"}, 400),
        ({"text": "{c}", "answer.where": "Depot", "answer.when": "yesterday"}, 400),
        ({"text": "{c}", "answer.where": "Depot", "surprise": "1"}, 400),
        ({"text": "{c}", "answer.where": "Depot", "exclude": ["alice", "bob", "carol"]}, 400),
        ({"text": "{c}" + "x" * MAX_TEXT_CHARS, "answer.where": "Depot"}, 413),
        ({"text": "{c}" + "é" * MAX_TEXT_CHARS, "answer.where": "Depot"}, 413),
    ],
)
def test_the_server_sealed_form_refuses_bad_input_without_repeating_it_or_storing_anything(
    sealed_web: httpx.Client, database_url: str, form: dict[str, object], status: int
) -> None:
    canary = new_canary()
    filled = {k: v.replace("{c}", canary) if isinstance(v, str) else v for k, v in form.items()}
    filled["form_token"] = random_id()
    answer = sealed_web.post("/report/general", data=filled)
    assert answer.status_code == status
    assert not occurrences(answer.content, canary)
    assert count_cases(database_url) == 0


def test_the_server_sealed_form_takes_no_multipart_body_and_knows_its_channels(
    sealed_web: httpx.Client, database_url: str
) -> None:
    multipart = sealed_web.post(
        "/report/general", data={"text": "x"}, files={"file": ("a.txt", b"secret")}
    )
    assert multipart.status_code == 400
    unknown = sealed_web.post("/report/nowhere", data={"text": "x"})
    assert unknown.status_code == 404
    assert count_cases(database_url) == 0


def test_sealing_slots_bound_how_many_reports_are_sealed_at_once() -> None:
    slots = SealingSlots(1, wait_seconds=0.05)
    slots.acquire()
    with pytest.raises(Unavailable):
        slots.acquire()
    slots.release()
    slots.acquire()
    slots.release()


@pytest.mark.parametrize(
    ("path", "script_form"), [("/report/general", "report-form"), ("/follow-up", "login-form")]
)
def test_with_the_sealed_forms_on_only_a_browser_without_scripts_gets_a_form_that_posts_plainly(
    sealed_web: httpx.Client, path: str, script_form: str
) -> None:
    page = sealed_web.get(path).text
    assert re.search(rf'<form id="{script_form}"[^>]* hidden>', page), "shown before the script"
    noscript = page.split("<noscript>", 1)[1].split("</noscript>", 1)[0]
    assert '<form id="sealed-form" method="post"' in noscript
    assert page.count('<form id="sealed-form"') == 1
