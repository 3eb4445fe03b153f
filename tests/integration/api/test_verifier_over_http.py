"""JwtVerifier.from_url: the JWKS fetched over HTTP from the auth Lambda's route, like API Gateway does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ridelines.adapters.aws.kms import KmsSigner
from ridelines.auth.jwks import JwksDocument
from ridelines.auth.tokens import JwtIssuer
from ridelines.auth.verify import JwtVerifier
from ridelines.errors import Unauthorized

ISSUER = "https://site.example/auth"


class JwksServer:
    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                payload = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def test_from_url_verifies_caches_and_picks_up_a_new_key(aws: Any, jwks_server: JwksServer) -> None:
    import boto3

    first = KmsSigner(aws.signing_key_id)
    jwks_server.document = JwksDocument(first).get()
    verifier = JwtVerifier.from_url(jwks_server.url, issuer=ISSUER)
    token = JwtIssuer(first, ISSUER).issue("i1001", "Rider A", datetime.now(UTC))
    assert verifier.verify(token)["sub"] == "i1001"
    assert verifier.verify(token)["sub"] == "i1001"
    assert jwks_server.hits == 1  # cached

    # Key rotation: a token with a new kid makes the verifier refetch once and accept it.
    second_id = boto3.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
        "KeyId"
    ]
    second = KmsSigner(second_id)
    jwks_server.document = {"keys": [*JwksDocument(first).get()["keys"], *JwksDocument(second).get()["keys"]]}
    verifier_jwks = verifier.jwks_source
    verifier_jwks.MIN_REFRESH_SECONDS = 0.0  # type: ignore[attr-defined]
    rotated = JwtIssuer(second, ISSUER).issue("i1001", "Rider A", datetime.now(UTC))
    assert verifier.verify(rotated)["sub"] == "i1001"
    assert jwks_server.hits == 2

    other_audience = verifier.with_audience("someone-else")
    with pytest.raises(Unauthorized):
        other_audience.verify(token)
    assert jwks_server.hits == 2  # the key source is shared


def test_unreachable_jwks_is_unauthorized(aws: Any) -> None:
    verifier = JwtVerifier.from_url("http://127.0.0.1:9/nothing", issuer=ISSUER, timeout=0.5)
    token = JwtIssuer(KmsSigner(aws.signing_key_id), ISSUER).issue("i1", "A", datetime.now(UTC))
    with pytest.raises(Unauthorized):
        verifier.verify(token)
