"""What makes a demo instance recognisable, so that production mode can refuse it.

``safevoice demo`` uses keys derived from public constants (anyone can recompute them, see
``crypto.keys.public_demo_keypair``) and marks the database it sets up. Production mode refuses
both: a manifest that names any demo key, wherever it was signed or published, and a database
that once ran the demo (its cases are readable by anyone who has this source code).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy.orm import Session

from safevoice.crypto.keys import KeyPair, public_demo_keypair
from safevoice.crypto.manifest import Manifest
from safevoice.instance.service import get_state, set_state

DEMO_MARKER = "demo_instance"
DEMO_ROOT = ("root", "root", "Demo committee root")
DEMO_MEMBERS = (
    ("member", "alice", "Alice Martin"),
    ("member", "bob", "Bob Okafor"),
    ("member", "carol", "Carol Nguyen"),
)


def demo_keys() -> list[KeyPair]:
    """The demo's committee root first, then its members."""
    return [public_demo_keypair(*identity) for identity in (DEMO_ROOT, *DEMO_MEMBERS)]


@cache
def demo_fingerprints() -> frozenset[str]:
    """Fingerprints of every key the demo uses (the name is not part of a fingerprint)."""
    return frozenset(keys.public.fingerprint for keys in demo_keys())


def demo_keys_in(manifest: Manifest) -> list[str]:
    """Who in ``manifest`` holds a demo key: "root", member and auditor ids, or the archive."""
    known = demo_fingerprints()
    found = ["root"] if manifest.root in known else []
    found += [key.id for key in (*manifest.members, *manifest.auditors) if key.fingerprint in known]
    if manifest.archive is not None and manifest.archive.fingerprint in known:
        found.append(manifest.archive.id)
    return found


def mark_demo(session: Session) -> None:
    set_state(session, DEMO_MARKER, b"1")


def is_demo(session: Session) -> bool:
    return get_state(session, DEMO_MARKER) is not None
