"""The local origin: what the CloudFront distribution, its CloudFront Function and API Gateway (HTTP API)
do for the site, on one origin (DESIGN 3.1 and 7).

* ``/auth/*`` and ``/api/*``: API routes come from the templates (``AWS::ApiGatewayV2::Route``); each
  request becomes a payload 2.0 event, protected routes pass the JWT authorizer first (401
  ``Unauthorized`` like API Gateway). For ``/api/*`` only, and only when the request has no
  ``Authorization`` header, the session cookie becomes ``Authorization: Bearer`` first, exactly as
  the viewer-request CloudFront Function does.
* ``/tiles/*``: only with the rider's CloudFront signed cookies (verified with the same public key),
  then the data bucket with byte ranges (206, ``Content-Range``; 416), like CloudFront in front of S3.
* ``/config.json``: the web app's runtime settings (``basemap_style_url``).
* anything else: the web app (``web/``) and its JavaScript libraries (``/vendor/``, from npm).

Every answer carries the site's security headers.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from werkzeug.wrappers import Request, Response

from ridelines.auth.cookies import SESSION_COOKIE, CookieHeaderTooLarge, cookie_header_pieces, read_cookies
from ridelines.site.headers import security_headers
from ridelines_local.localstack.authorizer import JwtAuthorizer, Rejected
from ridelines_local.localstack.events import Route, build_event, parse_result, select_route
from ridelines_local.localstack.signed_cookies import Denied, SignedCookieVerifier

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]
TILES_PREFIX = "/tiles/"
API_PREFIX = "/api/"
VENDOR_PREFIX = "/vendor/"
CONFIG_PATH = "/config.json"
TILES_CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class ApiRoute:
    route: Route
    invoke: Invoke
    authorizer: JwtAuthorizer | None


class Gateway:
    """A WSGI application; serve it with werkzeug's threaded server."""

    def __init__(
        self,
        *,
        routes: Iterable[ApiRoute],
        s3_client: Any,
        tiles_bucket: str,
        web_dir: Path,
        vendor: Mapping[str, Path],
        site_url: str,
        tiles_access: SignedCookieVerifier,
        basemap_style_url: str | None = None,
    ) -> None:
        self.routes = list(routes)
        self.s3 = s3_client
        self.tiles_bucket = tiles_bucket
        self.web_dir = web_dir.resolve()
        self.vendor = {name: path.resolve() for name, path in vendor.items()}
        self.site_url = site_url.rstrip("/")
        self.tiles_access = tiles_access
        self.basemap_style_url = basemap_style_url
        self.headers = security_headers(basemap_style_url)

    # -- WSGI -----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except CookieHeaderTooLarge as exc:
            response = _json(400, {"error": exc.code, "message": exc.message})
        except Exception:
            logger.exception("local gateway: %s %s failed", request.method, request.path)
            response = _json(500, {"message": "Internal Server Error"})
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == CONFIG_PATH and request.method in ("GET", "HEAD"):
            return _json(200, {"basemap_style_url": self.basemap_style_url}, cache_control="no-cache")
        if path.startswith(TILES_PREFIX):
            return self.tiles(request)
        selected = select_route((r.route for r in self.routes), request.method, path)
        if selected is not None:
            return self.api(request, *selected)
        if path.startswith((API_PREFIX, "/auth/")):
            return _json(404, {"message": "Not Found"})
        if request.method in ("GET", "HEAD"):
            return self.static(path)
        return _json(404, {"message": "Not Found"})

    # -- CloudFront Function + API Gateway -------------------------------------------------------
    def api(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        api_route = next(r for r in self.routes if r.route is route)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.path.startswith(API_PREFIX) and not headers.get("authorization"):
            session = _cookies(request).get(SESSION_COOKIE)
            if session:
                headers["authorization"] = f"Bearer {session}"
        claims = None
        if api_route.authorizer is not None:
            try:
                claims = api_route.authorizer.authorize(headers)
            except Rejected as exc:
                logger.info("local gateway: 401 on %s %s (%s)", request.method, request.path, exc)
                response = _json(401, {"message": "Unauthorized"})
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        event = build_event(
            method=request.method,
            path=request.path,
            raw_query=request.query_string.decode("latin-1"),
            headers=headers.items(),
            body=request.get_data(cache=False),
            source_ip=request.remote_addr or "127.0.0.1",
            route_key=route.route_key,
            path_parameters=params,
            claims=claims,
        )
        result = parse_result(api_route.invoke(event))
        response = Response(result.body, status=result.status)
        for name, value in result.headers:
            if name.lower() == "set-cookie":
                response.headers.add(name, value)
            else:
                response.headers[name] = value
        return response

    # -- CloudFront (trusted key group) + S3 for the tiles ---------------------------------------
    def tiles(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(status=405, headers={"Allow": "GET, HEAD"})
        url = f"{self.site_url}{request.path}"
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        try:
            self.tiles_access.check(url, _cookies(request))
        except Denied as exc:
            logger.info("local gateway: 403 on %s (%s)", request.path, exc)
            return _json(403, {"error": "forbidden", "message": "no access to these tiles; log in again"})
        key = request.path.lstrip("/")
        if ".." in key.split("/"):
            return _json(403, {"error": "forbidden", "message": "no access to these tiles"})
        kwargs: dict[str, Any] = {"Bucket": self.tiles_bucket, "Key": key}
        range_header = request.headers.get("Range")
        if range_header:
            kwargs["Range"] = range_header
        if request.headers.get("If-None-Match"):
            kwargs["IfNoneMatch"] = request.headers["If-None-Match"]
        try:
            if request.method == "HEAD":
                obj = self.s3.head_object(**{k: v for k, v in kwargs.items() if k != "Range"})
                body = b""
            else:
                obj = self.s3.get_object(**kwargs)
                body = obj["Body"].read()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            if code in ("NoSuchKey", "404", "NotFound"):
                # CloudFront with OAC answers 403 for a missing object (S3 hides existence).
                return _json(403, {"error": "forbidden", "message": "no such tiles"})
            if code == "InvalidRange" or status == 416:
                return Response(status=416)
            if status == 304:
                return Response(status=304)
            raise
        status = 206 if "ContentRange" in obj else 200
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Type": obj.get("ContentType") or "application/octet-stream",
            "Cache-Control": obj.get("CacheControl") or TILES_CACHE_CONTROL,
            "ETag": obj.get("ETag", ""),
            "Content-Length": str(obj.get("ContentLength", len(body))),
        }
        if "ContentRange" in obj:
            headers["Content-Range"] = obj["ContentRange"]
        for field, header in (
            ("ContentEncoding", "Content-Encoding"),
            ("ContentDisposition", "Content-Disposition"),
        ):
            if obj.get(field):  # the export: gzip on the wire, saved as a file (as CloudFront passes them)
                headers[header] = obj[field]
        response = Response(body, status=status, headers=headers)
        response.headers["Content-Length"] = headers["Content-Length"]  # HEAD: the object's size, no body
        return response

    # -- the web app ------------------------------------------------------------------------------
    def static(self, path: str) -> Response:
        if path.startswith(VENDOR_PREFIX):
            name, _, rest = path[len(VENDOR_PREFIX) :].partition("/")
            root = self.vendor.get(name)
            file = _inside(root, rest) if root else None
        else:
            file = _inside(self.web_dir, "index.html" if path in ("", "/") else path.lstrip("/"))
        if file is None or not file.is_file():
            return _json(404, {"message": "Not Found"})
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return Response(
            file.read_bytes(), headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )


def _cookies(request: Request) -> dict[str, str]:
    """The request's cookies; an over-long Cookie header raises before anything reads it."""
    return read_cookies(cookie_header_pieces({k: v for k, v in request.headers.items()}))


def _inside(root: Path, relative: str) -> Path | None:
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root) else None


def _json(status: int, payload: Mapping[str, Any], *, cache_control: str = "no-store") -> Response:
    return Response(
        json.dumps(payload),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": cache_control},
    )
