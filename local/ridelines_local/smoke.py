"""Check a running site from outside: ``python -m ridelines_local.smoke --url SITE_URL``.

One line per check, exit status 1 when any fails. The checks are what a rider and API Gateway's JWT
authorizer need: the app with its CSP, the discovery document and JWKS (valid, matching the issuer,
each answered within a second: API Gateway gives them 1.5 s), the API refusing a caller without a
session, and the tiles refusing a caller without signed cookies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

MAX_DISCOVERY_SECONDS = 1.0
TIMEOUT = (5.0, 10.0)
UNKNOWN_TILES = "/tiles/smoke-check/nothing-here.pmtiles"


class CheckFailed(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


class SiteChecks:
    def __init__(self, site_url: str, session: requests.Session | None = None) -> None:
        self.site_url = site_url.rstrip("/")
        self.http = session or requests.Session()
        self.jwks_uri: str | None = None

    def get(self, path_or_url: str) -> requests.Response:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.site_url + path_or_url
        return self.http.get(url, timeout=TIMEOUT, allow_redirects=False)

    def app(self) -> str:
        response = self.get("/")
        _expect(response.status_code == 200, f"GET / answered {response.status_code}, not 200")
        directives = _csp(response.headers.get("Content-Security-Policy", ""))
        scripts = directives.get("script-src", directives.get("default-src"))
        _expect(scripts is not None, "GET / has no Content-Security-Policy governing scripts")
        _expect("'unsafe-inline'" not in (scripts or []), "the CSP allows inline scripts")
        return "200 with a Content-Security-Policy"

    def discovery(self) -> str:
        response = self.get("/auth/.well-known/openid-configuration")
        seconds = _timed(response)
        config = _json(response, "the discovery document")
        issuer = f"{self.site_url}/auth"
        _expect(config.get("issuer") == issuer, f"issuer is {config.get('issuer')!r}, not {issuer!r}")
        jwks_uri = config.get("jwks_uri")
        _expect(
            isinstance(jwks_uri, str) and jwks_uri == f"{issuer}/.well-known/jwks.json",
            f"jwks_uri is {jwks_uri!r}",
        )
        self.jwks_uri = jwks_uri
        return f"issuer {issuer} in {seconds * 1000:.0f} ms"

    def jwks(self) -> str:
        _expect(self.jwks_uri is not None, "no jwks_uri (the discovery check failed)")
        assert self.jwks_uri is not None
        response = self.get(self.jwks_uri)
        seconds = _timed(response)
        document = _json(response, "the JWKS")
        keys = document.get("keys")
        if not isinstance(keys, list) or not keys:
            raise CheckFailed("the JWKS has no keys")
        for key in keys:
            _expect(
                isinstance(key, dict)
                and key.get("kty") == "RSA"
                and key.get("alg") == "RS256"
                and key.get("use", "sig") == "sig"
                and bool(key.get("kid"))
                and bool(key.get("n"))
                and bool(key.get("e")),
                "a JWKS key is not an RS256 signing key with a kid",
            )
        return f"{len(keys)} RS256 key(s) in {seconds * 1000:.0f} ms"

    def api_needs_a_session(self) -> str:
        response = self.get("/api/user")
        _expect(
            response.status_code == 401, f"GET /api/user without a session answered {response.status_code}"
        )
        return "GET /api/user without a session is 401"

    def tiles_need_cookies(self) -> str:
        response = self.get(UNKNOWN_TILES)
        _expect(response.status_code == 403, f"GET {UNKNOWN_TILES} answered {response.status_code}, not 403")
        return f"GET {UNKNOWN_TILES} is 403"

    def run(self) -> list[Outcome]:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("app", self.app),
            ("discovery", self.discovery),
            ("jwks", self.jwks),
            ("api-401", self.api_needs_a_session),
            ("tiles-403", self.tiles_need_cookies),
        ]
        outcomes = []
        for name, check in checks:
            try:
                outcomes.append(Outcome(name, True, check()))
            except CheckFailed as exc:
                outcomes.append(Outcome(name, False, str(exc)))
            except requests.RequestException as exc:
                outcomes.append(Outcome(name, False, f"no answer ({type(exc).__name__})"))
        return outcomes


def _expect(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


def _timed(response: requests.Response) -> float:
    seconds = response.elapsed.total_seconds()
    _expect(response.status_code == 200, f"{response.url} answered {response.status_code}")
    _expect(seconds < MAX_DISCOVERY_SECONDS, f"{response.url} took {seconds:.2f} s (limit 1 s)")
    return seconds


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise CheckFailed(f"{what} is not JSON") from None
    _expect(isinstance(body, dict), f"{what} is not a JSON object")
    return dict(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ridelines_local.smoke", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", required=True, help="the site URL, e.g. https://dxxxx.cloudfront.net")
    args = parser.parse_args(argv)
    if not args.url.startswith(("https://", "http://")):
        print(f"smoke: --url must be an http(s) URL, not {args.url!r}", file=sys.stderr)
        return 2
    outcomes = SiteChecks(args.url).run()
    for outcome in outcomes:
        print(outcome.line(), flush=True)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
