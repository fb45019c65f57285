"""What a production-mode test needs: a release bundle the service user cannot change, and
database URLs with a password that production mode accepts."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

# nobody:nogroup on Debian. The tests run as root, so a bundle root owned would count as the
# service user's own; this owner is someone else, as root is for the real service user.
OTHER_UID = 65534
OTHER_GID = 65534


def make_bundle(root: Path) -> Path:
    """A small release bundle owned by another user, folders 0755 and files 0644."""
    bundle = root / "bundle"
    (bundle / "static").mkdir(parents=True)
    (bundle / "index.html").write_text("<!doctype html><title>SafeVoice</title>\n")
    (bundle / "static" / "app.js").write_text("console.log('reporter page');\n")
    for path in (bundle, *bundle.rglob("*")):
        os.chown(path, OTHER_UID, OTHER_GID)
        path.chmod(0o755 if path.is_dir() else 0o644)
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
