"""The marks by which a member's client syncs only what changed, on both sides of the wire.

Every case carries a change marker: ``version`` rises with every change a member syncs, and
``objects`` counts the objects the case holds. The server lists the cases changed since a day
(the day only, never a time: nothing may order the cases' arrivals, invariant 2), and gives, on
the first page of such a listing, the digest of every readable case's marks. The client keeps
the marks it verified; when its own digest differs from the server's, something changed that
the listing did not show (a case dropped, a change without its marker advancing, a change in
flight across midnight), and the client reads the whole list again to find it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from safevoice.crypto.encoding import b64e, lp

CONTEXT = b"safevoice-case-marks-v1"

Mark = tuple[int, int]
"""A case's (version, objects)."""


def marks_digest(marks: Iterable[tuple[str, Mark]]) -> str:
    """The digest of a set of cases' marks, the same whatever order they come in."""
    digest = hashlib.blake2b(CONTEXT, digest_size=32)
    for case_id, (version, objects) in sorted(marks):
        digest.update(lp(case_id, str(version), str(objects)))
    return b64e(digest.digest())
