"""CSRF defence for cookie-carried calls: a state-changing request whose ``Origin`` is present and is
not the site's own is refused (403) before any route runs, so nothing is stored.

The session cookie is ``SameSite=Strict`` already; this is the second, independent check (DESIGN 3.1).
Requests without ``Origin`` (scripts with a bearer token, old clients) pass: they carry no ambient
credentials a foreign page could have triggered.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from ridelines.errors import Forbidden

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ForeignOrigin(Forbidden):
    code = "foreign_origin"


def same_origin_guard(site_url: str) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response]:
    """A Powertools middleware for ``app.use``; ``site_url`` is ``SITE_URL`` (scheme://host[:port])."""
    allowed = site_url.rstrip("/").lower()

    def guard(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        event = app.current_event
        if event.request_context.http.method.upper() in STATE_CHANGING_METHODS:
            origin = next((v for k, v in (event.headers or {}).items() if k.lower() == "origin"), None)
            if origin is not None and origin.strip().rstrip("/").lower() != allowed:
                raise ForeignOrigin("requests from another site are not allowed")
        return next_middleware(app)

    return guard
