"""API Gateway HTTP API (payload format 2.0) events and responses, as API Gateway builds them.

Pure functions so the gateway stays small and the event shape is unit tested on its own.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_ID = "123456789012"
API_ID = "local"
TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml", "+json")


@dataclass(frozen=True)
class Route:
    """One ``AWS::ApiGatewayV2::Route``: ``METHOD /path`` with ``{param}`` / greedy ``{proxy+}``."""

    route_key: str
    target: str
    protected: bool

    @property
    def method(self) -> str:
        return "ANY" if self.route_key == "$default" else self.route_key.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return "" if self.route_key == "$default" else self.route_key.split(" ", 1)[1]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.route_key == "$default":
            return {}
        if self.method not in ("ANY", method):
            return None
        pattern, names = "", []
        for part in self.path.strip("/").split("/"):
            if part.startswith("{") and part.endswith("+}"):
                names.append(part[1:-2])
                pattern += "/(.+)"
            elif part.startswith("{") and part.endswith("}"):
                names.append(part[1:-1])
                pattern += "/([^/]+)"
            else:
                pattern += "/" + re.escape(part)
        matched = re.fullmatch(pattern or "/", path)
        return dict(zip(names, matched.groups(), strict=True)) if matched else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        # API Gateway: exact paths beat parameters beat greedy paths; a method beats ANY; $default last.
        if self.route_key == "$default":
            return (0, 0, 0)
        greedy = "+}" in self.path
        return (0 if greedy else 1, len(self.path.split("/")), 0 if self.method == "ANY" else 1)


def select_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    candidates = [(r, params) for r in routes if (params := r.match(method, path)) is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda c: c[0].specificity)


def is_text(content_type: str | None) -> bool:
    ct = (content_type or "").lower()
    return any(t in ct for t in TEXT_TYPES)


def build_event(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The event API Gateway hands a Lambda integration (payload format version 2.0)."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    when = time.time() if now is None else now
    host = joined.get("host", "localhost")
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(when, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(when * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": stringify_claims(claims), "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if is_text(joined.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    return event


def stringify_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """API Gateway passes every JWT claim as a string (numbers as digits, lists as ``[a b]``)."""
    out: dict[str, str] = {}
    for key, value in claims.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_result(result: Any) -> HttpResponse:
    """Turn a Lambda result into the HTTP response API Gateway would send (payload 2.0 rules)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # "If your Lambda function doesn't return statusCode, API Gateway assumes a 200 JSON response"
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = str(raw).encode("utf-8")
    if not any(k.lower() == "content-type" for k, _ in headers) and body:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(int(result["statusCode"]), headers, body)
