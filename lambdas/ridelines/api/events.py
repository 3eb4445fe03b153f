"""Build API Gateway HTTP API (payload format 2.0) events: for tests and local tooling."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ridelines.auth.verify import authorizer_context


def http_api_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    claims: Mapping[str, Any] | None = None,
    cookies: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "localhost",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "ridelines-test",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": f"{method} {path}",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": 0,
    }
    if claims is not None:
        request_context["authorizer"] = authorizer_context(claims)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "queryStringParameters": dict(query) if query else None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": False,
    }
    if cookies:  # API Gateway moves the Cookie header into this list
        event["cookies"] = [f"{name}={value}" for name, value in cookies.items()]
    return event
