"""Where the browser may be sent after login: only a same-site relative path.

The path is appended to ``SITE_URL``, so anything a browser could read as another origin
(``//host``, ``/\\host``, a scheme, or the same hidden behind percent-encoding) is an open
redirect and is refused.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ridelines.errors import InvalidInput

DEFAULT_REDIRECT_PATH = "/"
MAX_REDIRECT_PATH_LENGTH = 512
# RFC 3986 path/query characters. No '#', no backslash, no whitespace or controls.
_ALLOWED = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")
# Browsers decode at most a couple of layers; checking until stable (bounded) covers double-encoding.
_MAX_DECODE_ROUNDS = 4


class InvalidRedirectPath(InvalidInput):
    code = "invalid_redirect_path"


def validate_redirect_path(value: str | None) -> str:
    """Return ``value`` when it is a safe same-site relative path, ``/`` when absent; else raise."""
    if value is None or value == "":
        return DEFAULT_REDIRECT_PATH
    if len(value) > MAX_REDIRECT_PATH_LENGTH:
        raise InvalidRedirectPath("redirect_path is too long")
    if not _ALLOWED.match(value):
        raise InvalidRedirectPath("redirect_path contains characters that are not allowed")
    candidate = value
    for _ in range(_MAX_DECODE_ROUNDS):
        _check_form(candidate)
        try:
            decoded = unquote(candidate, errors="strict") if "%" in candidate else candidate
        except UnicodeDecodeError as exc:
            raise InvalidRedirectPath("redirect_path is not valid UTF-8 once decoded") from exc
        if decoded == candidate:
            return value
        candidate = decoded
    raise InvalidRedirectPath("redirect_path is encoded too many times")


def _check_form(path: str) -> None:
    if not path.startswith("/"):
        raise InvalidRedirectPath("redirect_path must be a relative path starting with '/'")
    if "//" in path or "\\" in path:
        raise InvalidRedirectPath("redirect_path must stay on this site")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or (ch.isspace() and ch != " ") for ch in path):
        raise InvalidRedirectPath("redirect_path contains control characters")
    if "#" in path:
        raise InvalidRedirectPath("redirect_path must not contain a fragment")


def site_redirect(site_url: str, redirect_path: str) -> str:
    """``{SITE_URL}{redirect_path}``: an absolute Location on our own origin, carrying no token."""
    return f"{site_url.rstrip('/')}{redirect_path}"
