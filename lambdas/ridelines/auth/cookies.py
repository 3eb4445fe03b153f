"""The site's own cookies (DESIGN 3.1): names, attributes, and a bounded reader for the Cookie header.

All are ``Secure; HttpOnly`` and host-only; the ``__Host-`` prefix makes the browser enforce
``Secure``, ``Path=/`` and no ``Domain``, so no subdomain can plant or overwrite them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from ridelines.errors import InvalidInput

SESSION_COOKIE = "__Host-ridelines-session"
STATE_COOKIE = "__Host-ridelines-state"
STATE_COOKIE_MAX_AGE = 600  # the OAuth state's own lifetime
# Browsers cap one cookie at 4 KiB; ours together are ~1.5 KiB. Anything far larger is junk or an attack.
MAX_COOKIE_HEADER_BYTES = 8192


class CookieHeaderTooLarge(InvalidInput):
    code = "cookie_header_too_large"


def session_cookie(token: str, max_age: int) -> Cookie:
    """The JWT: Strict, so no cross-site request ever carries it."""
    return _host_cookie(SESSION_COOKIE, token, max_age=max_age, same_site=SameSite.STRICT_MODE)


def state_cookie(binding: str) -> Cookie:
    """The login's browser binding: Lax, so it comes back on the top-level redirect from intervals.icu."""
    return _host_cookie(STATE_COOKIE, binding, max_age=STATE_COOKIE_MAX_AGE, same_site=SameSite.LAX_MODE)


def cleared_session_cookie() -> Cookie:
    return _host_cookie(SESSION_COOKIE, "", max_age=0, same_site=SameSite.STRICT_MODE)


def cleared_state_cookie() -> Cookie:
    return _host_cookie(STATE_COOKIE, "", max_age=0, same_site=SameSite.LAX_MODE)


def _host_cookie(name: str, value: str, *, max_age: int, same_site: SameSite) -> Cookie:
    return Cookie(
        name=name, value=value, path="/", secure=True, http_only=True, max_age=max_age, same_site=same_site
    )


def read_cookies(cookies: Iterable[str] | None) -> dict[str, str]:
    """``name -> value`` from an HTTP API event's ``cookies`` (or ``Cookie`` header pieces).

    The first occurrence of a name wins (browsers send the most specific path first). Over-long
    input is refused with a 4xx before anything looks at it.
    """
    pieces = list(cookies or [])
    if sum(len(p) + 2 for p in pieces) > MAX_COOKIE_HEADER_BYTES:
        raise CookieHeaderTooLarge("the Cookie header is too large")
    values: dict[str, str] = {}
    for piece in pieces:
        for pair in piece.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name and name not in values:
                values[name] = value.strip()
    return values


def cookie_header_pieces(headers: Mapping[str, str]) -> list[str]:
    """The ``Cookie`` header of a plain header mapping (case-insensitive), split like API Gateway does."""
    for name, value in headers.items():
        if name.lower() == "cookie":
            return [v for v in (p.strip() for p in value.split(";")) if v]
    return []
