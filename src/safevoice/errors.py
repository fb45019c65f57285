"""The one hierarchy of SafeVoice errors.

Services and clients raise these; only ``web/`` maps them to HTTP status codes and only ``cli/``
turns them into an exit status. Every message is a sentence a person can act on, and none of
them ever contains the input that caused it (invariant 3: no error echoes submitted data).
``SafeVoiceError`` itself is never raised directly.
"""

from __future__ import annotations


class SafeVoiceError(Exception):
    """Root of all SafeVoice errors; carries a stable code and a human sentence."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SafeVoiceError):
    code = "bad_request"
    status = 400


class BadEncoding(BadRequest):
    code = "bad_encoding"


class BadEnvelope(BadRequest):
    code = "bad_envelope"


class ChallengeRejected(BadRequest):
    """A proof-of-work or login challenge that is forged, expired, spent or unsolved."""

    code = "challenge_rejected"


class Unauthorized(SafeVoiceError):
    code = "unauthorized"
    status = 401


class Forbidden(SafeVoiceError):
    code = "forbidden"
    status = 403


class NotFound(SafeVoiceError):
    code = "not_found"
    status = 404


class Conflict(SafeVoiceError):
    code = "conflict"
    status = 409


class TooLarge(SafeVoiceError):
    code = "too_large"
    status = 413


class RateLimited(SafeVoiceError):
    code = "rate_limited"
    status = 429


class Unavailable(SafeVoiceError):
    code = "unavailable"
    status = 503


class StorageFull(Unavailable):
    """The server's disk (database or blob store) is full: nothing was stored."""

    code = "storage_full"
    status = 507


class CryptoError(SafeVoiceError):
    """Authentication, decryption or signature verification failed."""

    code = "crypto_error"


class VerificationFailed(CryptoError):
    code = "verification_failed"


class WrongPassphrase(CryptoError):
    code = "wrong_passphrase"


class ManifestError(CryptoError):
    """The instance manifest cannot be trusted; the message says why."""

    code = "manifest_refused"


class BadShares(CryptoError):
    """Key shares that are malformed, from different backups, or too few to rebuild the key."""

    code = "bad_shares"


class BadCode(BadRequest):
    """A follow-up code that is malformed or fails its checksum (a typo, not a wrong code)."""

    code = "bad_code"


class ConfigError(SafeVoiceError):
    """The instance or a configuration file is not set up right (503 if a request meets it)."""

    code = "config_error"
    status = 503


class IncompleteDeletion(SafeVoiceError):
    """Deleted rows are gone from the tables but a copy of them remains in the database's
    files (for example SQLite's write-ahead log, held by a reader); the message names it."""

    code = "incomplete_deletion"
    status = 503


class ClientError(SafeVoiceError):
    """A client-side failure talking to the server (unreachable, unexpected answer)."""

    code = "client_error"


class Unreachable(ClientError):
    """The server could not be reached or did not answer in time; trying later may work."""

    code = "unreachable"


class AuditViolation(SafeVoiceError):
    """The audit log, a checkpoint or a countersignature does not verify; the message names
    the entry or checkpoint."""

    code = "audit_violation"
    status = 409
