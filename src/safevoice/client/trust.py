"""Deciding whether to trust what a server shows: the manifest against the pin and the past."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from safevoice.client.state import ServerState
from safevoice.crypto.keys import parse_fingerprint
from safevoice.crypto.manifest import SignedManifest, Verified, verify_manifest
from safevoice.errors import ClientError, ManifestError


def verify_for(
    manifest_json: dict[str, Any],
    *,
    pin: str | None,
    remembered: ServerState | None,
    now: datetime,
) -> Verified:
    """Verify a manifest against the given or remembered pin and the newest version seen.

    On success the remembered state (if any) is updated, including a new pin after a root
    rotation that the pinned root cross-signed; the caller decides whether to save it. Once a
    client has moved to the new root, the old fingerprint given again (as a reporter who keeps
    using the published one would) means the new root; a manifest signed by the old root alone
    is refused.
    """
    given = parse_fingerprint(pin) if pin else None
    stored = remembered.pin if remembered is not None else None
    if remembered is not None and given and stored and given in remembered.former_pins:
        # The root given here cross-signed the hand-over to the stored one, which this client
        # accepted earlier: the stored pin is what the given root vouched for.
        given = stored
    if given and stored and given != stored:
        raise ManifestError(
            "The root fingerprint you gave differs from the one pinned earlier for this "
            "server; if the committee really rotated its root, the pinned one will accept "
            "the cross-signed manifest without --pin."
        )
    use = given or stored
    if use is None:
        raise ClientError(
            "Give the committee root fingerprint with --pin (as published by your "
            "organisation); it is needed the first time."
        )
    signed = SignedManifest.from_json(manifest_json)
    verified = verify_manifest(
        signed, pin=use, now=now, seen=remembered.seen if remembered is not None else None
    )
    if remembered is not None:
        remembered.remember_manifest(
            pin=verified.pin, version=verified.manifest.version, digest=signed.digest
        )
    return verified
