"""Retention tests run the purge against every blob store where blobs matter."""

from __future__ import annotations

from tests.attachments.conftest import _s3_credentials, s3_endpoint

__all__ = ["_s3_credentials", "s3_endpoint"]
