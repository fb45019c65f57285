"""Deciding whether to trust what a server shows: the manifest against the pin and the past."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from safevoice.client.state import ServerState
from safevoice.crypto.keys import parse_fingerprint
from safevoice.crypto.manifest import (
    SignedManifest,
    Verified,
    parse_payload,
    valid_signers,
    verify_manifest,
)
from safevoice.errors import BadEncoding, ClientError, ManifestError

Handovers = Callable[[], Sequence[dict[str, Any]]]
"""Fetches the server's root hand-over manifests (``GET /api/v1/manifest/handovers``)."""


def walk_handovers(handovers: Sequence[dict[str, Any]], *, pin: str, after: int = 0) -> str:
    """The root reached from ``pin`` through hand-overs each cross-signed by the root before.

    Only manifests newer than version ``after`` (the newest this client has seen) and newer than
    the previous step count, and each step must carry the signature of the root the client
    trusts at that point and of the root it names; anything else is skipped. Nothing the server
    says is trusted: a server can only withhold steps, never add one.
    """
    current, version = pin, after
    for raw in handovers:
        try:
            signed = SignedManifest.from_json(raw)
            signers = valid_signers(signed)
            if current not in signers:
                continue
            manifest = parse_payload(signed.payload)
        except (ManifestError, BadEncoding, KeyError, TypeError, ValueError):
            continue
        if manifest.version > version and manifest.root in signers and manifest.root != current:
            current, version = manifest.root, manifest.version
    return current


def verify_for(
    manifest_json: dict[str, Any],
    *,
    pin: str | None,
    remembered: ServerState | None,
    now: datetime,
    handovers: Handovers | None = None,
    repin: bool = False,
) -> Verified:
    """Verify a manifest against the given or remembered pin and the newest version seen.

    On success the remembered state (if any) is updated, including a new pin after a root
    rotation that the pinned root cross-signed; the caller decides whether to save it. Once a
    client has moved to the new root, the old fingerprint given again (as a reporter who keeps
    using the published one would) means the new root; a manifest signed by the old root alone
    is refused.

    A client that missed a hand-over walks the server's chain of cross-signed hand-overs
    (``handovers``) from its pin to the current root. A new fingerprint given with ``pin`` that
    the chain does not reach is taken only with ``repin`` (the person checked it out of band);
    the saved audit checkpoint and the newest version seen are kept either way.
    """
    given = parse_fingerprint(pin) if pin else None
    stored = remembered.pin if remembered is not None else None
    if remembered is not None and given and stored and given in remembered.former_pins:
        # The root given here cross-signed the hand-over to the stored one, which this client
        # accepted earlier: the stored pin is what the given root vouched for.
        given = stored
    signed = SignedManifest.from_json(manifest_json)
    seen = remembered.seen if remembered is not None else None
    after = seen.version if seen is not None else 0
    if given and stored and given != stored:
        reached = walk_handovers(handovers(), pin=stored, after=after) if handovers else stored
        if reached != given and not repin:
            raise ManifestError(
                "The root fingerprint you gave differs from the one pinned earlier for this "
                "server, and no hand-over the pinned root cross-signed leads to it; if the "
                "committee really replaced its root and you checked the new fingerprint with "
                "your organisation, log in again with --pin NEW --repin."
            )
    use = given or stored
    if use is None:
        raise ClientError(
            "Give the committee root fingerprint with --pin (as published by your "
            "organisation); it is needed the first time."
        )
    if handovers is not None and use not in valid_signers(signed):
        use = walk_handovers(handovers(), pin=use, after=after)
    verified = verify_manifest(signed, pin=use, now=now, seen=seen)
    if remembered is not None:
        remembered.remember_manifest(
            pin=verified.pin, version=verified.manifest.version, digest=signed.digest
        )
    return verified
