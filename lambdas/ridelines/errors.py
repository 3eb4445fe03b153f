"""Domain errors.

Every error a user can cause or meet derives from :class:`RidelinesError`. Each carries a
stable machine ``code`` and a human ``message``; the HTTP layer (one place:
:mod:`ridelines.api.errors`) and the CLI (``ridelines_local.cli``) turn them into responses
and exit codes. Messages never contain secrets or tokens.
"""

from __future__ import annotations


class RidelinesError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(RidelinesError):
    """Input from outside (HTTP, events, files) failed validation. Maps to HTTP 400 / exit 2."""

    code = "invalid_input"


class UnprocessableInput(InvalidInput):
    """Well-formed input with a value out of range; names the offending ``field``. Maps to 422."""

    code = "unprocessable"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class FitDecodeError(InvalidInput):
    """FIT bytes that cannot be decoded: empty, not FIT, bad header, truncated, CRC mismatch..."""

    code = "invalid_fit"


class Unauthorized(RidelinesError):
    """Missing or invalid credentials (ours or intervals.icu's). Maps to 401."""

    code = "unauthorized"


class Forbidden(RidelinesError):
    code = "forbidden"


class NotFound(RidelinesError):
    code = "not_found"


class Conflict(RidelinesError):
    code = "conflict"


class SyncInProgress(Conflict):
    """A sync for this athlete holds an unexpired lease."""

    code = "sync_in_progress"

    def __init__(self, sync_id: str) -> None:
        super().__init__("a sync is already queued or running for this athlete")
        self.sync_id = sync_id


class UpstreamError(RidelinesError):
    """intervals.icu (or another dependency) failed or answered something unusable. Maps to 502."""

    code = "upstream_error"

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class UpstreamAuthError(UpstreamError):
    """intervals.icu rejected our credentials (401/403). Never read as "no activities"."""

    code = "upstream_unauthorized"


class ConfigurationError(RidelinesError):
    """The environment is missing something the code needs (e.g. tippecanoe not installed)."""

    code = "configuration_error"
