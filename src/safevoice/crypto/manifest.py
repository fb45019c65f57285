"""The instance manifest: the committee's signed statement of who may read reports.

Invariant 5: recipient keys come only from a manifest signed by the committee root and verified
against a root fingerprint the client already holds (a pin), never from the server's say-so.
The signature covers the exact payload bytes and is checked before the payload is parsed; the
payload must also be the canonical serialisation of what it parses to, so a re-serialised
manifest is refused even where a signature would happen to survive. Clients refuse an expired
manifest, one older than the newest they have seen, and key-derivation parameters below the
hard-coded minimums, whatever the signature says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from safevoice.crypto.encoding import b64d, b64e, canonical_json
from safevoice.crypto.keys import (
    KeyPair,
    PublicKey,
    blake2b,
    fingerprint,
    valid_key_id,
    verify,
)
from safevoice.errors import BadEncoding, ManifestError, VerificationFailed

MANIFEST_FORMAT = "safevoice-manifest-v1"
MANIFEST_CONTEXT = "safevoice-manifest-v1"
MAX_VALIDITY = timedelta(days=90)
CLOCK_SKEW = timedelta(minutes=10)
ENVELOPE_VERSIONS_SUPPORTED = (1,)

# Hard floors that no manifest can lower (DESIGN.md: Argon2id >= 64 MiB).
MIN_CODE_MEMLIMIT = 64 * 1024 * 1024
MIN_CODE_OPSLIMIT = 2
# Ceilings that protect reporters' devices from a manifest that asks for absurd work.
MAX_CODE_MEMLIMIT = 1024 * 1024 * 1024
MAX_CODE_OPSLIMIT = 16

DEFAULT_CODE_OPSLIMIT = 3
DEFAULT_CODE_MEMLIMIT = 64 * 1024 * 1024


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ManifestError("The manifest has a malformed date.")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ManifestError("The manifest has a malformed date.") from exc


@dataclass(frozen=True)
class CodeKdf:
    """Argon2id parameters for one follow-up code version."""

    version: int
    opslimit: int
    memlimit: int

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "alg": "argon2id13",
            "opslimit": self.opslimit,
            "memlimit": self.memlimit,
        }


@dataclass(frozen=True)
class AuditKey:
    key: bytes
    from_seq: int


@dataclass(frozen=True)
class RetiredKey:
    """A signing key the committee replaced or removed, kept so that what it signed while it was
    valid still verifies. ``until_version`` is the first manifest version without it."""

    label: str
    sign_key: bytes
    until_version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "sign_key": b64e(self.sign_key),
            "until_version": self.until_version,
        }


def principal_label(key: PublicKey) -> str:
    """How a manifest entry names itself as a sender: ``member:<id>``, ``archive:<id>``, …"""
    return f"{key.kind}:{key.id}"


@dataclass(frozen=True)
class Manifest:
    """A parsed, verified manifest payload."""

    instance_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    root: str
    instance_salt: bytes
    code_kdf: tuple[CodeKdf, ...]
    envelope_versions: tuple[int, ...]
    members: tuple[PublicKey, ...]
    auditors: tuple[PublicKey, ...]
    audit_keys: tuple[AuditKey, ...]
    archive: PublicKey | None = None
    retired: tuple[RetiredKey, ...] = ()

    def member(self, member_id: str) -> PublicKey | None:
        return next((m for m in self.members if m.id == member_id), None)

    def auditor(self, auditor_id: str) -> PublicKey | None:
        return next((a for a in self.auditors if a.id == auditor_id), None)

    def recipient(self, recipient_id: str) -> PublicKey | None:
        """A member, or the archive recipient, by id."""
        if self.archive is not None and self.archive.id == recipient_id:
            return self.archive
        return self.member(recipient_id)

    def current_keys(self) -> dict[str, PublicKey]:
        """Every enrolled key by its label (members, auditors, the archive recipient)."""
        keys = [*self.members, *self.auditors]
        if self.archive is not None:
            keys.append(self.archive)
        return {principal_label(k): k for k in keys}

    def signing_keys(self, label: str) -> list[bytes]:
        """Every key ``label`` ever signed with: the current one first, then those retired."""
        current = self.current_keys().get(label)
        keys = [current.sign_key] if current is not None else []
        keys.extend(r.sign_key for r in self.retired if r.label == label)
        return keys

    def sender_keys(self, label: str, *, since_version: int | None) -> list[bytes]:
        """Keys that may have signed an object from ``label`` in a key epoch that began under
        manifest version ``since_version``: the current key, and the keys retired only after
        that version (none when the version is unknown)."""
        keys: list[bytes] = []
        current = self.current_keys().get(label)
        if current is not None and current.kind != "auditor":
            keys.append(current.sign_key)
        if since_version is not None:
            keys.extend(
                r.sign_key
                for r in self.retired
                if r.label == label and r.until_version > since_version
            )
        return keys

    def code_kdf_for(self, version: int) -> CodeKdf | None:
        return next((k for k in self.code_kdf if k.version == version), None)

    @property
    def current_code_kdf(self) -> CodeKdf:
        return max(self.code_kdf, key=lambda k: k.version)

    def audit_key_for(self, seq: int) -> bytes:
        """The instance key valid for checkpoint ``seq`` (the newest whose range covers it)."""
        eligible = [k for k in self.audit_keys if k.from_seq <= seq]
        if not eligible:
            raise ManifestError("The manifest names no audit key for this part of the log.")
        return max(eligible, key=lambda k: k.from_seq).key

    @property
    def receipt_key(self) -> bytes:
        return max(self.audit_keys, key=lambda k: k.from_seq).key

    def to_payload(self) -> dict[str, Any]:
        def member_json(m: PublicKey) -> dict[str, Any]:
            if m.box_key is None:
                raise ManifestError("A member needs an encryption key.")
            return {
                "id": m.id,
                "name": m.name,
                "box_key": b64e(m.box_key),
                "sign_key": b64e(m.sign_key),
            }

        payload: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "instance_id": self.instance_id,
            "version": self.version,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
            "root": self.root,
            "instance_salt": b64e(self.instance_salt),
            "code_kdf": [k.to_json() for k in self.code_kdf],
            "envelope_versions": list(self.envelope_versions),
            "members": [member_json(m) for m in self.members],
            "auditors": [
                {"id": a.id, "name": a.name, "key": b64e(a.sign_key)} for a in self.auditors
            ],
            "audit_keys": [{"key": b64e(k.key), "from_seq": k.from_seq} for k in self.audit_keys],
            "archive": member_json(self.archive) if self.archive is not None else None,
        }
        if self.retired:
            # Only present once a key was retired, so earlier manifests keep their exact bytes.
            payload["retired"] = [r.to_json() for r in self.retired]
        return payload


@dataclass(frozen=True)
class Signature:
    root_fp: str
    root_key: bytes
    sig: bytes


@dataclass(frozen=True)
class SignedManifest:
    """The manifest as it travels: exact payload bytes and the root signatures over them."""

    payload: bytes
    signatures: tuple[Signature, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": b64e(self.payload),
            "signatures": [
                {"root_fp": s.root_fp, "root_key": b64e(s.root_key), "sig": b64e(s.sig)}
                for s in self.signatures
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedManifest:
        try:
            payload = b64d(data["payload"], what="manifest payload")
            sigs = tuple(
                Signature(
                    root_fp=str(s["root_fp"]),
                    root_key=b64d(s["root_key"], size=32, what="root key"),
                    sig=b64d(s["sig"], size=64, what="manifest signature"),
                )
                for s in data["signatures"]
            )
        except (KeyError, TypeError, BadEncoding) as exc:
            raise ManifestError("The manifest is malformed.") from exc
        return cls(payload=payload, signatures=sigs)

    @property
    def digest(self) -> str:
        return b64e(blake2b(self.payload))

    def unverified_payload(self) -> dict[str, Any]:
        """The payload as JSON without any check — for display and server bookkeeping only."""
        value = json.loads(self.payload)
        if not isinstance(value, dict):
            raise ManifestError("The manifest is malformed.")
        return value


def root_fingerprint(root_sign_key: bytes) -> str:
    return fingerprint("root", None, root_sign_key)


def sign_manifest(manifest: Manifest, roots: list[KeyPair]) -> SignedManifest:
    """Serialise canonically and sign with each root key (two roots cross-sign a rotation)."""
    payload = canonical_json(manifest.to_payload())
    signatures = tuple(
        Signature(
            root_fp=root.public.fingerprint,
            root_key=root.public.sign_key,
            sig=root.sign(MANIFEST_CONTEXT, payload),
        )
        for root in roots
    )
    return SignedManifest(payload=payload, signatures=signatures)


def valid_signers(signed: SignedManifest) -> set[str]:
    """Fingerprints of roots whose signature over the exact payload verifies."""
    good: set[str] = set()
    for s in signed.signatures:
        if root_fingerprint(s.root_key) != s.root_fp:
            continue
        try:
            verify(s.root_key, s.sig, MANIFEST_CONTEXT, signed.payload)
        except VerificationFailed:
            continue
        good.add(s.root_fp)
    return good


@dataclass(frozen=True)
class Seen:
    """What a client remembers of the newest manifest it accepted."""

    version: int
    digest: str


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    pin: str
    """The root fingerprint to pin from now on (differs from the old pin after a rotation)."""


def verify_manifest(
    signed: SignedManifest, *, pin: str, now: datetime, seen: Seen | None = None
) -> Verified:
    """Verify a manifest against a pinned root fingerprint; raise ManifestError with the reason."""
    signers = valid_signers(signed)
    if pin not in signers:
        raise ManifestError(
            "The manifest is not signed by the committee root you pinned; "
            "do not submit anything and compare the fingerprint with the one your "
            "organisation published."
        )
    manifest = parse_payload(signed.payload)
    if manifest.root not in signers:
        raise ManifestError("The manifest names a committee root that did not sign it.")
    check_time(manifest, now)
    if seen is not None:
        if manifest.version < seen.version:
            raise ManifestError(
                f"The server shows manifest version {manifest.version}, older than version "
                f"{seen.version} seen before; it may be rolling back the committee."
            )
        if manifest.version == seen.version and signed.digest != seen.digest:
            raise ManifestError(
                f"The server shows a manifest version {manifest.version} that differs from the "
                "one seen before under the same version."
            )
    return Verified(manifest=manifest, pin=manifest.root)


def check_time(manifest: Manifest, now: datetime) -> None:
    """Refuse a manifest outside its validity, or one that claims to be issued later than now
    (which could otherwise stay valid for far longer than 90 days from today)."""
    if now >= manifest.expires_at:
        raise ManifestError(
            "The manifest has expired; the committee must sign a fresh one before reports "
            "can be sent safely."
        )
    if manifest.issued_at > now + CLOCK_SKEW or manifest.expires_at - now > MAX_VALIDITY:
        raise ManifestError(
            "The manifest claims to be issued in the future; check this computer's clock, or "
            "do not trust the manifest."
        )


def _public_member(entry: Any, kind: str) -> PublicKey:
    key = PublicKey(
        kind=kind,
        id=str(entry["id"]),
        name=str(entry["name"]),
        sign_key=b64d(entry["sign_key"], size=32, what="signing key"),
        box_key=b64d(entry["box_key"], size=32, what="encryption key"),
    )
    if not valid_key_id(key.id):
        raise ManifestError("The manifest lists a member with an invalid id.")
    return key


def _strict_int(value: Any) -> int:
    # A JSON integer, as the protocol says: int("3"), int(3.0) and int(True) would all be 3.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError("The manifest has a malformed number.")
    return value


def parse_payload(payload: bytes) -> Manifest:
    """Parse and check a payload's structure and limits (its signature is checked elsewhere)."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError("The manifest is malformed.") from exc
    try:
        canonical = canonical_json(data)
    except BadEncoding as exc:
        raise ManifestError("The manifest is malformed.") from exc
    if not isinstance(data, dict) or canonical != payload:
        raise ManifestError("The manifest was re-serialised; only the exact signed bytes count.")
    if data.get("format") != MANIFEST_FORMAT:
        raise ManifestError("The manifest has an unknown format.")
    try:
        version = data["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ManifestError("The manifest has an invalid version.")
        issued_at = _parse_iso(data["issued_at"])
        expires_at = _parse_iso(data["expires_at"])
        if any(k["alg"] != "argon2id13" for k in data["code_kdf"]):
            raise ManifestError("The manifest names a key derivation this client does not know.")
        code_kdf = tuple(
            CodeKdf(
                version=_strict_int(k["version"]),
                opslimit=_strict_int(k["opslimit"]),
                memlimit=_strict_int(k["memlimit"]),
            )
            for k in data["code_kdf"]
        )
        members = tuple(_public_member(m, "member") for m in data["members"])
        auditors = tuple(
            PublicKey(
                kind="auditor",
                id=str(a["id"]),
                name=str(a["name"]),
                sign_key=b64d(a["key"], size=32, what="auditor key"),
            )
            for a in data["auditors"]
        )
        audit_keys = tuple(
            AuditKey(
                key=b64d(k["key"], size=32, what="audit key"), from_seq=_strict_int(k["from_seq"])
            )
            for k in data["audit_keys"]
        )
        archive = (
            _public_member(data["archive"], "archive") if data["archive"] is not None else None
        )
        retired = tuple(
            RetiredKey(
                label=str(r["label"]),
                sign_key=b64d(r["sign_key"], size=32, what="retired key"),
                until_version=_strict_int(r["until_version"]),
            )
            for r in data.get("retired", [])
        )
        manifest = Manifest(
            instance_id=str(data["instance_id"]),
            version=version,
            issued_at=issued_at,
            expires_at=expires_at,
            root=str(data["root"]),
            instance_salt=b64d(data["instance_salt"], size=16, what="instance salt"),
            code_kdf=code_kdf,
            envelope_versions=tuple(_strict_int(v) for v in data["envelope_versions"]),
            members=members,
            auditors=auditors,
            audit_keys=audit_keys,
            archive=archive,
            retired=retired,
        )
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError, BadEncoding) as exc:
        raise ManifestError("The manifest is malformed.") from exc
    _check_limits(manifest)
    return manifest


def _check_limits(m: Manifest) -> None:
    """Refuse a manifest outside what SafeVoice allows; the checks run in this order, so the
    first problem found is the one named."""
    if m.expires_at - m.issued_at > MAX_VALIDITY:
        raise ManifestError("The manifest claims a validity longer than 90 days.")
    _check_code_versions(m)
    if not 1 <= len(m.instance_id) <= 64 or not m.instance_id.isascii():
        raise ManifestError("The manifest's instance id is invalid.")
    if not all(valid_key_id(a.id) for a in m.auditors):
        raise ManifestError("The manifest lists an auditor with an invalid id.")
    _check_code_costs(m)
    if not set(m.envelope_versions) & set(ENVELOPE_VERSIONS_SUPPORTED):
        raise ManifestError("The manifest allows no envelope version this client supports.")
    ids = [k.id for k in (*m.members, *m.auditors)]
    if m.archive is not None:
        ids.append(m.archive.id)
    if len(ids) != len(set(ids)):
        raise ManifestError("The manifest lists the same id twice.")
    if not m.members:
        raise ManifestError("The manifest lists no committee member.")
    if not m.audit_keys:
        raise ManifestError("The manifest lists no audit key.")
    _check_retired(m)


def _check_code_versions(m: Manifest) -> None:
    if not m.code_kdf:
        raise ManifestError("The manifest names no key derivation for follow-up codes.")
    versions = [k.version for k in m.code_kdf]
    if len(versions) != len(set(versions)) or not all(1 <= v <= 31 for v in versions):
        raise ManifestError("The manifest's follow-up code versions are invalid.")


def _check_code_costs(m: Manifest) -> None:
    for kdf in m.code_kdf:
        if kdf.memlimit < MIN_CODE_MEMLIMIT or kdf.opslimit < MIN_CODE_OPSLIMIT:
            raise ManifestError(
                "The manifest asks for a follow-up code derivation weaker than SafeVoice "
                "allows (Argon2id needs at least 64 MiB and 2 passes)."
            )
        if kdf.memlimit > MAX_CODE_MEMLIMIT or kdf.opslimit > MAX_CODE_OPSLIMIT:
            raise ManifestError("The manifest asks for an unreasonably costly key derivation.")


def _check_retired(m: Manifest) -> None:
    for r in m.retired:
        kind, _, ident = r.label.partition(":")
        if kind not in ("member", "auditor", "archive") or not valid_key_id(ident):
            raise ManifestError("The manifest lists a retired key with an invalid label.")
        if not 1 < r.until_version <= m.version:
            raise ManifestError("The manifest lists a key retired in an impossible version.")


class _Keep:
    """Marks an argument left as it was in the previous manifest."""


KEEP = _Keep()


def successor(
    previous: Manifest,
    *,
    root: str,
    now: datetime,
    days: int,
    members: tuple[PublicKey, ...] | None = None,
    auditors: tuple[PublicKey, ...] | None = None,
    archive: PublicKey | _Keep | None = KEEP,
) -> Manifest:
    """The next version of a manifest, with whatever changed and every signing key it no longer
    lists (removed, or replaced by a new key under the same id) added to ``retired``, so that
    what those keys signed before stays verifiable and nothing they sign later does."""
    version = previous.version + 1
    issued_at = now.replace(microsecond=0)
    new = Manifest(
        instance_id=previous.instance_id,
        version=version,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(days=days),
        root=root,
        instance_salt=previous.instance_salt,
        code_kdf=previous.code_kdf,
        envelope_versions=previous.envelope_versions,
        members=previous.members if members is None else members,
        auditors=previous.auditors if auditors is None else auditors,
        audit_keys=previous.audit_keys,
        archive=previous.archive if isinstance(archive, _Keep) else archive,
        retired=previous.retired,
    )
    still = new.current_keys()
    retired = list(previous.retired)
    for label, key in previous.current_keys().items():
        kept = still.get(label)
        if kept is None or kept.sign_key != key.sign_key:
            retired.append(RetiredKey(label=label, sign_key=key.sign_key, until_version=version))
    retired.sort(key=lambda r: (r.label, r.until_version))
    return replace(new, retired=tuple(retired))


def changed_labels(previous: Manifest, current: Manifest) -> set[str]:
    """Labels whose key the newer manifest removed or replaced (box or signing key)."""
    now = current.current_keys()
    return {
        label
        for label, key in previous.current_keys().items()
        if label not in now
        or now[label].sign_key != key.sign_key
        or now[label].box_key != key.box_key
    }
