"""The local HTTP gateway: API Gateway (HTTP API) for the Lambdas, CloudFront for the tiles, and
the viewer's static files, on one origin.

* API routes come from the templates (``AWS::ApiGatewayV2::Route``); each request becomes a
  payload 2.0 event, protected routes pass the JWT authorizer first (401 ``Unauthorized`` like
  API Gateway), and the Lambda result becomes the HTTP response.
* ``/tiles/...`` reads the data bucket with byte ranges (206, ``Content-Range``), like CloudFront
  in front of S3.
* Anything else is the viewer (``web/``) and its JavaScript libraries (``/vendor/``, from npm).
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

from ridelines_local.localstack.authorizer import JwtAuthorizer, Rejected
from ridelines_local.localstack.events import Route, build_event, parse_result, select_route

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]
TILES_PREFIX = "/tiles/"
VENDOR_PREFIX = "/vendor/"
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
        frontend_origin: str,
        cors: Mapping[str, Any] | None = None,
    ) -> None:
        self.routes = list(routes)
        self.s3 = s3_client
        self.tiles_bucket = tiles_bucket
        self.web_dir = web_dir.resolve()
        self.vendor = {name: path.resolve() for name, path in vendor.items()}
        self.frontend_origin = frontend_origin.rstrip("/")
        self.cors = dict(cors or {})

    # -- WSGI -----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            logger.exception("local gateway: %s %s failed", request.method, request.path)
            response = _json(500, {"message": "Internal Server Error"})
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith(TILES_PREFIX):
            return self.tiles(request)
        selected = select_route((r.route for r in self.routes), request.method, path)
        if selected is not None:
            return self.api(request, *selected)
        if request.method == "OPTIONS" and self.cors and self._api_path(path):
            return self._preflight(request)
        if request.method in ("GET", "HEAD"):
            return self.static(path)
        return _json(404, {"message": "Not Found"})

    # -- API Gateway ------------------------------------------------------------------------------
    def _api_path(self, path: str) -> bool:
        return any(
            r.route.match("OPTIONS" if r.route.method == "ANY" else r.route.method, path) is not None
            for r in self.routes
        )

    def _preflight(self, request: Request) -> Response:
        # HTTP API answers CORS preflights itself when the API has a CORS configuration.
        origin = request.headers.get("Origin", "")
        response = Response(status=204)
        if origin and origin in self._allowed_origins():
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = ",".join(
                self.cors.get("AllowMethods") or ["GET", "POST", "DELETE", "OPTIONS"]
            )
            response.headers["Access-Control-Allow-Headers"] = ",".join(
                self.cors.get("AllowHeaders") or ["authorization", "content-type"]
            )
            if self.cors.get("MaxAge"):
                response.headers["Access-Control-Max-Age"] = str(self.cors["MaxAge"])
        return response

    def _allowed_origins(self) -> set[str]:
        # The stacks allow FRONTEND_URL; locally the frontend is this very server.
        return {self.frontend_origin}

    def api(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        api_route = next(r for r in self.routes if r.route is route)
        headers = {k.lower(): v for k, v in request.headers.items()}
        claims = None
        if api_route.authorizer is not None:
            try:
                claims = api_route.authorizer.authorize(headers)
            except Rejected as exc:
                logger.info("local gateway: 401 on %s %s (%s)", request.method, request.path, exc)
                response = _json(401, {"message": "Unauthorized"})
                response.headers["WWW-Authenticate"] = "Bearer"
                return self._with_cors(request, response)
        event = build_event(
            method=request.method,
            path=request.path,
            raw_query=request.query_string.decode("latin-1"),
            headers=request.headers.items(),
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
        return self._with_cors(request, response)

    def _with_cors(self, request: Request, response: Response) -> Response:
        origin = request.headers.get("Origin")
        if self.cors and origin and origin in self._allowed_origins():
            response.headers.setdefault("Access-Control-Allow-Origin", origin)
        return response

    # -- CloudFront + S3 for the tiles --------------------------------------------------------
    def tiles(self, request: Request) -> Response:
        cors = {
            "Access-Control-Allow-Origin": self.frontend_origin,
            "Access-Control-Expose-Headers": "ETag, Content-Range, Content-Length, Accept-Ranges",
            "Vary": "Origin",
        }
        if request.method == "OPTIONS":
            response = Response(status=204, headers=cors)
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
            response.headers["Access-Control-Allow-Headers"] = "Range, If-Match, If-None-Match"
            response.headers["Access-Control-Max-Age"] = "86400"
            return response
        if request.method not in ("GET", "HEAD"):
            return Response(status=405, headers={**cors, "Allow": "GET, HEAD, OPTIONS"})
        key = request.path.lstrip("/")
        if ".." in key.split("/"):
            return Response(status=403, headers=cors)
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
                return Response(status=403, headers=cors)
            if code == "InvalidRange" or status == 416:
                return Response(status=416, headers=cors)
            if status == 304:
                return Response(status=304, headers=cors)
            raise
        status = 206 if "ContentRange" in obj else 200
        headers = {
            **cors,
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

    # -- the viewer ---------------------------------------------------------------------------------
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


def _inside(root: Path, relative: str) -> Path | None:
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root) else None


def _json(status: int, payload: Mapping[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")
