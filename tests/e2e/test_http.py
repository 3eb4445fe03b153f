"""The local stack over HTTP: login, sync, tiles with byte ranges, the authorizer's 401s."""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
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

    tiles_path = session.get(f"{base}/api/user").json()["tiles_url"]  # the session cookie alone
    assert tiles_path.startswith("/tiles/")  # same origin: the tiles cookies go with it
    tiles_url = f"{base}{tiles_path}"

    head = session.get(tiles_url, headers={"Range": "bytes=0-126"})
    assert head.status_code == 206
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["Content-Range"].startswith("bytes 0-126/")
    assert len(head.content) == 127
    assert head.content[:7] == b"PMTiles" and head.content[7] == 3
    assert requests.get(tiles_url, headers={"Range": "bytes=0-126"}).status_code == 403  # a copied URL alone

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
    assert requests.get(f"{base}/tiles/nobody/none.pmtiles").status_code == 403  # no cookies
    assert requests.options(f"{base}/tiles/x.pmtiles").status_code == 405  # same origin: no CORS
    assert requests.get(f"{base}/").headers["Content-Type"].startswith("text/html")
    assert requests.get(f"{base}/vendor/pmtiles/pmtiles.js").status_code == 200
    assert requests.get(f"{base}/vendor/../package.json").status_code == 404
    assert requests.get(f"{base}/nope.txt").status_code == 404


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cf_b64decode(text: str) -> bytes:
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")))


def _cf_b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))


def consent_callback(session: requests.Session, base: str) -> str:
    """Start a login in ``session`` and approve it at the stand-in: the callback URL, not yet opened."""
    start = session.get(f"{base}/auth/login", params={"redirect_path": "/"}, allow_redirects=False)
    authorize_url = start.headers["Location"]
    consent = session.get(authorize_url)
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', consent.text))
    form["decision"] = "approve"
    approved = requests.post(authorize_url.split("?", 1)[0], data=form, allow_redirects=False, timeout=10)
    assert approved.status_code == 302
    return str(approved.headers["Location"])


def test_another_riders_tampered_or_stale_tiles_cookies_are_403(local_stack: Any, do_login: Any) -> None:
    base = local_stack.url
    session = requests.Session()
    do_login(session, base)
    rider = session.get(f"{base}/api/user").json()["athlete_id"]
    cookies = {c.name: c.value for c in session.cookies if c.path == f"/tiles/{rider}/"}
    assert {"CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id"} <= set(cookies)

    def tiles(path: str, jar: dict[str, str]) -> int:
        header = "; ".join(f"{k}={v}" for k, v in jar.items())
        return requests.get(f"{base}{path}", headers={"Cookie": header}).status_code

    assert tiles("/tiles/someone-else/x.pmtiles", cookies) == 403  # these cookies name another rider
    policy = _cf_b64decode(cookies["CloudFront-Policy"]).replace(f"/tiles/{rider}/".encode(), b"/tiles/*")
    assert (
        tiles("/tiles/someone-else/x.pmtiles", {**cookies, "CloudFront-Policy": _cf_b64encode(policy)}) == 403
    )
    stale = json.loads(_cf_b64decode(cookies["CloudFront-Policy"]))
    stale["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"] = int(time.time()) - 1
    stale_policy = _cf_b64encode(json.dumps(stale, separators=(",", ":")).encode())
    assert tiles(f"/tiles/{rider}/x.pmtiles", {**cookies, "CloudFront-Policy": stale_policy}) == 403


def test_login_csrf_and_a_replayed_callback_fail_over_http(local_stack: Any, new_browser: Any) -> None:
    base = local_stack.url
    attacker = new_browser()
    callback = consent_callback(attacker, base)  # the attacker's own, approved login
    victim = new_browser()
    refused = victim.get(callback, allow_redirects=False)  # opened in the victim's browser, no state cookie
    assert refused.status_code == 400 and refused.json()["error"] == "state_not_bound_to_this_browser"
    victim.get(f"{base}/auth/login", params={"redirect_path": "/"}, allow_redirects=False)  # its own login
    refused = victim.get(callback, allow_redirects=False)
    assert refused.status_code == 400 and refused.json()["error"] == "state_not_bound_to_this_browser"
    assert "__Host-ridelines-session" not in victim.cookies
    assert attacker.get(callback, allow_redirects=False).status_code == 302  # its own browser still can
    replay = new_browser().get(callback, allow_redirects=False)  # and once used, nobody can again
    assert replay.status_code == 400


def test_logout_ends_the_session_everywhere_and_a_new_login_works(local_stack: Any, do_login: Any) -> None:
    base = local_stack.url
    session = requests.Session()
    token = do_login(session, base)
    assert session.get(f"{base}/api/user").status_code == 200
    evil = session.post(f"{base}/auth/logout", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and evil.json()["error"] == "foreign_origin"
    assert session.get(f"{base}/api/user").status_code == 200  # the evil request changed nothing
    out = session.post(f"{base}/auth/logout", headers={"Origin": base})
    assert out.status_code == 204
    assert not any(c.name.startswith(("__Host-ridelines", "CloudFront-")) for c in session.cookies)
    assert session.get(f"{base}/api/user").status_code == 401
    stale = requests.get(f"{base}/api/user", headers=_auth(token))  # a copy of the token, e.g. a script
    assert stale.status_code == 401 and stale.json()["error"] == "session_ended"
    fresh = do_login(requests.Session(), base)  # right after, even within the same second
    assert requests.get(f"{base}/api/user", headers=_auth(fresh)).status_code == 200


def test_a_foreign_origin_cannot_change_anything(local_stack: Any, do_login: Any) -> None:
    base = local_stack.url
    session = requests.Session()
    do_login(session, base)
    before = session.get(f"{base}/api/sync")
    for method, path in (("POST", "/api/sync"), ("DELETE", "/api/user")):
        response = session.request(
            method, f"{base}{path}", headers={"Origin": "https://evil.example"}, json={}
        )
        assert response.status_code == 403 and response.json()["error"] == "foreign_origin", path
        assert not any(h.lower().startswith("access-control-") for h in response.headers)
    assert session.get(f"{base}/api/user").status_code == 200  # the account is still there
    after = session.get(f"{base}/api/sync")
    assert after.status_code == before.status_code and after.json().get("sync_id") == before.json().get(
        "sync_id"
    )


def test_every_answer_carries_the_security_headers_and_the_config(local_stack: Any) -> None:
    base = local_stack.url
    for response in (
        requests.get(f"{base}/"),
        requests.get(f"{base}/api/user"),
        requests.get(f"{base}/auth/.well-known/jwks.json"),
        requests.get(f"{base}/tiles/nobody/x.pmtiles"),
    ):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], response.url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{base}/config.json").json() == {"basemap_style_url": None}
    long_cookie = requests.get(f"{base}/api/user", headers={"Cookie": "junk=" + "x" * 9000})
    assert long_cookie.status_code == 400 and long_cookie.json()["error"] == "cookie_header_too_large"


def test_smoke_passes_against_the_local_stack(local_stack: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ridelines_local.smoke", "--url", local_stack.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0:2] for line in lines] == [
        ["PASS", "app:"],
        ["PASS", "discovery:"],
        ["PASS", "jwks:"],
        ["PASS", "api-401:"],
        ["PASS", "tiles-403:"],
    ]


def test_smoke_fails_clearly_against_something_that_is_not_the_site(local_stack: Any) -> None:
    # The stand-in intervals.icu answers HTTP but is not the site: its checks fail, one line each.
    found = re.search(r"stand-in intervals.icu at (http://127\.0\.0\.1:\d+)", local_stack.output())
    assert found
    intervals = found.group(1)
    result = subprocess.run(
        [sys.executable, "-m", "ridelines_local.smoke", "--url", intervals],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith(("PASS ", "FAIL ")) for line in lines)
    failed = {line.split()[1].rstrip(":") for line in lines if line.startswith("FAIL ")}
    assert {"app", "discovery", "jwks", "tiles-403"} <= failed
    assert "Traceback" not in result.stderr


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
