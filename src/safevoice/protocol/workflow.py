"""Composing the workflow's encrypted objects on a member's machine.

Each function takes a case the member has just read and verified (``ReadCase``) and returns the
request body for the server: the next object of the right chain, sealed with the current
epoch's key and signed with the member's key. Re-keying builds a new epoch from the recipient
list the reporter signed inside the first report, never from anything the server says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safevoice.crypto.casefile import (
    REPORTER,
    archive_label,
    epoch_plaintext,
    member_label,
)
from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.envelope import (
    GENESIS,
    CaseKeys,
    Envelope,
    new_key,
    seal,
    wrap_case_keys,
)
from safevoice.crypto.keys import KeyPair
from safevoice.crypto.manifest import Manifest
from safevoice.crypto.redaction import REDACTABLE_KINDS, redact
from safevoice.errors import BadRequest, Conflict
from safevoice.protocol.reader import EpochKeys, ReadCase, epoch_keys
from safevoice.protocol.wire import CaseDetail


def sender_label(keys: KeyPair) -> str:
    """How the holder of ``keys`` signs case objects: ``member:<id>`` or ``archive:<id>``."""
    if keys.public.kind == "archive":
        return archive_label(keys.public.id)
    return member_label(keys.public.id)


def next_object(
    read: ReadCase,
    detail: CaseDetail,
    *,
    kind: str,
    plaintext: bytes,
    keys: KeyPair,
    epoch: int | None = None,
    key: bytes | None = None,
) -> Envelope:
    """The next object of the chain its kind belongs to."""
    chain = "committee" if kind in ("note", "triage", "action", "closure") else "thread"
    seq, head = read.heads.get(chain, (-1, bytes(32)))
    if key is None:
        key = read.keys.thread if chain == "thread" else read.keys.committee
    if key is None:
        raise Conflict("You hold no key for the committee's part of this case.")
    return seal(
        key,
        plaintext,
        case_id=b64d(detail.case.id, size=16, what="case id"),
        kind=kind,
        sender=sender_label(keys),
        seq=seq + 1,
        prev=head,
        epoch=detail.case.epoch if epoch is None else epoch,
        sign_seed=keys.sign_seed,
    )


def _epoch_keys(read: ReadCase, detail: CaseDetail, manifest: Manifest) -> EpochKeys:
    """Every epoch's keys of the case, from the current epoch's record and the reader's keys."""
    return epoch_keys(
        detail.objects,
        case_id=detail.case.id,
        epoch=detail.case.epoch,
        keys=read.keys,
        manifest=manifest,
    )


def rekey_body(
    read: ReadCase, detail: CaseDetail, *, keys: KeyPair, manifest: Manifest
) -> tuple[dict[str, Any], list[str]]:
    """New keys for the next epoch and the recipients they go to.

    The keys are wrapped to the recipients the reporter signed inside the report who are still
    in the manifest and have not recused, and to the reporter's reply key from inside the
    report (never to a key the server names).
    """
    report = read.report
    if report is None:
        raise Conflict("The report does not verify, so the case cannot be re-keyed safely.")
    recused = {member_label(m) for m in detail.recused}
    enrolled = {member_label(m.id): m for m in manifest.members}
    if manifest.archive is not None:
        enrolled[archive_label(manifest.archive.id)] = manifest.archive
    labels = sorted(
        label for label in report.recipients if label in enrolled and label not in recused
    )
    if not any(label.startswith("member:") for label in labels):
        raise Conflict("No committee member chosen by the reporter could keep this case.")
    case_bytes = b64d(detail.case.id, size=16, what="case id")
    new_epoch = detail.case.epoch + 1
    found = _epoch_keys(read, detail, manifest)
    if found.problems:
        raise Conflict("The case's earlier keys do not verify: " + "; ".join(found.problems))
    thread_key, committee_key = new_key(), new_key()
    fresh = CaseKeys(thread=thread_key, committee=committee_key)
    plaintext = epoch_plaintext(
        case_id=case_bytes,
        epoch=new_epoch,
        labels=[*labels, REPORTER],
        earlier=found.keys,
        committee_key=committee_key,
        manifest_version=manifest.version,
        heads={chain: read.heads.get(chain, (-1, GENESIS)) for chain in ("thread", "committee")},
    )
    envelope = next_object(
        read,
        detail,
        kind="epoch",
        plaintext=plaintext,
        keys=keys,
        epoch=new_epoch,
        key=fresh.thread,
    )
    wraps = []
    for label in labels:
        box_key = enrolled[label].box_key
        if box_key is None:
            raise Conflict(f"{label} has no encryption key in the manifest.")
        wraps.append(
            {
                "recipient": label,
                "sealed": b64e(
                    wrap_case_keys(
                        box_key, case_id=case_bytes, epoch=new_epoch, recipient=label, keys=fresh
                    )
                ),
            }
        )
    wraps.append(
        {
            "recipient": REPORTER,
            "sealed": b64e(
                wrap_case_keys(
                    report.reply_key,
                    case_id=case_bytes,
                    epoch=new_epoch,
                    recipient=REPORTER,
                    keys=CaseKeys(thread=fresh.thread, committee=None),
                )
            ),
        }
    )
    return {"envelope": envelope.to_json(), "wrapped_keys": wraps}, labels


def _removed_descriptors(
    body: dict[str, Any], upload_ids: Sequence[str], *, where: str
) -> list[dict[str, Any]]:
    """The descriptors, inside the object, of the files a redaction removes."""
    if len(set(upload_ids)) != len(upload_ids):
        raise BadRequest("The same file is named twice to be removed.")
    described = body.get("attachments") or []
    removed = []
    for upload_id in upload_ids:
        found = [d for d in described if isinstance(d, dict) and d.get("upload_id") == upload_id]
        if not found:
            raise BadRequest(f"{where} carries no file {upload_id}; only its own files go with it.")
        removed.append(found[0])
    return removed


def redaction_body(
    read: ReadCase,
    detail: CaseDetail,
    *,
    chain: str,
    seq: int,
    text: str,
    keys: KeyPair,
    manifest: Manifest,
    on: str,
    answers: dict[str, str] | None = None,
    remove_files: Sequence[str] = (),
) -> dict[str, Any]:
    """The request that replaces one verified report, message or note by a version whose text
    is ``text`` (and, for a report, whose answers to the questions ``answers`` names are the
    ones given) and which no longer carries the attachments whose upload ids ``remove_files``
    lists: everything else inside it (the reporter's keys and signed recipient list, the other
    attachments) is kept as it was, sealed under the same epoch's key of the same chain and
    signed with the member's key, with the signed redaction record (which names the removed
    files, so the server deletes them)."""
    shown = next((o for o in read.objects if o.chain == chain and o.seq == seq), None)
    if shown is None or shown.kind not in REDACTABLE_KINDS:
        raise BadRequest(f"The case has no report, message or note at {chain} #{seq}.")
    if not shown.verified:
        raise Conflict(f"{chain} #{seq} does not verify, so it cannot be redacted safely.")
    if not text.strip():
        raise BadRequest("The redacted text is empty; keep at least a word saying what it was.")
    body = {**shown.body, "text": text}
    if answers is not None:
        kept = dict(shown.body.get("answers") or {})
        if shown.kind != "report" or not set(answers) <= set(kept):
            raise BadRequest("Only a report's answers can be redacted, for its own questions.")
        body["answers"] = {**kept, **answers}
    removed = _removed_descriptors(body, remove_files, where=f"{chain} #{seq}")
    if removed:
        body["attachments"] = [d for d in body["attachments"] if d not in removed]
    item = next(o for o in detail.objects if o.chain == chain and o.seq == seq)
    original = Envelope.from_json(item.envelope.model_dump())
    epoch_key = _epoch_keys(read, detail, manifest).keys.get(original.epoch)
    key = None
    if epoch_key is not None:
        key = epoch_key.thread if chain == "thread" else epoch_key.committee
    if key is None:
        raise Conflict(f"You hold no key for {chain} #{seq}.")
    redacted, record = redact(
        original,
        original_hash=shown.hash,
        key=key,
        plaintext=canonical_json(body),
        by=sender_label(keys),
        on=on,
        sign_seed=keys.sign_seed,
        removed=removed,
    )
    return {
        "chain": chain,
        "seq": seq,
        "envelope": redacted.to_json(),
        "redaction": record.to_json(),
    }
