"""A submitted report that the server has not confirmed yet, kept so that it can be resent.

With ``--state DIR`` the reporter CLI writes, before its first attempt, the request exactly as
it is sent (the report already encrypted to the committee, the proof of work, the idempotency
key) together with the follow-up code it will show once the report is confirmed, in
``DIR/pending-report.json`` (mode 0600, folder 0700). Running the same command again resends
that request, byte for byte with the same key, so the report can never arrive twice; the file
is removed as soon as the server's receipt verifies. Without ``--state`` nothing is written and
the report can only be retried while the command runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safevoice.errors import ClientError
from safevoice.private_files import write_private_text

PENDING_FILE = "pending-report.json"


@dataclass
class PendingReport:
    server: str
    channel: str
    idempotency_key: str
    body: dict[str, Any]
    code: str
    report_hash: str
    """base64url of the transcript hash the receipt must name."""

    @staticmethod
    def path(folder: Path) -> Path:
        return folder / PENDING_FILE

    @classmethod
    def load(cls, folder: Path | None) -> PendingReport | None:
        if folder is None or not cls.path(folder).exists():
            return None
        try:
            data = json.loads(cls.path(folder).read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise ClientError(
                f"The kept report {cls.path(folder)} is damaged; it cannot be resent."
            ) from exc

    def save(self, folder: Path | None) -> None:
        if folder is not None:
            write_private_text(self.path(folder), json.dumps(asdict(self)))

    @classmethod
    def clear(cls, folder: Path | None) -> None:
        if folder is not None:
            cls.path(folder).unlink(missing_ok=True)
