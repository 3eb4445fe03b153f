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

FRONTEND = "https://app.example"
API = "https://api.example"
TILES = "https://tiles.example"
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


@pytest.fixture
def intervals() -> FakeIntervals:
    return FakeIntervals()


@pytest.fixture
def auth_deps(signer: LocalRsaSigner, intervals: FakeIntervals, clock: Clock) -> AuthDeps:
    return AuthDeps(
        users=MemoryUserRepository(),
        states=MemoryOAuthStateRepository(),
        signer=signer,
        cipher=ReversibleCipher(),
        credentials=StaticOAuthCredentials("ridelines-client", CLIENT_SECRET),
        intervals=intervals,
        frontend_url=FRONTEND,
        api_url=API,
        clock=clock,
    )


@pytest.fixture
def auth_app(auth_deps: AuthDeps) -> Any:
    return create_auth_app(auth_deps)


@pytest.fixture
def user_deps(intervals: FakeIntervals, clock: Clock) -> UserDeps:
    return UserDeps(
        users=MemoryUserRepository(),
        syncs=MemorySyncStateRepository(),
        blobs=MemoryBlobStore(),
        invalidator=RecordingInvalidator(),
        invoker=RecordingInvoker(),
        cipher=ReversibleCipher(),
        intervals=intervals,
        frontend_url=FRONTEND,
        tiles_base_url=TILES,
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
