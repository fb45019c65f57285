"""The browser's reader (crypto.js ``readThread``) and the command-line client's
(``read_as_reporter``) judge the same threads the same way.

Threads are built here as a reporter's and members' clients build them (a report, messages, a
signed acknowledgement, a recusal's new key epoch, messages in the new epoch) and then tampered
with as a malicious server would; both readers must find every problem, and show the same words
where there is none. The Chromium tests (test_follow_up_browser.py) drive the same reader
through the real pages.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from safevoice.client.reader import read_as_reporter
from safevoice.clock import utcnow
from safevoice.crypto.casefile import (
    REPORTER,
    STATUS_FORMAT,
    body_plaintext,
    create_case,
    epoch_plaintext,
    member_label,
    message_plaintext,
)
from safevoice.crypto.code import ReporterKeys, derive_reporter_keys, generate_code, parse_code
from safevoice.crypto.encoding import b64e
from safevoice.crypto.envelope import GENESIS, CaseKeys, Envelope, new_key, seal, wrap_case_keys
from safevoice.crypto.keys import KeyPair, random_bytes
from safevoice.crypto.manifest import Manifest
from safevoice.dialogue.schemas import ReporterCaseView
from safevoice.errors import SafeVoiceError
from tests.support.world import CODE_KDF, World
from tests.web.test_browser_crypto import run_node

ACKNOWLEDGED_ON = "2026-01-05"


def keys_hex(keys: ReporterKeys) -> dict[str, str]:
    return {
        "reply_secret_hex": keys.reply_secret.hex(),
        "sign_seed_hex": keys.sign_seed.hex(),
        "sign_public_hex": keys.sign_public.hex(),
    }


def reporter_keys(manifest: Manifest) -> ReporterKeys:
    return derive_reporter_keys(
        parse_code(generate_code(1)),
        salt=manifest.instance_salt,
        opslimit=CODE_KDF.opslimit,
        memlimit=CODE_KDF.memlimit,
    )


@dataclass
class Thread:
    """A case's thread as the server would store it, built by honest clients."""

    manifest: Manifest
    reporter: ReporterKeys
    case_id: bytes = b""
    epoch: int = 0
    keys: dict[int, CaseKeys] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    wrapped: list[dict[str, Any]] = field(default_factory=list)
    acknowledged_on: str | None = None

    @classmethod
    def report(cls, manifest: Manifest, reporter: ReporterKeys, text: str) -> Thread:
        new = create_case(
            manifest, reporter, channel="general", text=text, answers={"where": "Bay"}
        )
        thread = cls(manifest=manifest, reporter=reporter, case_id=new.case_id)
        thread.keys[0] = new.keys
        thread.objects.append({"chain": "thread", "seq": 0, "envelope": new.report.to_json()})
        thread.wrapped.append(
            {"epoch": 0, "recipient": REPORTER, "sealed": b64e(new.wrapped[REPORTER])}
        )
        return thread

    @property
    def head(self) -> tuple[int, bytes]:
        last = Envelope.from_json(self.objects[-1]["envelope"])
        return last.seq, last.transcript_hash()

    def add(self, kind: str, plaintext: bytes, *, sender: str, sign_seed: bytes) -> None:
        seq, prev = self.head
        envelope = seal(
            self.keys[self.epoch].thread,
            plaintext,
            case_id=self.case_id,
            kind=kind,
            sender=sender,
            seq=seq + 1,
            prev=prev,
            epoch=self.epoch,
            sign_seed=sign_seed,
        )
        self.objects.append({"chain": "thread", "seq": seq + 1, "envelope": envelope.to_json()})

    def member_says(self, member: KeyPair, text: str) -> None:
        self.add(
            "message",
            message_plaintext(text),
            sender=member_label(member.public.id),
            sign_seed=member.sign_seed,
        )

    def reporter_says(self, text: str) -> None:
        self.add(
            "message", message_plaintext(text), sender=REPORTER, sign_seed=self.reporter.sign_seed
        )

    def acknowledge(self, member: KeyPair) -> None:
        plaintext = body_plaintext(
            STATUS_FORMAT, status="acknowledged", outcome=None, on=ACKNOWLEDGED_ON, text="Received."
        )
        self.add(
            "status", plaintext, sender=member_label(member.public.id), sign_seed=member.sign_seed
        )
        self.acknowledged_on = ACKNOWLEDGED_ON

    def rekey(self, member: KeyPair, labels: list[str]) -> None:
        """A new epoch, as `safevoice cases rekey` makes it after a recusal."""
        new_epoch = self.epoch + 1
        fresh = CaseKeys(thread=new_key(), committee=new_key())
        plaintext = epoch_plaintext(
            case_id=self.case_id,
            epoch=new_epoch,
            labels=[*labels, REPORTER],
            earlier=dict(self.keys),
            committee_key=fresh.committee or b"",
            manifest_version=self.manifest.version,
            heads={"thread": self.head, "committee": (-1, GENESIS)},
        )
        self.keys[new_epoch] = fresh
        self.epoch = new_epoch
        self.add(
            "epoch", plaintext, sender=member_label(member.public.id), sign_seed=member.sign_seed
        )
        self.wrapped = [
            {
                "epoch": new_epoch,
                "recipient": REPORTER,
                "sealed": b64e(
                    wrap_case_keys(
                        self.reporter.reply_public,
                        case_id=self.case_id,
                        epoch=new_epoch,
                        recipient=REPORTER,
                        keys=CaseKeys(thread=fresh.thread, committee=None),
                    )
                ),
            }
        ]

    def view(self) -> dict[str, Any]:
        return {
            "case": {
                "id": b64e(self.case_id),
                "status": "acknowledged" if self.acknowledged_on else "received",
                "received_on": "2026-01-02",
                "ack_due_on": "2026-01-09",
                "feedback_due_on": "2026-04-05",
                "acknowledged_on": self.acknowledged_on,
                "closed_on": None,
                "epoch": self.epoch,
            },
            "objects": copy.deepcopy(self.objects),
            "wrapped_keys": copy.deepcopy(self.wrapped),
        }


def at(view: dict[str, Any], seq: int) -> dict[str, Any]:
    return next(o for o in view["objects"] if o["seq"] == seq)


def without(view: dict[str, Any], seq: int) -> dict[str, Any]:
    view["objects"] = [o for o in view["objects"] if o["seq"] != seq]
    return view


@pytest.fixture(scope="module")
def scene(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Threads and their tampered copies (built once: each code costs an Argon2id run)."""
    instance_key = random_bytes(32)
    manifest, signed = world.manifest(instance_key)
    alice, bob = world.members["alice"], world.members["bob"]
    reporter = reporter_keys(manifest)

    long_thread = Thread.report(manifest, reporter, "The scales are rigged.")
    long_thread.member_says(alice, "Which scales?")
    long_thread.acknowledge(alice)
    long_thread.reporter_says("The ones in bay 3. שלום 👋🏽")
    long_thread.rekey(bob, [member_label("alice"), member_label("bob")])
    long_thread.member_says(bob, "Thank you; we are looking into it.")
    intact = long_thread.view()

    other = Thread.report(manifest, reporter_keys(manifest), "Another case.")
    other.member_says(alice, "A message of another case.")

    unacknowledged = Thread.report(manifest, reporter, "Nobody answered.")
    unacknowledged.member_says(alice, "Looking into it.")
    forged_ack = unacknowledged.view()
    forged_ack["case"]["acknowledged_on"] = ACKNOWLEDGED_ON

    scenarios: dict[str, dict[str, Any]] = {"intact": intact, "forged acknowledgement": forged_ack}
    scenarios["delete a message in the middle"] = without(copy.deepcopy(intact), 3)
    swapped = copy.deepcopy(intact)
    swapped["objects"][1]["seq"], swapped["objects"][2]["seq"] = 2, 1
    scenarios["swap two messages"] = swapped
    replayed = copy.deepcopy(intact)
    at(replayed, 5)["envelope"] = copy.deepcopy(at(intact, 1)["envelope"])
    scenarios["replay an old message"] = replayed
    moved = copy.deepcopy(intact)
    at(moved, 1)["envelope"] = other.view()["objects"][1]["envelope"]
    scenarios["move a message from another case"] = moved
    sender = copy.deepcopy(intact)
    at(sender, 1)["envelope"]["sender"] = member_label("carol")
    scenarios["change a sender"] = sender
    unsigned = copy.deepcopy(intact)
    at(unsigned, 2)["envelope"]["sig"] = b64e(bytes(64))
    scenarios["unsigned acknowledgement"] = unsigned
    scenarios["epoch record removed"] = without(copy.deepcopy(intact), 4)
    stranger = reporter_keys(manifest)

    spec = {
        "manifest": signed.to_json(),
        "pin": world.pin,
        "now_ms": int(utcnow().timestamp() * 1000),
        "reporter": keys_hex(reporter),
        "scenarios": [
            *({"name": name, "view": view} for name, view in scenarios.items()),
            {"name": "another code", "view": intact, "reporter": keys_hex(stranger)},
        ],
    }
    path = tmp_path_factory.mktemp("threads") / "spec.json"
    path.write_text(json.dumps(spec))
    browser = json.loads(run_node("thread.mjs", str(path)).strip().splitlines()[-1])
    return {
        "scenarios": scenarios,
        "browser": browser,
        "manifest": manifest,
        "reporter": reporter,
        "stranger": stranger,
    }


def python_reads(scene: dict[str, Any], name: str) -> Any:
    view = ReporterCaseView.model_validate(scene["scenarios"][name])
    return read_as_reporter(view, reporter=scene["reporter"], manifest=scene["manifest"])


def test_an_intact_thread_across_key_epochs_reads_the_same_in_the_browser_and_in_python(
    scene: dict[str, Any],
) -> None:
    browser = scene["browser"]["intact"]
    python = python_reads(scene, "intact")

    assert browser["problems"] == []
    assert python.problems == []
    assert browser["acknowledged"] is True
    assert [o["kind"] for o in browser["objects"]] == [
        "report",
        "message",
        "status",
        "message",
        "epoch",
        "message",
    ]
    assert all(o["verified"] for o in browser["objects"])
    assert [o["text"] for o in browser["objects"]] == [
        o.text if o.kind != "report" else python.report.text for o in python.thread()
    ]
    assert browser["objects"][3]["text"] == "The ones in bay 3. שלום 👋🏽"
    assert browser["objects"][2]["status"] == "acknowledged"
    assert browser["head"] == 5


EXPECTED = {
    "delete a message in the middle": ("missing_before", 4),
    "swap two messages": ("moved", 1),
    "replay an old message": ("moved", 5),
    "move a message from another case": ("moved", 1),
    "change a sender": ("bad_signature", 1),
    "unsigned acknowledgement": ("bad_signature", 2),
    "forged acknowledgement": ("unsigned_ack", None),
    "epoch record removed": ("epoch_missing", None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_tampered_thread_is_flagged_by_the_browser_and_by_python(
    scene: dict[str, Any], name: str
) -> None:
    browser = scene["browser"][name]
    python = python_reads(scene, name)
    code, seq = EXPECTED[name]

    assert python.problems, name
    assert code in browser["problems"], browser
    assert seq in browser["at"], browser
    if name in ("unsigned acknowledgement", "forged acknowledgement"):
        assert "unsigned_ack" in browser["problems"]
        assert browser["acknowledged"] is False


def test_a_thread_opened_with_another_code_is_refused_by_both(scene: dict[str, Any]) -> None:
    view = ReporterCaseView.model_validate(scene["scenarios"]["intact"])
    with pytest.raises(SafeVoiceError):
        read_as_reporter(view, reporter=scene["stranger"], manifest=scene["manifest"])
    assert scene["browser"]["another code"] == {"error": "verification"}
