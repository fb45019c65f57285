"""What a production-mode test needs: a release bundle the service user cannot change, and
database URLs with a password that production mode accepts."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

from safevoice.web.bundle import Bundle

# nobody:nogroup on Debian. The tests run as root, so a bundle root owned would count as the
# service user's own; this owner is someone else, as root is for the real service user.
OTHER_UID = 65534
OTHER_GID = 65534


def make_bundle(root: Path, source: Bundle) -> Path:
    """A copy of a real release bundle, owned by another user: folders 0555, files 0444 (as
    ``safevoice web build`` leaves them), so that the service user cannot change it."""
    bundle = root / "bundle"
    shutil.copytree(source.folder, bundle)
    for path in (bundle, *bundle.rglob("*")):
        os.chown(path, OTHER_UID, OTHER_GID, follow_symlinks=False)
    return bundle


def with_password(url: str) -> str:
    """``url`` with a long random password (the test server trusts any); SQLite unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password=secrets.token_hex(24)).render_as_string(hide_password=False)


def production_env(database_url: str, bundle: Path) -> dict[str, str]:
    return {
        "SAFEVOICE_PRODUCTION": "1",
        "SAFEVOICE_DATABASE_URL": with_password(database_url),
        "SAFEVOICE_BUNDLE_DIR": str(bundle),
    }
