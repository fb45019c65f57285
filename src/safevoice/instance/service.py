"""Instance keys, difficulty, time zone and manifest publication.

The instance key signs receipts and audit checkpoints; the committee endorses it by listing its
public half among the manifest's audit keys. Publishing a manifest checks only what the server
can check on its own (the signature of the root the manifest names, its limits, a rising
version, and that it lists this instance's key); whether a root is the right one is decided by
the clients against their pin (invariant 5), never by the server.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from safevoice.audit import checkpoints
from safevoice.audit import service as audit
from safevoice.crypto import keys as keymod
from safevoice.crypto import pow as powmod
from safevoice.crypto.encoding import b64e
from safevoice.crypto.manifest import (
    Manifest,
    SignedManifest,
    changed_labels,
    check_time,
    parse_payload,
    valid_signers,
)
from safevoice.errors import ConfigError, Conflict, ManifestError, NotFound
from safevoice.instance.models import Channel, PublishedManifest, ServerState

INSTANCE_SEED = "instance_seed"
NEXT_INSTANCE_SEED = "instance_seed_next"
ROTATION_FROM = "instance_rotation_from_seq"
CHALLENGE_KEY = "challenge_key"
DIFFICULTY = "pow_difficulty"
TIMEZONE = "timezone"
EXTERNAL_CHANNELS = "external_channels"
DEFAULT_DIFFICULTY = 8
# Extra submission difficulty while the intake is flooded (safevoice.intake.flood): raised two
# bits at a time, at most eight, each raise lasting a quarter of an hour.
SURGE = "pow_surge"
SURGE_STEP = 2
SURGE_MAX = 8
SURGE_SECONDS = 15 * 60
OPERATOR = "operator"
log = logging.getLogger("safevoice.instance")


def get_state(session: Session, name: str) -> bytes | None:
    row = session.get(ServerState, name)
    return row.value if row is not None else None


def set_state(session: Session, name: str, value: bytes) -> None:
    row = session.get(ServerState, name)
    if row is None:
        session.add(ServerState(name=name, value=value))
    else:
        row.value = value


def _parse_surge(value: bytes | None) -> tuple[int, int]:
    """(extra difficulty, until as Unix seconds) of a stored surge; (0, 0) when there is none."""
    if value is None:
        return 0, 0
    extra, _, until = value.decode().partition(":")
    return int(extra), int(until)


def raise_surge(session: Session, *, now: datetime, seconds: int = SURGE_SECONDS) -> int:
    """Raise the submission surge by one step from what is in force now, for ``seconds``;
    returns the new extra difficulty. Stored to the minute only (to ``seconds`` when that is
    shorter, as in tests): it tells that a flood happened, not when a report came."""
    row = session.get(ServerState, SURGE, with_for_update=True)
    extra, until = _parse_surge(row.value if row is not None else None)
    moment = math.floor(now.timestamp())
    current = extra if until > moment else 0
    new = min(SURGE_MAX, current + SURGE_STEP)
    lapse = moment + seconds
    lapse += -lapse % min(60, seconds)
    set_state(session, SURGE, f"{new}:{lapse}".encode())
    return new


def initialise(session: Session, *, timezone: str, difficulty: int = DEFAULT_DIFFICULTY) -> bool:
    """Create the instance key and challenge key if missing; return True if anything was new."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"Unknown time zone {timezone!r}.") from None
    created = False
    if get_state(session, INSTANCE_SEED) is None:
        set_state(session, INSTANCE_SEED, keymod.random_bytes(32))
        created = True
    if get_state(session, CHALLENGE_KEY) is None:
        set_state(session, CHALLENGE_KEY, powmod.new_challenge_key())
        created = True
    if get_state(session, DIFFICULTY) is None:
        set_state(session, DIFFICULTY, str(difficulty).encode())
    set_state(session, TIMEZONE, timezone.encode())
    return created


@dataclass(frozen=True)
class ExternalChannel:
    """A competent authority a reporter may turn to (EU Directive 2019/1937, Art. 9(1)(g))."""

    name: str
    description: str = ""
    address: str = ""


def set_external_channels(session: Session, entries: list[dict[str, object]]) -> None:
    """Replace the list of external reporting channels shown on the start page."""
    channels = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError("Every external channel needs a name.")
        values = {key: entry.get(key, "") for key in ("name", "description", "address")}
        if not all(isinstance(v, str) and len(v) <= 500 for v in values.values()):
            raise ConfigError(
                "An external channel's name, description and address are short texts."
            )
        channels.append(values)
    set_state(session, EXTERNAL_CHANNELS, json.dumps(channels).encode())


def set_difficulty(session: Session, difficulty: int) -> None:
    if not 0 <= difficulty <= powmod.MAX_DIFFICULTY:
        raise ConfigError(f"The difficulty must be between 0 and {powmod.MAX_DIFFICULTY}.")
    set_state(session, DIFFICULTY, str(difficulty).encode())


def instance_public_key(session: Session) -> bytes:
    seed = get_state(session, INSTANCE_SEED)
    if seed is None:
        raise ConfigError("This instance is not initialised; run `safevoice admin init`.")
    return keymod.sign_public_key(seed)


def pending_rotation(session: Session) -> int | None:
    """The sequence number a pending new instance key will sign from, if a rotation is pending."""
    value = get_state(session, ROTATION_FROM)
    return int(value) if value is not None else None


def latest_checkpoint(
    session: Session, *, manifest: Manifest, today: date
) -> checkpoints.Checkpoint:
    """The newest audit checkpoint, signed with this instance's key (see audit/checkpoints.py)."""
    return checkpoints.latest(
        session,
        manifest=manifest,
        today=today,
        instance_seed=get_state(session, INSTANCE_SEED),
        pending_rotation=pending_rotation(session),
    )


def begin_key_rotation(session: Session) -> tuple[bytes, int]:
    """Create the next instance key; return its public half and the seq it will sign from.

    The server keeps signing with the current key until the committee publishes a manifest that
    lists the new key from that seq on; checkpoints meanwhile stop before it. Asking again while
    a rotation is pending returns the same key and seq.
    """
    seed = get_state(session, NEXT_INSTANCE_SEED)
    from_seq = pending_rotation(session)
    if seed is None or from_seq is None:
        seed = keymod.random_bytes(32)
        from_seq = audit.head(session)[0] + 1
        set_state(session, NEXT_INSTANCE_SEED, seed)
        set_state(session, ROTATION_FROM, str(from_seq).encode())
    return keymod.sign_public_key(seed), from_seq


def _accept_instance_key(session: Session, manifest: Manifest, previous: Manifest | None) -> bool:
    """Check the manifest's audit keys against this server; True if it completes a rotation.

    The newest audit key must be this server's instance key, or the pending next key with
    exactly the ``from_seq`` the rotation started at; earlier audit keys must all be kept, so
    that every checkpoint ever signed stays verifiable.
    """
    if previous is not None:
        kept = {(k.key, k.from_seq) for k in manifest.audit_keys}
        if any((k.key, k.from_seq) not in kept for k in previous.audit_keys):
            raise ManifestError(
                "The manifest drops or changes an earlier audit key; checkpoints it signed "
                "would no longer verify."
            )
    if instance_public_key(session) == manifest.receipt_key:
        return False
    next_seed = get_state(session, NEXT_INSTANCE_SEED)
    from_seq = pending_rotation(session)
    if next_seed is not None and keymod.sign_public_key(next_seed) == manifest.receipt_key:
        newest = max(manifest.audit_keys, key=lambda k: k.from_seq)
        if newest.from_seq != from_seq:
            raise ManifestError(
                f"The manifest starts the new instance key at seq {newest.from_seq}, but the "
                f"server prepared it for seq {from_seq}; sign it again with --from-seq "
                f"{from_seq}."
            )
        return True
    raise ManifestError(
        "The manifest does not list this server's instance key as its newest audit key; "
        "receipts and checkpoints would not verify."
    )


def current_signed_manifest(session: Session) -> SignedManifest | None:
    row = session.scalars(
        select(PublishedManifest).order_by(PublishedManifest.version.desc()).limit(1)
    ).one_or_none()
    if row is None:
        return None
    return SignedManifest.from_json(
        {"payload": b64e(row.payload), "signatures": json.loads(row.signatures)}
    )


def root_handovers(session: Session) -> list[SignedManifest]:
    """Every published manifest that moved the committee to a new root, oldest first.

    Each is cross-signed by the root it replaced (or was published with ``accept_new_root``), so
    a client pinned to any earlier root can walk from its pin to the current root, checking
    every signature itself; nothing here is trusted by the client.
    """
    rows = session.scalars(select(PublishedManifest).order_by(PublishedManifest.version)).all()
    handovers = []
    for previous, row in pairwise(rows):
        if row.root != previous.root:
            handovers.append(
                SignedManifest.from_json(
                    {"payload": b64e(row.payload), "signatures": json.loads(row.signatures)}
                )
            )
    return handovers


@dataclass(frozen=True)
class Publication:
    """A manifest just stored, and the key labels it removed or replaced (empty for the first
    manifest or a repeat of the current one)."""

    manifest: Manifest
    changed: frozenset[str]
    new: bool


def store_manifest(
    session: Session,
    signed: SignedManifest,
    *,
    today: date,
    now: datetime,
    accept_new_root: bool = False,
) -> Publication:
    """Check a committee-signed manifest and store it as the current one.

    Only the instance's own state changes here. What a removed or replaced key means for the
    cases and the sessions is decided above, by ``cases.manifest.publish``, which is the one
    function to call.
    """
    manifest = parse_payload(signed.payload)
    signers = valid_signers(signed)
    if manifest.root not in signers:
        raise ManifestError("The manifest is not signed by the committee root it names.")
    check_time(manifest, now)
    current = current_signed_manifest(session)
    changed: set[str] = set()
    previous = parse_payload(current.payload) if current is not None else None
    if current is not None and current.payload == signed.payload:
        return Publication(manifest=manifest, changed=frozenset(), new=False)
    rotated = _accept_instance_key(session, manifest, previous)
    if current is not None and previous is not None:
        if manifest.version <= previous.version:
            raise Conflict(
                f"Manifest version {manifest.version} is not newer than the published "
                f"version {previous.version}."
            )
        if (
            manifest.root != previous.root
            and previous.root not in signers
            and not (accept_new_root)
        ):
            raise ManifestError(
                "The manifest names a new committee root that the current root did not "
                "cross-sign; publish it only if the committee really replaced its root."
            )
        changed = changed_labels(previous, manifest)
    if rotated:
        promote_next_key(session, today=today)
    session.add(
        PublishedManifest(
            version=manifest.version,
            payload=signed.payload,
            signatures=json.dumps(signed.to_json()["signatures"]),
            root=manifest.root,
            published_on=today,
        )
    )
    return Publication(manifest=manifest, changed=frozenset(changed), new=True)


def promote_next_key(session: Session, *, today: date) -> None:
    """Make the pending instance key current; the old seed is destroyed (what it signed stays
    verifiable under the public key the manifest keeps listing)."""
    seed = get_state(session, NEXT_INSTANCE_SEED)
    from_seq = pending_rotation(session)
    if seed is None or from_seq is None:
        raise ConfigError("No instance-key rotation is pending.")
    set_state(session, INSTANCE_SEED, seed)
    session.execute(
        delete(ServerState).where(ServerState.name.in_([NEXT_INSTANCE_SEED, ROTATION_FROM]))
    )
    audit.record(
        session,
        event="instance.key_rotated",
        case_id=None,
        actor=OPERATOR,
        on=today,
        detail={"from_seq": from_seq},
    )


@dataclass(frozen=True)
class Snapshot:
    """What a request needs of the instance state, read once per request."""

    instance_seed: bytes
    challenge_key: bytes
    difficulty: int
    timezone: ZoneInfo
    signed_manifest: SignedManifest | None
    manifest: Manifest | None
    channels: frozenset[str] = frozenset()
    external_channels: tuple[ExternalChannel, ...] = ()
    surge: tuple[int, int] = (0, 0)

    def surge_at(self, now: datetime) -> int:
        """The extra submission difficulty in force at ``now`` (0 once a surge has lapsed)."""
        extra, until = self.surge
        return extra if until > math.floor(now.timestamp()) else 0

    @property
    def instance_id(self) -> str:
        if self.manifest is None:
            raise NotFound("No manifest has been published yet.")
        return self.manifest.instance_id

    def require_manifest(self) -> Manifest:
        if self.manifest is None:
            raise NotFound(
                "This instance has no published manifest yet; reports cannot be "
                "sent until the committee publishes one."
            )
        return self.manifest

    def today(self, now: datetime) -> date:
        return now.astimezone(self.timezone).date()


_parsed_manifests: dict[bytes, Manifest] = {}


def snapshot(session: Session) -> Snapshot:
    rows = {row.name: row.value for row in session.scalars(select(ServerState))}
    if INSTANCE_SEED not in rows or CHALLENGE_KEY not in rows:
        raise ConfigError("This instance is not initialised; run `safevoice admin init`.")
    signed = current_signed_manifest(session)
    manifest = None
    if signed is not None:
        # Parsing is pure and the payload immutable, so a per-process memo is safe.
        manifest = _parsed_manifests.get(signed.payload)
        if manifest is None:
            try:
                manifest = parse_payload(signed.payload)
            except ManifestError:
                # Served as stored so clients can see and refuse it; never used by the server.
                log.warning("the published manifest does not parse; submissions are refused")
            else:
                _parsed_manifests[signed.payload] = manifest
    return Snapshot(
        instance_seed=rows[INSTANCE_SEED],
        challenge_key=rows[CHALLENGE_KEY],
        difficulty=int(rows.get(DIFFICULTY, str(DEFAULT_DIFFICULTY).encode())),
        timezone=ZoneInfo(rows.get(TIMEZONE, b"UTC").decode()),
        signed_manifest=signed,
        manifest=manifest,
        channels=frozenset(session.scalars(select(Channel.name))),
        external_channels=tuple(
            ExternalChannel(**entry) for entry in json.loads(rows.get(EXTERNAL_CHANNELS, b"[]"))
        ),
        surge=_parse_surge(rows.get(SURGE)),
    )
