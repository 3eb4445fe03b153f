from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.test import Client

from ridelines_local.localstack.authorizer import Rejected
from ridelines_local.localstack.events import Route
from ridelines_local.localstack.gateway import ApiRoute, Gateway

ORIGIN = "http://127.0.0.1:8000"
ARCHIVE = bytes(range(256)) * 40  # 10240 bytes


class FakeAuthorizer:
    def authorize(self, headers: dict[str, str]) -> dict[str, Any]:
        if headers.get("authorization") != "Bearer good":
            raise Rejected("bad")
        return {"sub": "i1", "exp": 123}


@pytest.fixture
def gateway(aws_env: None, tmp_path: Path):
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
            "body": json.dumps({"ok": 1}),
        }

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(
            Bucket="data", Key="tiles/i1/abc.pmtiles", Body=ARCHIVE, ContentType="application/vnd.pmtiles"
        )
        app = Gateway(
            routes=[ApiRoute(Route("GET /api/user", "user", True), user, FakeAuthorizer())],  # type: ignore[arg-type]
            s3_client=s3,
            tiles_bucket="data",
            web_dir=web,
            vendor={"lib": vendor},
            frontend_origin=ORIGIN,
            cors={"AllowOrigins": [ORIGIN], "MaxAge": 60},
        )
        yield Client(app), seen


def test_range_requests_answer_206_with_content_range(gateway) -> None:
    client, _ = gateway
    response = client.get("/tiles/i1/abc.pmtiles", headers={"Range": "bytes=100-199", "Origin": ORIGIN})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(ARCHIVE)}"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Content-Range" in response.headers["Access-Control-Expose-Headers"]
    assert response.data == ARCHIVE[100:200]
    suffix = client.get("/tiles/i1/abc.pmtiles", headers={"Range": "bytes=-16"})
    assert suffix.status_code == 206 and suffix.data == ARCHIVE[-16:]


def test_whole_object_missing_object_and_bad_range(gateway) -> None:
    client, _ = gateway
    whole = client.get("/tiles/i1/abc.pmtiles")
    assert whole.status_code == 200 and whole.data == ARCHIVE and whole.headers["ETag"]
    assert client.get("/tiles/i1/missing.pmtiles").status_code == 403
    assert (
        client.get("/tiles/i1/abc.pmtiles", headers={"Range": f"bytes={len(ARCHIVE) + 10}-"}).status_code
        == 416
    )
    assert client.post("/tiles/i1/abc.pmtiles").status_code == 405
    head = client.head("/tiles/i1/abc.pmtiles")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(ARCHIVE))


def test_protected_route_rejects_without_calling_the_lambda(gateway) -> None:
    client, seen = gateway
    response = client.get("/api/user")
    assert response.status_code == 401 and response.get_json() == {"message": "Unauthorized"}
    assert seen == []
    ok = client.get("/api/user?x=1", headers={"Authorization": "Bearer good", "Origin": ORIGIN})
    assert ok.status_code == 200 and ok.get_json() == {"ok": 1}
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    event = seen[0]
    assert event["routeKey"] == "GET /api/user" and event["queryStringParameters"] == {"x": "1"}
    assert event["requestContext"]["authorizer"]["jwt"]["claims"] == {"sub": "i1", "exp": "123"}


def test_unknown_api_methods_and_paths(gateway) -> None:
    client, _ = gateway
    assert client.post("/api/user").status_code == 404  # no route "POST /api/user"
    preflight = client.options("/api/user", headers={"Origin": ORIGIN})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    evil = client.options("/api/user", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers


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
