"""Unit fixtures for the auth/user API: in-memory ports, a local RSA signer, a fake intervals.icu."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ridelines.adapters.memory import (
    MemoryBlobStore,
    MemoryOAuthStateRepository,
    MemorySyncStateRepository,
    MemoryUserRepository,
    RecordingInvalidator,
    RecordingInvoker,
    StaticOAuthCredentials,
)
from ridelines.api.auth_app import AuthDeps
from ridelines.api.auth_app import create_app as create_auth_app
from ridelines.api.user_app import UserDeps
from ridelines.api.user_app import create_app as create_user_app
from ridelines.auth.intervals_oauth import Athlete, IntervalsOAuthClient, TokenGrant
from ridelines.errors import UpstreamError
from ridelines.models import OAuthCredentials

SITE = "https://site.example"
TILES_KEY_PAIR_ID = "K2TESTKEYPAIR"
CLIENT_SECRET = "client-secret-never-logged"


class LocalRsaSigner:
    """The Signer port over a local RSA key: what KMS does, without AWS (unit tests only)."""

    def __init__(self, kid: str = "test-key-1") -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = kid
        self.calls = 0

    @property
    def key_id(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return self._private.sign(message, padding.PKCS1v15(), hashes.SHA256())

    def public_key_der(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_pem(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


from tests.support.signers import LocalEcdsaSigner  # noqa: E402


class ReversibleCipher:
    """TokenCipher stand-in that is obviously not plaintext and binds the athlete id."""

    def encrypt(self, plaintext: str, athlete_id: str) -> bytes:
        return f"{athlete_id}|{plaintext}".encode()[::-1]

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str:
        owner, _, token = ciphertext[::-1].decode().partition("|")
        if owner != athlete_id:
            raise UpstreamError("wrong encryption context")
        return token


class FakeIntervals(IntervalsOAuthClient):
    """intervals.icu without HTTP: codes map to athletes; records revocations."""

    def __init__(self) -> None:
        super().__init__("https://intervals.example")
        self.codes: dict[str, Athlete] = {}
        self.disconnected: list[str] = []
        self.revoked: set[str] = set()
        self.fail_with: Exception | None = None

    def exchange_code(self, code: str, credentials: OAuthCredentials) -> TokenGrant:
        if self.fail_with:
            raise self.fail_with
        assert credentials.client_secret == CLIENT_SECRET
        athlete = self.codes.pop(code)
        return TokenGrant(access_token=f"access-token-for-{athlete.id}", athlete=athlete)

    def get_self(self, access_token: str) -> Athlete:
        raise AssertionError("not expected")

    def disconnect_app(self, access_token: str) -> bool:
        if self.fail_with:
            raise self.fail_with
        self.disconnected.append(access_token)
        return access_token not in self.revoked


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)  # tokens are checked against real time too

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: Any) -> None:
        self.now += timedelta(**kwargs)


class LambdaContext:
    function_name = "ridelines-test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ridelines-test"
    aws_request_id = "req-1"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer() -> LocalRsaSigner:
    return _SIGNER


# RSA key generation is slow-ish: one key for the whole module run.
_SIGNER = LocalRsaSigner()
_TILES_SIGNER = LocalEcdsaSigner()


@pytest.fixture
def tiles_signer() -> LocalEcdsaSigner:
    return _TILES_SIGNER


@pytest.fixture
def intervals() -> FakeIntervals:
    return FakeIntervals()


@pytest.fixture
def users() -> MemoryUserRepository:
    """One users table shared by the auth and user apps of a test (logout must reach the user API)."""
    return MemoryUserRepository()


@pytest.fixture
def auth_deps(
    signer: LocalRsaSigner,
    tiles_signer: LocalEcdsaSigner,
    intervals: FakeIntervals,
    clock: Clock,
    users: MemoryUserRepository,
) -> AuthDeps:
    return AuthDeps(
        users=users,
        states=MemoryOAuthStateRepository(),
        signer=signer,
        tiles_signer=tiles_signer,
        cipher=ReversibleCipher(),
        credentials=StaticOAuthCredentials("ridelines-client", CLIENT_SECRET),
        intervals=intervals,
        site_url=SITE,
        tiles_key_pair_id=TILES_KEY_PAIR_ID,
        clock=clock,
    )


@pytest.fixture
def auth_app(auth_deps: AuthDeps) -> Any:
    return create_auth_app(auth_deps)


@pytest.fixture
def user_deps(
    intervals: FakeIntervals, clock: Clock, users: MemoryUserRepository, tiles_signer: LocalEcdsaSigner
) -> UserDeps:
    return UserDeps(
        users=users,
        syncs=MemorySyncStateRepository(),
        blobs=MemoryBlobStore(),
        invalidator=RecordingInvalidator(),
        invoker=RecordingInvoker(),
        cipher=ReversibleCipher(),
        intervals=intervals,
        site_url=SITE,
        tiles_signer=tiles_signer,
        tiles_key_pair_id=TILES_KEY_PAIR_ID,
        clock=clock,
    )


@pytest.fixture
def user_app(user_deps: UserDeps) -> Any:
    return create_user_app(user_deps)


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def json_logs() -> Any:
    """The Powertools JSON log stream of the API Lambdas, as emitted (its handler bound stdout at import)."""
    import io

    from ridelines.api.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def parse_set_cookies(response: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{name: {"value": v, "path": "/", "max-age": "600", "httponly": "", ...}}`` of one response.
    A name set twice (e.g. on two paths) keeps the last one; tests assert on single names."""
    parsed: dict[str, dict[str, str]] = {}
    for header in response.get("cookies") or []:
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        entry = {"value": value}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            entry[key.lower()] = val
        parsed[name] = entry
    return parsed


class Browser:
    """A cookie jar in front of the two apps, doing what the browser, the CloudFront Function
    (session cookie -> bearer for /api/*) and API Gateway's JWT authorizer do."""

    def __init__(self, auth_app: Any, user_app: Any, verifier: Any) -> None:
        self.auth_app, self.user_app, self.verifier = auth_app, user_app, verifier
        self.jar: dict[tuple[str, str], str] = {}  # (name, path) -> value

    def cookies_for(self, path: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for (name, cookie_path), value in sorted(self.jar.items(), key=lambda item: -len(item[0][1])):
            if path.startswith(cookie_path) and name not in found:
                found[name] = value
        return found

    def request(self, method: str, path: str, *, bearer: str | None = None, **kwargs: Any) -> dict[str, Any]:
        from ridelines.api.events import http_api_event
        from ridelines.auth.cookies import SESSION_COOKIE
        from ridelines.errors import Unauthorized

        cookies = self.cookies_for(path)
        if path.startswith("/api/"):
            token = bearer or cookies.get(SESSION_COOKIE)
            try:
                claims = self.verifier.verify(token) if token else None
            except Unauthorized:
                claims = None
            if claims is None:  # API Gateway's own answer
                return {"statusCode": 401, "body": '{"message":"Unauthorized"}', "headers": {}}
            response = self.user_app.resolve(
                http_api_event(method, path, claims=claims, cookies=cookies, **kwargs), None
            )
        else:
            headers = dict(kwargs.pop("headers", None) or {})
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            response = self.auth_app.resolve(
                http_api_event(method, path, cookies=cookies, headers=headers, **kwargs), None
            )
        for name, entry in parse_set_cookies(response).items():
            key = (name, entry.get("path", "/"))
            if entry.get("max-age") == "0":
                self.jar.pop(key, None)
            else:
                self.jar[key] = entry["value"]
        return dict(response)


@pytest.fixture
def new_browser(auth_app: Any, user_app: Any, signer: LocalRsaSigner, clock: Clock) -> Any:
    from ridelines.auth.jwks import JwksDocument
    from ridelines.auth.verify import JwtVerifier

    verifier = JwtVerifier(JwksDocument(signer).get, issuer=f"{SITE}/auth", clock=lambda: clock().timestamp())
    return lambda: Browser(auth_app, user_app, verifier)
