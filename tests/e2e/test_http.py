"""The local stack over HTTP: login, sync, tiles with byte ranges, the authorizer's 401s."""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

import mapbox_vector_tile
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from pmtiles.reader import MemorySource, Reader, all_tiles

from ridelines_local.localstack.demo import SAMPLES
from ridelines_local.localstack.stack import STANDIN_CLIENT_SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_sync_and_fetch_the_tiles_with_a_range_request(
    local_stack: Any, do_login: Any, do_wait_for_sync: Any
) -> None:
    base = local_stack.url
    session = requests.Session()
    token = do_login(session, base)

    user = session.get(f"{base}/api/user", headers=_auth(token))
    assert user.status_code == 200
    assert user.json()["name"] == "Demo Rider"

    started = session.post(f"{base}/api/sync", headers=_auth(token), json={"full": False})
    assert started.status_code in (202, 409), started.text  # 409: the browser test got there first
    sync = do_wait_for_sync(session, base, token)
    assert sync["status"] == "succeeded", sync
    assert sync["counts"]["listed"] == len(SAMPLES)

    tiles_url = session.get(f"{base}/api/user", headers=_auth(token)).json()["tiles_url"]
    assert tiles_url.startswith(f"{base}/tiles/")

    head = session.get(tiles_url, headers={"Range": "bytes=0-126", "Origin": base})
    assert head.status_code == 206
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["Content-Range"].startswith("bytes 0-126/")
    assert head.headers["Access-Control-Allow-Origin"] == base
    assert len(head.content) == 127
    assert head.content[:7] == b"PMTiles" and head.content[7] == 3

    archive = session.get(tiles_url).content
    assert len(archive) == int(head.headers["Content-Range"].rsplit("/", 1)[1])
    reader = Reader(MemorySource(archive))
    header = reader.header()
    assert header["min_lat_e7"] < header["max_lat_e7"]
    metadata = reader.metadata()
    assert any(layer["id"] == "activities" for layer in metadata["vector_layers"])
    ids, types = set(), set()
    for _zxy, data in all_tiles(reader.get_bytes):
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        layer = mapbox_vector_tile.decode(raw).get("activities", {"features": []})
        for feature in layer["features"]:
            ids.add(str(feature["properties"]["id"]))
            types.add(feature["properties"]["type"])
    # The outdoor rides are on the map; the Zwift ride (virtual) and the trainer session (no GPS) are not.
    virtual = {f"a{n}" for n, s in enumerate(SAMPLES, 1) if "Zwift" in s.name}
    trainer = {f"a{n}" for n, s in enumerate(SAMPLES, 1) if s.trainer}
    assert {"a1", "a2", "a3", "a4"} <= ids
    assert not ids & (virtual | trainer)
    assert "Ride" in types


def test_protected_routes_answer_401_like_api_gateway(local_stack: Any) -> None:
    base = local_stack.url
    no_token = requests.get(f"{base}/api/user")
    assert no_token.status_code == 401 and no_token.json() == {"message": "Unauthorized"}
    garbage = requests.post(f"{base}/api/sync", headers=_auth("not-a-jwt"), json={})
    assert garbage.status_code == 401

    # Well-formed RS256 with the right issuer and audience, but signed by a key the JWKS doesn't have.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(time.time())
    claims = {
        "iss": f"{base}/auth",
        "aud": "ridelines",
        "sub": "i1001",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    jwks = requests.get(f"{base}/auth/.well-known/jwks.json").json()
    forged = jwt.encode(claims, pem.decode(), algorithm="RS256", headers={"kid": jwks["keys"][0]["kid"]})
    assert requests.get(f"{base}/api/user", headers=_auth(forged)).status_code == 401


def test_a_tampered_token_is_refused(local_stack: Any, do_login: Any) -> None:
    base = local_stack.url
    token = do_login(requests.Session(), base)
    header, payload, signature = token.split(".")
    # Tampering with any claim breaks the signature: the authorizer must notice.
    claims = json.loads(_b64decode(payload))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, _b64encode(json.dumps(claims).encode()), signature])
    assert requests.get(f"{base}/api/user", headers=_auth(tampered)).status_code == 401
    assert requests.get(f"{base}/api/user", headers=_auth(token)).status_code == 200


def test_tiles_edge_cases(local_stack: Any) -> None:
    base = local_stack.url
    assert requests.get(f"{base}/tiles/nobody/none.pmtiles").status_code == 403  # like CloudFront + OAC
    preflight = requests.options(
        f"{base}/tiles/x.pmtiles", headers={"Origin": base, "Access-Control-Request-Headers": "range"}
    )
    assert preflight.status_code == 204
    assert "Range" in preflight.headers["Access-Control-Allow-Headers"]
    assert requests.get(f"{base}/").headers["Content-Type"].startswith("text/html")
    assert requests.get(f"{base}/vendor/pmtiles/pmtiles.js").status_code == 200
    assert requests.get(f"{base}/vendor/../package.json").status_code == 404
    assert requests.get(f"{base}/nope.txt").status_code == 404


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_cors_allows_only_the_frontend_through_the_gateway(local_stack: Any, do_login: Any) -> None:
    base = local_stack.url
    evil = "https://evil.example"
    token = do_login(requests.Session(), base)
    for origin, allowed in ((base, True), (evil, False)):
        preflight = requests.options(
            f"{base}/api/sync",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 204
        answers = [
            preflight,
            requests.get(f"{base}/api/user", headers={"Origin": origin, **_auth(token)}),
            requests.get(f"{base}/api/user", headers={"Origin": origin}),  # the authorizer's 401
            requests.get(f"{base}/auth/.well-known/jwks.json", headers={"Origin": origin}),
        ]
        for answer in answers:
            if allowed:
                assert answer.headers.get("Access-Control-Allow-Origin") == base, answer.url
            else:
                assert "Access-Control-Allow-Origin" not in answer.headers, answer.url
        if allowed:
            assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
            assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_the_console_shows_no_token_or_secret(local_stack: Any, do_login: Any, do_wait_for_sync: Any) -> None:
    base = local_stack.url
    session = requests.Session()
    token = do_login(session, base)
    session.post(f"{base}/api/sync", headers=_auth(token), json={"full": False})
    assert do_wait_for_sync(session, base, token)["status"] in ("succeeded", "failed")
    requests.get(f"{base}/api/user", headers=_auth(token + "x"))  # a rejected token is not echoed either
    output = local_stack.output()
    assert "Ridelines is running at" in output  # the right log
    for secret in (token, token.split(".")[2], STANDIN_CLIENT_SECRET):
        assert secret not in output
    assert "Bearer " not in output and "access_token" not in output
