"""The local origin: the CloudFront Function's cookie rule, signed-cookie tiles, security headers, config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from ridelines.auth.cookies import SESSION_COOKIE
from ridelines.auth.tiles_cookies import TilesCookieIssuer, cloudfront_b64decode, cloudfront_b64encode
from ridelines_local.localstack.authorizer import Rejected
from ridelines_local.localstack.events import Route
from ridelines_local.localstack.gateway import ApiRoute, Gateway
from ridelines_local.localstack.signed_cookies import SignedCookieVerifier
from tests.support.signers import LocalEcdsaSigner

ORIGIN = "http://127.0.0.1:8000"
ARCHIVE = bytes(range(256)) * 40  # 10240 bytes
KEY_PAIR_ID = "KLOCAL"
NOW = 1_800_000_000


SIGNER = LocalEcdsaSigner()


class FakeAuthorizer:
    def authorize(self, headers: dict[str, str]) -> dict[str, Any]:
        if headers.get("authorization") != "Bearer good":
            raise Rejected("bad")
        return {"sub": "i1", "exp": 123}


def tiles_cookies(
    athlete_id: str = "i1", *, expires_at: int = NOW + 600, signer: Any = SIGNER
) -> dict[str, str]:
    issuer = TilesCookieIssuer(signer, ORIGIN, KEY_PAIR_ID)
    return {c.name: c.value for c in issuer.cookies(athlete_id, expires_at=expires_at, now=NOW)}


@pytest.fixture
def gateway(aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>viewer</h1>")
    (web / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    vendor = tmp_path / "vendor-lib"
    vendor.mkdir()
    (vendor / "lib.js").write_text("lib")
    seen: list[dict[str, Any]] = []

    def user(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "cookies": ["a=1; Path=/; Secure", "b=2; Path=/x"],
            "body": json.dumps({"ok": 1}),
        }

    def auth(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 204, "body": ""}

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for key in ("tiles/i1/abc.pmtiles", "tiles/i2/abc.pmtiles"):
            s3.put_object(Bucket="data", Key=key, Body=ARCHIVE, ContentType="application/vnd.pmtiles")
        app = Gateway(
            routes=[
                ApiRoute(Route("GET /api/user", "user", True), user, FakeAuthorizer()),  # type: ignore[arg-type]
                ApiRoute(Route("POST /auth/logout", "auth", False), auth, None),
            ],
            s3_client=s3,
            tiles_bucket="data",
            web_dir=web,
            vendor={"lib": vendor},
            site_url=ORIGIN,
            tiles_access=SignedCookieVerifier({KEY_PAIR_ID: SIGNER.public_key_der()}, clock=lambda: NOW),
            basemap_style_url="https://tiles.example.org/style.json",
        )
        yield Client(app, use_cookies=False), seen


def get_tiles(client: Client, path: str, cookies: dict[str, str], **headers: str) -> Any:
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return client.get(path, headers={**({"Cookie": cookie_header} if cookie_header else {}), **headers})


def test_range_requests_with_the_riders_cookies_answer_206(gateway) -> None:
    client, _ = gateway
    response = get_tiles(client, "/tiles/i1/abc.pmtiles", tiles_cookies(), Range="bytes=100-199")
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(ARCHIVE)}"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.data == ARCHIVE[100:200]
    suffix = get_tiles(client, "/tiles/i1/abc.pmtiles", tiles_cookies(), Range="bytes=-16")
    assert suffix.status_code == 206 and suffix.data == ARCHIVE[-16:]
    whole = get_tiles(client, "/tiles/i1/abc.pmtiles", tiles_cookies())
    assert whole.status_code == 200 and whole.data == ARCHIVE and whole.headers["ETag"]
    bad_range = get_tiles(
        client, "/tiles/i1/abc.pmtiles", tiles_cookies(), Range=f"bytes={len(ARCHIVE) + 10}-"
    )
    assert bad_range.status_code == 416
    assert get_tiles(client, "/tiles/i1/missing.pmtiles", tiles_cookies()).status_code == 403
    assert client.post("/tiles/i1/abc.pmtiles").status_code == 405


def _tampered_policy() -> dict[str, str]:
    cookies = tiles_cookies("i2")
    policy = cloudfront_b64decode(cookies["CloudFront-Policy"]).replace(b"/tiles/i2/", b"/tiles/i1/")
    return {**cookies, "CloudFront-Policy": cloudfront_b64encode(policy)}


def _other_key() -> dict[str, str]:
    return tiles_cookies(signer=LocalEcdsaSigner())


def _sha1_claimed() -> dict[str, str]:
    return {k: v for k, v in tiles_cookies().items() if k != "CloudFront-Hash-Algorithm"}


def _unknown_key_pair() -> dict[str, str]:
    return {**tiles_cookies(), "CloudFront-Key-Pair-Id": "KOTHER"}


def _broken_signature() -> dict[str, str]:
    cookies = tiles_cookies()
    return {**cookies, "CloudFront-Signature": cookies["CloudFront-Signature"][:-6] + "AAAAAA"}


@pytest.mark.parametrize(
    "cookies",
    [
        pytest.param(lambda: {}, id="no-cookies"),
        pytest.param(lambda: tiles_cookies("i2"), id="another-riders-cookies"),
        pytest.param(lambda: tiles_cookies(expires_at=NOW), id="expired"),
        pytest.param(_tampered_policy, id="tampered-policy"),
        pytest.param(_broken_signature, id="tampered-signature"),
        pytest.param(_other_key, id="signed-by-another-key"),
        pytest.param(_sha1_claimed, id="no-hash-algorithm-means-sha1"),
        pytest.param(_unknown_key_pair, id="untrusted-key-pair-id"),
        pytest.param(lambda: {**tiles_cookies(), "CloudFront-Policy": "%%%"}, id="garbage-policy"),
    ],
)
def test_tiles_without_the_riders_valid_cookies_are_403(gateway, cookies: Any) -> None:
    client, _ = gateway
    response = get_tiles(client, "/tiles/i1/abc.pmtiles", cookies())
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert response.headers["Content-Security-Policy"]


def test_a_prefix_is_not_a_wildcard_for_a_neighbour(gateway) -> None:
    client, _ = gateway
    # tiles/i1/* must not open tiles/i10/...: the policy's path ends with the slash.
    assert get_tiles(client, "/tiles/i10/abc.pmtiles", tiles_cookies("i1")).status_code == 403


def test_the_session_cookie_becomes_the_bearer_only_for_the_api_and_only_without_authorization(
    gateway,
) -> None:
    client, seen = gateway
    response = client.get("/api/user")
    assert response.status_code == 401 and response.get_json() == {"message": "Unauthorized"}
    assert seen == []
    ok = client.get("/api/user?x=1", headers={"Cookie": f"{SESSION_COOKIE}=good; other=1"})
    assert ok.status_code == 200 and ok.get_json() == {"ok": 1}
    assert ok.headers.getlist("Set-Cookie") == ["a=1; Path=/; Secure", "b=2; Path=/x"]
    event = seen[-1]
    assert event["routeKey"] == "GET /api/user" and event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["authorization"] == "Bearer good"
    assert event["requestContext"]["authorizer"]["jwt"]["claims"] == {"sub": "i1", "exp": "123"}
    # An explicit Authorization header wins over the cookie, as in the CloudFront Function.
    refused = client.get(
        "/api/user", headers={"Cookie": f"{SESSION_COOKIE}=good", "Authorization": "Bearer bad"}
    )
    assert refused.status_code == 401
    # /auth gets the cookies as they are, never an Authorization made from them.
    client.post("/auth/logout", headers={"Cookie": f"{SESSION_COOKIE}=good"})
    assert "authorization" not in seen[-1]["headers"]
    assert seen[-1]["cookies"] == [f"{SESSION_COOKIE}=good"]


def test_an_over_long_cookie_header_is_a_clear_4xx(gateway) -> None:
    client, seen = gateway
    before = len(seen)
    for path in ("/api/user", "/tiles/i1/abc.pmtiles"):
        response = client.get(path, headers={"Cookie": "junk=" + "x" * 9000})
        assert response.status_code == 400, path
        assert response.get_json()["error"] == "cookie_header_too_large"
    assert len(seen) == before


def test_every_answer_has_the_security_headers(gateway) -> None:
    client, _ = gateway
    for response in (
        client.get("/"),
        client.get("/nope.txt"),
        client.get("/api/user"),
        client.get("/config.json"),
        get_tiles(client, "/tiles/i1/abc.pmtiles", tiles_cookies(), Range="bytes=0-9"),
        get_tiles(client, "/tiles/i1/abc.pmtiles", {}),
    ):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "connect-src 'self' https://tiles.example.org" in csp  # the configured basemap only
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert not any(h.lower().startswith("access-control-") for h, _ in response.headers.items())


def test_config_json_names_the_basemap(gateway) -> None:
    client, _ = gateway
    response = client.get("/config.json")
    assert response.status_code == 200
    assert response.get_json() == {"basemap_style_url": "https://tiles.example.org/style.json"}


def test_unknown_api_methods_and_paths(gateway) -> None:
    client, _ = gateway
    assert client.post("/api/user").status_code == 404  # no route "POST /api/user"
    assert client.get("/api/nope").get_json() == {"message": "Not Found"}
    assert client.options("/api/user", headers={"Origin": ORIGIN}).status_code == 404  # no CORS


def test_static_files_stay_inside_their_folders(gateway) -> None:
    client, _ = gateway
    index = client.get("/")
    assert index.status_code == 200 and b"viewer" in index.data
    assert index.headers["Content-Type"].startswith("text/html")
    assert (
        client.get("/app.js")
        .headers["Content-Type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert client.get("/vendor/lib/lib.js").data == b"lib"
    assert client.get("/../secret.txt").status_code == 404
    assert client.get("/vendor/lib/../../secret.txt").status_code == 404
    assert client.get("/vendor/unknown/x.js").status_code == 404
