"""Attachments: resumable uploads of encrypted chunks, bound to a case when it is written."""
