"""The browser's reader (crypto.js ``readThread``) and the command-line client's
(``read_as_reporter``) judge the same threads the same way.

Threads are built here as a reporter's and members' clients build them (a report, messages, a
signed acknowledgement, a recusal's new key epoch, messages in the new epoch) and then tampered
with as a malicious server would; both readers must find every problem, and show the same words
where there is none. The key lifecycle is read the same way too: a member's key rotated, a
member removed, every member's key lost and the archive recipient re-keying, each before and
after the re-key, with what a removed or retired key might try afterwards and the ordering
rules of the re-key (protocol 6.9). Every problem the Python reader reports is translated to
the browser's code for it, and the two lists must be equal, in order. The Chromium tests
(test_follow_up_browser.py, test_key_change_browser.py) drive the same reader through the real
pages.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

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
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.envelope import (
    GENESIS,
    CaseKeys,
    Envelope,
    decrypt,
    new_key,
    seal,
    wrap_case_keys,
)
from safevoice.crypto.keys import KeyPair, generate, random_bytes
from safevoice.crypto.manifest import (
    MANIFEST_CONTEXT,
    Manifest,
    Signature,
    SignedManifest,
    sign_manifest,
    successor,
    verify_manifest,
)
from safevoice.crypto.redaction import redact
from safevoice.errors import ManifestError, SafeVoiceError
from safevoice.protocol.reader import REDACTION_PROBLEM, UNREADABLE, ReadCase, read_as_reporter
from safevoice.protocol.wire import ReporterCaseView
from safevoice.protocol.workflow import sender_label
from tests.support.world import CODE_KDF, World
from tests.web.test_browser_crypto import run_node

ACKNOWLEDGED_ON = "2026-01-05"
RECEIVED_ON = "2026-01-02"
FEEDBACK_DUE = "2026-04-05"


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
    """A case's thread as the server would store it, built by honest clients (and, where a
    test says so, by someone holding a key they should not use)."""

    manifest: Manifest
    reporter: ReporterKeys
    case_id: bytes = b""
    epoch: int = 0
    keys: dict[int, CaseKeys] = field(default_factory=dict)
    objects: list[dict[str, Any]] = field(default_factory=list)
    wrapped: list[dict[str, Any]] = field(default_factory=list)
    acknowledged_on: str | None = None
    status: str | None = None

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

    def copy(self) -> Thread:
        return copy.deepcopy(self)

    @property
    def head(self) -> tuple[int, bytes]:
        item = self.objects[-1]
        last = Envelope.from_json(item["envelope"])
        if "redaction" in item:
            return last.seq, b64d(item["redaction"]["hash"])
        return last.seq, last.transcript_hash()

    def add(
        self,
        kind: str,
        plaintext: bytes,
        *,
        sender: str,
        sign_seed: bytes,
        epoch: int | None = None,
    ) -> None:
        seq, prev = self.head
        epoch = self.epoch if epoch is None else epoch
        envelope = seal(
            self.keys[epoch].thread,
            plaintext,
            case_id=self.case_id,
            kind=kind,
            sender=sender,
            seq=seq + 1,
            prev=prev,
            epoch=epoch,
            sign_seed=sign_seed,
        )
        self.objects.append({"chain": "thread", "seq": seq + 1, "envelope": envelope.to_json()})

    def member_says(
        self, member: KeyPair, text: str, *, epoch: int | None = None, kind: str = "message"
    ) -> None:
        """A message signed with ``member``'s key, under the label its key file names."""
        self.add(
            kind,
            message_plaintext(text),
            sender=sender_label(member),
            sign_seed=member.sign_seed,
            epoch=epoch,
        )

    def reporter_says(self, text: str) -> None:
        self.add(
            "message", message_plaintext(text), sender=REPORTER, sign_seed=self.reporter.sign_seed
        )

    def acknowledge(self, member: KeyPair) -> None:
        plaintext = body_plaintext(
            STATUS_FORMAT, status="acknowledged", outcome=None, on=ACKNOWLEDGED_ON, text="Received."
        )
        self.add("status", plaintext, sender=sender_label(member), sign_seed=member.sign_seed)
        self.acknowledged_on = ACKNOWLEDGED_ON

    def move(self, member: KeyPair, status: str, *, received_on: str = RECEIVED_ON) -> None:
        """A status object as `safevoice cases status` writes it now: attesting the day of
        receipt and the intake mode, and naming the committee chain's head."""
        plaintext = body_plaintext(
            STATUS_FORMAT,
            status=status,
            outcome=None,
            on=ACKNOWLEDGED_ON,
            text="Moved on.",
            received_on=received_on,
            intake_mode="e2e",
            feedback_due=FEEDBACK_DUE,
            committee_head=[-1, b64e(GENESIS)],
        )
        self.add("status", plaintext, sender=sender_label(member), sign_seed=member.sign_seed)
        if status == "acknowledged":
            self.acknowledged_on = ACKNOWLEDGED_ON
        self.status = status

    def rekey(
        self,
        signer: KeyPair,
        labels: list[str],
        *,
        manifest_version: int,
        heads: dict[str, tuple[int, bytes]] | None = None,
        thread_keys: dict[int, CaseKeys] | None = None,
        epoch: int | None = None,
    ) -> None:
        """A new epoch, as `safevoice cases rekey` makes it (protocol/workflow.py rekey_body):
        the record names the manifest version the signer verified and the heads it saw."""
        new_epoch = self.epoch + 1 if epoch is None else epoch
        fresh = CaseKeys(thread=new_key(), committee=new_key())
        plaintext = epoch_plaintext(
            case_id=self.case_id,
            epoch=new_epoch,
            labels=[*labels, REPORTER],
            earlier=dict(self.keys) if thread_keys is None else thread_keys,
            committee_key=fresh.committee or b"",
            manifest_version=manifest_version,
            heads=heads or {"thread": self.head, "committee": (-1, GENESIS)},
        )
        self.keys[new_epoch] = fresh
        self.epoch = new_epoch
        self.add("epoch", plaintext, sender=sender_label(signer), sign_seed=signer.sign_seed)
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

    def redact(
        self,
        member: KeyPair,
        seq: int,
        text: str,
        *,
        on: str = ACKNOWLEDGED_ON,
        removed: list[dict[str, Any]] | None = None,
    ) -> None:
        """Replace object ``seq`` by a version with ``text``, as `safevoice cases redact` does
        (protocol/workflow.py redaction_body): same key, the member's signed record beside it,
        listing the attached files ``removed`` describes."""
        item = next(o for o in self.objects if o["seq"] == seq)
        original = Envelope.from_json(item["envelope"])
        key = self.keys[original.epoch].thread
        body = json.loads(decrypt(key, original))
        redacted, record = redact(
            original,
            original_hash=original.transcript_hash(),
            key=key,
            plaintext=canonical_json({**body, "text": text}),
            by=sender_label(member),
            on=on,
            sign_seed=member.sign_seed,
            removed=removed or [],
        )
        item["envelope"] = redacted.to_json()
        item["redaction"] = record.to_json()

    def view(self) -> dict[str, Any]:
        return {
            "case": {
                "id": b64e(self.case_id),
                "status": self.status or ("acknowledged" if self.acknowledged_on else "received"),
                "received_on": RECEIVED_ON,
                "ack_due_on": "2026-01-09",
                "feedback_due_on": FEEDBACK_DUE,
                "acknowledged_on": self.acknowledged_on,
                "closed_on": None,
                "epoch": self.epoch,
                "today": "2026-01-05",
                "ack_overdue": False,
                "feedback_overdue": False,
            },
            "objects": copy.deepcopy(self.objects),
            "wrapped_keys": copy.deepcopy(self.wrapped),
        }


def at(view: dict[str, Any], seq: int) -> dict[str, Any]:
    return next(o for o in view["objects"] if o["seq"] == seq)


def without(view: dict[str, Any], seq: int) -> dict[str, Any]:
    view["objects"] = [o for o in view["objects"] if o["seq"] != seq]
    return view


def signed(manifest: Manifest, world: World) -> tuple[Manifest, SignedManifest]:
    return manifest, sign_manifest(manifest, [world.root])


def next_version(
    world: World, previous: Manifest, **changes: Any
) -> tuple[Manifest, SignedManifest]:
    """The committee's next manifest, with every key it no longer lists retired."""
    return signed(successor(previous, root=world.pin, now=utcnow(), days=30, **changes), world)


@dataclass
class Scenario:
    view: dict[str, Any]
    manifest: tuple[Manifest, SignedManifest]
    reporter: ReporterKeys | None = None


def lifecycle(
    world: World, first: tuple[Manifest, SignedManifest], reporter: ReporterKeys
) -> dict[str, Scenario]:
    """Threads across a member's key rotation, a member's removal and an archive re-key, and
    what someone holding a retired key, or a server reordering the thread, could make of them.
    """
    m1 = first[0]
    alice, bob, carol = (world.members[m] for m in ("alice", "bob", "carol"))
    labels = [member_label(m) for m in ("alice", "bob", "carol")]
    scenarios: dict[str, Scenario] = {}

    # Alice's key is rotated (version 2); the new Alice re-keys with her new key.
    new_alice = generate("member", "alice", "Alice")
    m2 = next_version(world, m1, members=(new_alice.public, bob.public, carol.public))
    rotation = Thread.report(m1, reporter, "Invoices are back-dated.")
    rotation.member_says(alice, "Asked with Alice's old key.")
    rotation.reporter_says("Answered before the rotation.")
    scenarios["rotation, before the re-key"] = Scenario(rotation.view(), m2)
    before_rekey = rotation.copy()
    rotation.rekey(new_alice, labels, manifest_version=2)
    after_record = rotation.copy()
    rotation.member_says(new_alice, "Asked with Alice's new key.")
    scenarios["rotation"] = Scenario(rotation.view(), m2)

    retired_writes = after_record.copy()
    retired_writes.member_says(alice, "Signed with the retired key after the re-key.")
    scenarios["the retired key signs in the new epoch"] = Scenario(retired_writes.view(), m2)

    record_by_retired_key = before_rekey.copy()
    record_by_retired_key.rekey(alice, labels, manifest_version=2)
    scenarios["a re-key signed with the retired key"] = Scenario(record_by_retired_key.view(), m2)

    backdated = before_rekey.copy()
    backdated.rekey(alice, labels, manifest_version=1)
    backdated.member_says(alice, "Signed with the retired key in a backdated epoch.")
    scenarios["a re-key backdated to before the rotation"] = Scenario(backdated.view(), m2)
    without_alice = before_rekey.copy()
    without_alice.rekey(alice, labels[1:], manifest_version=1)
    scenarios["a backdated re-key that leaves out its own signer"] = Scenario(
        without_alice.view(), m2
    )

    older = rotation.copy()
    older.member_says(bob, "Added under the old epoch's keys after the re-key.", epoch=0)
    scenarios["an older epoch after the re-key"] = Scenario(older.view(), m2)

    slipped = before_rekey.copy()
    seen_head = slipped.head
    slipped.member_says(bob, "Slipped in between the verified head and the re-key.")
    slipped.rekey(
        new_alice,
        labels,
        manifest_version=2,
        heads={"thread": seen_head, "committee": (-1, GENESIS)},
    )
    scenarios["a message slipped in before the re-key"] = Scenario(slipped.view(), m2)

    differs = before_rekey.copy()
    differs.rekey(
        new_alice,
        labels,
        manifest_version=2,
        heads={"thread": (differs.head[0], bytes(32)), "committee": (-1, GENESIS)},
    )
    scenarios["a re-key that verified another history"] = Scenario(differs.view(), m2)

    early = before_rekey.copy()
    early.keys[1] = CaseKeys(thread=new_key(), committee=None)
    early.member_says(bob, "In epoch 1 before its record.", epoch=1)
    early.rekey(new_alice, labels, manifest_version=2, epoch=1, thread_keys={0: early.keys[0]})
    scenarios["a message begins an epoch before its record"] = Scenario(early.view(), m2)

    twice = rotation.copy()
    twice.rekey(bob, labels, manifest_version=2, epoch=1, thread_keys={0: twice.keys[0]})
    scenarios["a second record for the same epoch"] = Scenario(twice.view(), m2)

    back_in_time = rotation.copy()
    back_in_time.rekey(bob, labels, manifest_version=1)
    scenarios["a re-key claims an older manifest than the epoch before"] = Scenario(
        back_in_time.view(), m2
    )

    ahead = before_rekey.copy()
    ahead.rekey(new_alice, labels, manifest_version=3)
    scenarios["a re-key claims a manifest newer than the one shown"] = Scenario(ahead.view(), m2)

    own_key = before_rekey.copy()
    bogus = {0: own_key.keys[0], 1: CaseKeys(thread=new_key(), committee=None)}
    own_key.rekey(new_alice, labels, manifest_version=2, thread_keys=bogus)
    scenarios["a re-key lists a key for its own epoch"] = Scenario(own_key.view(), m2)

    # Carol is removed (version 2); Alice re-keys without her.
    m2r = next_version(world, m1, members=(alice.public, bob.public))
    removal = Thread.report(m1, reporter, "The scales are rigged.")
    removal.member_says(carol, "Carol asks before leaving.")
    scenarios["removal, before the re-key"] = Scenario(removal.view(), m2r)
    removal.rekey(alice, labels[:2], manifest_version=2)
    removed_writes = removal.copy()
    removal.member_says(alice, "Alice asks after the re-key.")
    scenarios["removal"] = Scenario(removal.view(), m2r)
    removed_writes.member_says(carol, "Carol writes after she was removed.")
    scenarios["a removed member writes after the re-key"] = Scenario(removed_writes.view(), m2r)

    # Every member's key is lost (version 2); the archive recipient re-keys.
    archive = generate("archive", "archive", "Legal archive")
    ma1 = signed(replace(m1, archive=archive.public), world)
    replaced = tuple(generate("member", m, m.title()) for m in ("alice", "bob", "carol"))
    ma2 = next_version(world, ma1[0], members=tuple(k.public for k in replaced))
    archived = Thread.report(ma1[0], reporter, "Records of the spill were destroyed.")
    archived.member_says(alice, "Asked before every key was lost.")
    forged_archive = archived.copy()
    archived.rekey(archive, [*labels, "archive:archive"], manifest_version=2)
    archived.member_says(replaced[0], "Asked with the replacement key.")
    scenarios["archive re-key"] = Scenario(archived.view(), ma2)
    impostor = generate("archive", "archive", "Not the archive")
    forged_archive.rekey(impostor, [*labels, "archive:archive"], manifest_version=2)
    scenarios["an archive re-key signed by another key"] = Scenario(forged_archive.view(), ma2)

    # What a member signs must still be a JSON object, read the same way by both readers.
    for name, plaintext in (
        ("a signed message that is not a JSON object", b"[1]"),
        ("a signed message with NaN", b'{"text": NaN}'),
        ("a signed message with a byte-order mark", b'\xef\xbb\xbf{"text": "x"}'),
    ):
        odd = Thread.report(m1, reporter, "The scales are rigged.")
        odd.add("message", plaintext, sender=sender_label(alice), sign_seed=alice.sign_seed)
        scenarios[name] = Scenario(odd.view(), first)
    return scenarios


def retired_variants(world: World, base: Manifest) -> dict[str, SignedManifest]:
    """A manifest with retired keys, and copies whose retired list breaks a rule of 3.3."""
    payload = base.to_payload()
    entry = payload["retired"][0]
    changes: dict[str, Any] = {
        "valid": payload["retired"],
        "empty list": [],
        "null": None,
        "not a list": entry,
        "retired in a later version": [{**entry, "until_version": base.version + 1}],
        "retired in version 1": [{**entry, "until_version": 1}],
        "version given as true": [{**entry, "until_version": True}],
        "version given as text": [{**entry, "until_version": "2"}],
        "an invalid id": [{**entry, "label": "member:Alice"}],
        "a root label": [{**entry, "label": "root:root"}],
        "no colon": [{**entry, "label": "member"}],
        "a short key": [{**entry, "sign_key": b64e(bytes(31))}],
        "no key": [{k: v for k, v in entry.items() if k != "sign_key"}],
    }
    variants: dict[str, SignedManifest] = {}
    for name, retired in changes.items():
        raw = canonical_json({**payload, "retired": retired})
        variants[name] = SignedManifest(
            payload=raw,
            signatures=(
                Signature(
                    root_fp=world.pin,
                    root_key=world.root.public.sign_key,
                    sig=world.root.sign(MANIFEST_CONTEXT, raw),
                ),
            ),
        )
    return variants


def redactions(
    manifest: Manifest, reporter: ReporterKeys, alice: KeyPair, bob: KeyPair
) -> dict[str, dict[str, Any]]:
    """A report and a message redacted by members (protocol 7.6), and what a server could
    make of a redaction: a record it forged, a record it stripped, a version it swapped."""
    thread = Thread.report(manifest, reporter, "Ask Jane Roe in bay 3, she saw it.")
    thread.member_says(alice, "Who is Jane Roe?")
    thread.reporter_says("My neighbour; her phone is 0170 1234567.")
    thread.acknowledge(alice)
    before = thread.copy()
    thread.redact(alice, 0, "Ask [a colleague] in bay 3, she saw it.")
    thread.redact(bob, 2, "My neighbour; [phone number removed].", removed=REMOVED_FILES)
    views = {"redacted report and message": thread.view()}
    impostor = generate("member", "alice", "Not Alice")
    forged = before.copy()
    forged.redact(impostor, 2, "Something else entirely.")
    views["a redaction signed by a key the committee does not list"] = forged.view()
    stripped = thread.view()
    at(stripped, 2).pop("redaction")
    views["a redaction record stripped"] = stripped
    swapped = thread.view()
    at(swapped, 2)["redaction"]["digest"] = b64e(bytes(32))
    views["a redaction record naming another version"] = swapped
    hidden = thread.view()
    at(hidden, 2)["redaction"].pop("files")
    views["a removal of files the server hid"] = hidden
    added = thread.view()
    at(added, 0)["redaction"]["files"] = at(added, 2)["redaction"]["files"][:1]
    views["a removal of a file the server added"] = added
    return views


# Two files a member removed with a message (protocol 7.6); only their descriptors matter here.
REMOVED_FILES = [
    {
        "upload_id": b64e(bytes([n]) * 16),
        "key": b64e(bytes([n]) * 32),
        "header": b64e(bytes([n]) * 24),
        "name": f"photo-{n}.jpg",
        "type": "image/jpeg",
        "size": 10,
        "chunks": 1,
    }
    for n in (1, 2)
]


@pytest.fixture(scope="module")
def scene(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Threads and their tampered copies (built once: each code costs an Argon2id run)."""
    instance_key = random_bytes(32)
    first = world.manifest(instance_key)
    manifest, _ = first
    alice, bob = world.members["alice"], world.members["bob"]
    reporter = reporter_keys(manifest)

    long_thread = Thread.report(manifest, reporter, "The scales are rigged.")
    long_thread.member_says(alice, "Which scales?")
    long_thread.acknowledge(alice)
    long_thread.reporter_says("The ones in bay 3. שלום 👋🏽")
    long_thread.rekey(bob, [member_label("alice"), member_label("bob")], manifest_version=1)
    long_thread.member_says(bob, "Thank you; we are looking into it.")
    intact = long_thread.view()

    other = Thread.report(manifest, reporter_keys(manifest), "Another case.")
    other.member_says(alice, "A message of another case.")

    unacknowledged = Thread.report(manifest, reporter, "Nobody answered.")
    unacknowledged.member_says(alice, "Looking into it.")
    forged_ack = unacknowledged.view()
    forged_ack["case"]["acknowledged_on"] = ACKNOWLEDGED_ON

    views: dict[str, dict[str, Any]] = {"intact": intact, "forged acknowledgement": forged_ack}
    views["forged closure"] = copy.deepcopy(intact)
    views["forged closure"]["case"]["status"] = "closed"
    attested = Thread.report(manifest, reporter, "The day matters.")
    attested.move(alice, "acknowledged")
    attested.move(alice, "investigating")
    views["attested"] = attested.view()
    views["forged day of receipt"] = attested.view()
    views["forged day of receipt"]["case"]["received_on"] = "2025-12-01"
    views["forged feedback deadline"] = attested.view()
    views["forged feedback deadline"]["case"]["feedback_due_on"] = "2026-07-05"
    attested.move(alice, "action_planned", received_on="2025-12-01")
    views["two statuses attest different days of receipt"] = attested.view()
    strange = Thread.report(manifest, reporter, "Odd status.")
    strange.member_says(alice, "Hello.")
    strange.move(alice, "received")
    views["a signed status outside the workflow"] = strange.view()
    views["a signed status outside the workflow"]["case"]["status"] = "received"
    views["delete a message in the middle"] = without(copy.deepcopy(intact), 3)
    swapped = copy.deepcopy(intact)
    swapped["objects"][1]["seq"], swapped["objects"][2]["seq"] = 2, 1
    views["swap two messages"] = swapped
    replayed = copy.deepcopy(intact)
    at(replayed, 5)["envelope"] = copy.deepcopy(at(intact, 1)["envelope"])
    views["replay an old message"] = replayed
    moved = copy.deepcopy(intact)
    at(moved, 1)["envelope"] = other.view()["objects"][1]["envelope"]
    views["move a message from another case"] = moved
    sender = copy.deepcopy(intact)
    at(sender, 1)["envelope"]["sender"] = member_label("carol")
    views["change a sender"] = sender
    unsigned = copy.deepcopy(intact)
    at(unsigned, 2)["envelope"]["sig"] = b64e(bytes(64))
    views["unsigned acknowledgement"] = unsigned
    views["epoch record removed"] = without(copy.deepcopy(intact), 4)
    views.update(redactions(manifest, reporter, alice, bob))
    stranger = reporter_keys(manifest)

    scenarios = {name: Scenario(view, first) for name, view in views.items()}
    scenarios.update(lifecycle(world, first, reporter))
    scenarios["another code"] = Scenario(intact, first, stranger)
    rotated = next_version(world, manifest, members=(alice.public, bob.public))[0]
    variants = retired_variants(world, rotated)

    spec = {
        "manifest": first[1].to_json(),
        "pin": world.pin,
        "now_ms": int(utcnow().timestamp() * 1000),
        "reporter": keys_hex(reporter),
        "scenarios": [
            {
                "name": name,
                "view": scenario.view,
                "manifest": scenario.manifest[1].to_json(),
                **({"reporter": keys_hex(scenario.reporter)} if scenario.reporter else {}),
            }
            for name, scenario in scenarios.items()
        ],
        "manifests": [{"name": n, "wire": v.to_json()} for n, v in variants.items()],
    }
    path = tmp_path_factory.mktemp("threads") / "spec.json"
    path.write_text(json.dumps(spec))
    browser = json.loads(run_node("thread.mjs", str(path)).strip().splitlines()[-1])
    return {"scenarios": scenarios, "browser": browser, "reporter": reporter, "variants": variants}


def python_reads(scene: dict[str, Any], name: str) -> ReadCase:
    scenario: Scenario = scene["scenarios"][name]
    view = ReporterCaseView.model_validate(scenario.view)
    return read_as_reporter(
        view, reporter=scenario.reporter or scene["reporter"], manifest=scenario.manifest[0]
    )


# The Python reader's sentences and the browser's codes for the same findings.
PROBLEMS = [
    (r"the record of the current key epoch is missing", "epoch_missing"),
    (r"the key epoch record does not verify: the key epoch record comes from", "epoch_sender"),
    (r"the key epoch record does not verify: ", "epoch_invalid"),
    (r"thread message \d+ is malformed: ", "malformed"),
    (r"thread message \d+ claims an older key epoch than the re-key before it", "epoch_late"),
    (r"the thread history differs from the one verified when the case moved", "epoch_history"),
    (r"key epoch \d+ began under committee manifest version \d+, newer", "epoch_rollback"),
    (r"key epoch \d+ claims an older committee manifest than the epoch", "epoch_version"),
    (r"a key epoch gave the case's keys to someone the reporter did not", "epoch_outsider"),
    (r"the report in this thread was not written with your code", "not_yours"),
    (r"the thread does not start with your report", "no_report"),
    (r"the server says the case was acknowledged, but no committee", "unsigned_ack"),
    (r"the server says the case is \w+, but ", "status_unsigned"),
    (r"the server says the report was received on [\d-]+, but the committee", "received_unsigned"),
    (r"the server says feedback is due by [\d-]+, but the committee", "feedback_unsigned"),
]
OBJECT_PROBLEMS = [
    ("it belongs to another case or position", "moved"),
    ("it repeats a position already taken", "replayed"),
    ("messages are missing before it", "missing_before"),
    ("it does not follow the message before it", "reordered"),
    ("only the first message of a case can be its report", "not_report"),
    ("it claims a key epoch the case has not reached", "future_epoch"),
    ("it claims an older key epoch than the message before it", "older_epoch"),
    ("a key epoch must begin with its own record, exactly once", "epoch_out_of_place"),
    ("you hold no key for this part of the case", "no_key_for_part"),
    ("its sender is unknown", "unknown_sender"),
    ("A signature did not verify.", "bad_signature"),
    ("The reporter's recipient list is not signed correctly.", "bad_signature"),
    ("The report inside the envelope is malformed.", "malformed"),
    ("it does not decrypt", "undecryptable"),
    ("The object was not encrypted under this case key.", "undecryptable"),
    ("The object does not decrypt", "undecryptable"),
    (UNREADABLE, "unreadable_content"),
    (REDACTION_PROBLEM, "redaction_invalid"),
    ("it names no status of the workflow", "status_invalid"),
    ("it attests another day of receipt", "received_conflict"),
    ("it attests another intake mode", "intake_conflict"),
]


def as_codes(problems: list[str]) -> list[tuple[str, int | None]]:
    """The Python reader's problems as the browser's (code, position) pairs."""
    codes: list[tuple[str, int | None]] = []
    for problem in problems:
        found = re.fullmatch(r"thread message (\d+): (.*)", problem)
        if found:
            seq, text = int(found.group(1)), found.group(2)
            code = next((c for start, c in OBJECT_PROBLEMS if text.startswith(start)), None)
            assert code is not None, f"no browser code for {problem!r}"
            codes.append((code, seq))
            continue
        code = next((c for pattern, c in PROBLEMS if re.match(pattern, problem)), None)
        assert code is not None, f"no browser code for {problem!r}"
        named = re.match(r"thread message (\d+) ", problem)
        codes.append((code, int(named.group(1)) if named else None))
    return codes


def browser_codes(browser: dict[str, Any]) -> list[tuple[str, int | None]]:
    return list(zip(browser["problems"], browser["at"], strict=True))


# What each scenario must be found to be, by both readers: (code, position or None).
EXPECTED: dict[str, list[tuple[str, int | None]]] = {
    "intact": [],
    "attested": [],
    "delete a message in the middle": [("missing_before", 4)],
    "swap two messages": [("moved", 1)],
    "replay an old message": [("moved", 5)],
    "move a message from another case": [("moved", 1)],
    "change a sender": [("bad_signature", 1), ("status_unsigned", None), ("unsigned_ack", None)],
    "unsigned acknowledgement": [
        ("bad_signature", 2),
        ("status_unsigned", None),
        ("unsigned_ack", None),
    ],
    "forged acknowledgement": [("unsigned_ack", None)],
    "forged closure": [("status_unsigned", None)],
    "forged day of receipt": [("received_unsigned", None)],
    "forged feedback deadline": [("feedback_unsigned", None)],
    "two statuses attest different days of receipt": [("received_conflict", 3)],
    "a signed status outside the workflow": [("status_invalid", 2)],
    "epoch record removed": [("epoch_missing", None)],
    "rotation": [],
    "rotation, before the re-key": [],
    "removal": [],
    "removal, before the re-key": [],
    "archive re-key": [],
    "a re-key backdated to before the rotation": [],
    "a backdated re-key that leaves out its own signer": [],
    "the retired key signs in the new epoch": [("bad_signature", 4)],
    "a re-key signed with the retired key": [("epoch_invalid", None), ("bad_signature", 3)],
    "an older epoch after the re-key": [("older_epoch", 5), ("epoch_late", 5)],
    "a message slipped in before the re-key": [("epoch_late", 3)],
    "a re-key that verified another history": [("epoch_history", 3)],
    "a message begins an epoch before its record": [
        ("epoch_out_of_place", 3),
        ("epoch_out_of_place", 4),
    ],
    "a second record for the same epoch": [("epoch_out_of_place", 5)],
    "a re-key claims an older manifest than the epoch before": [("epoch_version", None)],
    "a re-key claims a manifest newer than the one shown": [("epoch_rollback", None)],
    "a re-key lists a key for its own epoch": [("epoch_invalid", None)],
    "a removed member writes after the re-key": [("unknown_sender", 3)],
    "an archive re-key signed by another key": [("epoch_invalid", None), ("bad_signature", 2)],
    "a signed message that is not a JSON object": [("unreadable_content", 1)],
    "a signed message with NaN": [("unreadable_content", 1)],
    "a signed message with a byte-order mark": [("unreadable_content", 1)],
    "redacted report and message": [],
    "a redaction signed by a key the committee does not list": [("redaction_invalid", 2)],
    "a redaction record stripped": [("bad_signature", 2)],
    "a redaction record naming another version": [("redaction_invalid", 2)],
    "a removal of files the server hid": [("redaction_invalid", 2)],
    "a removal of a file the server added": [("redaction_invalid", 0)],
}


def same_findings(
    browser: list[tuple[str, int | None]], python: list[tuple[str, int | None]]
) -> bool:
    """Equal codes in the same order, and equal positions wherever both name one (a moved
    object is named where the server listed it by the browser, where it claims to be by
    Python)."""
    return len(browser) == len(python) and all(
        b[0] == p[0] and (b[1] is None or p[1] is None or b[0] == "moved" or b[1] == p[1])
        for b, p in zip(browser, python, strict=True)
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_both_readers_find_exactly_the_same_problems_in_the_same_order(
    scene: dict[str, Any], name: str
) -> None:
    browser = scene["browser"][name]
    python = python_reads(scene, name)
    found = browser_codes(browser)

    assert same_findings(found, as_codes(python.problems)), (found, python.problems)
    if EXPECTED[name]:
        assert all(expected in found for expected in EXPECTED[name]), found
    else:
        assert found == []
    assert browser["held_by"] == python.held_by
    assert [o["verified"] for o in browser["objects"]] == [o.verified for o in python.thread()]
    assert [o["epoch"] for o in browser["objects"]] == [o.epoch for o in python.thread()]
    assert browser["head"] == python.heads["thread"][0]
    if name in ("unsigned acknowledgement", "forged acknowledgement"):
        assert browser["acknowledged"] is False


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
        o.text if o.kind != "report" else python.report.text  # type: ignore[union-attr]  # only the report object carries report; the kind check selects it
        for o in python.thread()
    ]
    assert browser["objects"][3]["text"] == "The ones in bay 3. שלום 👋🏽"
    assert browser["objects"][2]["status"] == "acknowledged"
    assert browser["head"] == 5


def shown(scene: dict[str, Any], name: str) -> list[tuple[str, str | None, bool, str | None]]:
    return [
        (o["kind"], o["role"], o["verified"], o["text"]) for o in scene["browser"][name]["objects"]
    ]


def test_after_a_rotation_the_old_key_s_messages_verify_and_the_case_is_held_until_re_keyed(
    scene: dict[str, Any],
) -> None:
    before = scene["browser"]["rotation, before the re-key"]
    after = scene["browser"]["rotation"]

    assert before["problems"] == []
    assert before["held_by"] == ["member:alice"]
    assert after["problems"] == []
    assert after["held_by"] == []
    assert shown(scene, "rotation") == [
        ("report", "reporter", True, "Invoices are back-dated."),
        ("message", "member", True, "Asked with Alice's old key."),
        ("message", "reporter", True, "Answered before the rotation."),
        ("epoch", "member", True, None),
        ("message", "member", True, "Asked with Alice's new key."),
    ]
    assert python_reads(scene, "rotation").held_by == []


def test_after_a_removal_the_former_member_s_messages_verify_and_name_no_current_member(
    scene: dict[str, Any],
) -> None:
    before = scene["browser"]["removal, before the re-key"]
    after = scene["browser"]["removal"]

    assert before["held_by"] == ["member:carol"]
    assert after["problems"] == []
    assert after["held_by"] == []
    assert shown(scene, "removal")[1] == ("message", "former", True, "Carol asks before leaving.")
    assert scene["browser"]["removal"]["objects"][1]["name"] is None


def test_an_archive_re_key_verifies_with_the_archive_key_and_keeps_the_lost_keys_messages(
    scene: dict[str, Any],
) -> None:
    assert shown(scene, "archive re-key") == [
        ("report", "reporter", True, "Records of the spill were destroyed."),
        ("message", "member", True, "Asked before every key was lost."),
        ("epoch", "archive", True, None),
        ("message", "member", True, "Asked with the replacement key."),
    ]
    assert scene["browser"]["archive re-key"]["objects"][2]["name"] == "Legal archive"


def test_a_re_key_backdated_with_a_retired_key_cannot_be_told_apart_but_holds_the_reporter(
    scene: dict[str, Any],
) -> None:
    """A record signed with Alice's retired key that claims the manifest before her rotation
    is what an honest re-key made before the rotation looks like; neither reader can refuse it.
    Both see that Alice's old key may hold the epoch's keys, so the reporter writes nothing."""
    browser = scene["browser"]["a re-key backdated to before the rotation"]
    python = python_reads(scene, "a re-key backdated to before the rotation")

    assert browser["problems"] == []
    assert python.problems == []
    assert browser["held_by"] == python.held_by == ["member:alice"]
    # Leaving Alice out of the recipients does not help: the record is her old key's word.
    left_out = scene["browser"]["a backdated re-key that leaves out its own signer"]
    assert left_out["problems"] == []
    assert left_out["held_by"] == ["member:alice"]


def test_a_thread_opened_with_another_code_is_refused_by_both(scene: dict[str, Any]) -> None:
    with pytest.raises(SafeVoiceError):
        python_reads(scene, "another code")
    assert scene["browser"]["another code"] == {"error": "verification"}


def test_both_clients_accept_and_refuse_the_same_retired_keys_in_a_manifest(
    scene: dict[str, Any], world: World
) -> None:
    python: dict[str, Any] = {}
    for name, signed_manifest in scene["variants"].items():
        try:
            verified = verify_manifest(signed_manifest, pin=world.pin, now=utcnow())
            python[name] = len(verified.manifest.retired)
        except ManifestError:
            python[name] = "manifest"

    assert scene["browser"]["manifests"] == python
    assert python["valid"] == 1
    assert python["empty list"] == 0
    assert [n for n, v in python.items() if v != "manifest"] == ["valid", "empty list"]


SIGNED_FIELDS = (
    ("status", "status"),
    ("outcome", "outcome"),
    ("acknowledged_on", "acknowledgedOn"),
    ("changed_on", "changedOn"),
    ("received_on", "receivedOn"),
    ("intake_mode", "intakeMode"),
    ("feedback_due", "feedbackDue"),
    ("seq", "seq"),
)


@pytest.mark.parametrize(
    "name",
    [
        "intact",
        "attested",
        "forged closure",
        "forged day of receipt",
        "forged feedback deadline",
        "two statuses attest different days of receipt",
        "unsigned acknowledgement",
        "forged acknowledgement",
    ],
)
def test_both_readers_show_the_same_signed_status_whatever_the_server_says(
    scene: dict[str, Any], name: str
) -> None:
    browser = scene["browser"][name]["signed"]
    python = python_reads(scene, name).signed
    assert python is not None

    assert {py: browser[js] for py, js in SIGNED_FIELDS} == {
        py: getattr(python, py) for py, _ in SIGNED_FIELDS
    }


def test_a_status_the_server_forged_is_not_the_status_shown(scene: dict[str, Any]) -> None:
    forged = scene["browser"]["forged closure"]["signed"]
    attested = scene["browser"]["forged day of receipt"]["signed"]

    assert forged["status"] == "acknowledged"
    assert forged["outcome"] is None
    assert attested["status"] == "investigating"
    assert attested["receivedOn"] == RECEIVED_ON
    assert attested["intakeMode"] == "e2e"


def test_both_readers_show_the_redacted_versions_and_who_removed_what_on_which_day(
    scene: dict[str, Any],
) -> None:
    browser = scene["browser"]["redacted report and message"]
    python = python_reads(scene, "redacted report and message")

    assert browser["problems"] == []
    assert python.problems == []
    assert [o["text"] for o in browser["objects"]] == [
        "Ask [a colleague] in bay 3, she saw it.",
        "Who is Jane Roe?",
        "My neighbour; [phone number removed].",
        "Received.",
    ]
    assert python.report is not None
    assert python.report.text == browser["objects"][0]["text"]
    assert [o["redacted"] for o in browser["objects"]] == [
        {"on": ACKNOWLEDGED_ON, "by": "member:alice", "filesRemoved": 0},
        None,
        {"on": ACKNOWLEDGED_ON, "by": "member:bob", "filesRemoved": 2},
        None,
    ]
    assert [
        None
        if o.redacted is None
        else {"on": o.redacted.on, "by": o.redacted.by, "filesRemoved": len(o.redacted.files)}
        for o in python.thread()
    ] == [o["redacted"] for o in browser["objects"]]
    assert browser["head"] == python.heads["thread"][0] == 3
