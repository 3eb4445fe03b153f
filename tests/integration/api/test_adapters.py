"""The auth engineer's AWS adapters on moto, the configuration failure path, and outbound timeouts."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ridelines.adapters.aws.kms import KmsSigner, KmsTokenCipher
from ridelines.adapters.aws.oauth_state import DynamoOAuthStateRepository
from ridelines.adapters.aws.secrets import SecretsManagerOAuthCredentials
from ridelines.adapters.aws.users import DynamoUserRepository
from ridelines.api.events import http_api_event
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.errors import ConfigurationError, NotFound, UpstreamAuthError, UpstreamError
from ridelines.models import ConsumedState, OAuthCredentials

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def test_user_repository_round_trip(aws: Any) -> None:
    users = DynamoUserRepository(aws.users_table)
    created = users.upsert_login("i1", "Rider", b"\x00cipher", NOW)
    assert (created.created_at, created.updated_at, created.encrypted_token) == (NOW, NOW, b"\x00cipher")
    users.set_tiles_key("i1", "tiles/i1/h.pmtiles", NOW + timedelta(minutes=1))
    users.set_last_sync("i1", {"status": "succeeded", "listed": 3, "ratio": 0.5}, NOW + timedelta(minutes=2))
    later = users.upsert_login("i1", "Renamed", b"new", NOW + timedelta(days=1))
    assert later.created_at == NOW and later.name == "Renamed" and later.tiles_key == "tiles/i1/h.pmtiles"
    assert later.last_sync == {"status": "succeeded", "listed": 3, "ratio": 0.5}
    users.set_tiles_key("i1", None, NOW + timedelta(days=2))
    fetched = users.get("i1")
    assert fetched is not None and fetched.tiles_key is None
    users.delete("i1")
    assert users.get("i1") is None


def test_user_repository_never_resurrects_a_deleted_row(aws: Any) -> None:
    users = DynamoUserRepository(aws.users_table)
    with pytest.raises(NotFound):
        users.set_tiles_key("gone", "tiles/gone/x.pmtiles", NOW)
    with pytest.raises(NotFound):
        users.set_last_sync("gone", {}, NOW)
    assert aws.dynamodb.scan(TableName=aws.users_table)["Count"] == 0


def test_state_repository_consumes_exactly_once(aws: Any) -> None:
    states = DynamoOAuthStateRepository(aws.state_table)
    states.put("s" * 43, "/map", NOW + timedelta(minutes=10), "hash-a")
    item = aws.dynamodb.get_item(TableName=aws.state_table, Key={"state": {"S": "s" * 43}})["Item"]
    assert item["expires_at"] == {"N": str(int((NOW + timedelta(minutes=10)).timestamp()))}
    assert item["binding_hash"] == {"S": "hash-a"}
    assert states.consume("s" * 43, "hash-a", NOW) == ConsumedState(redirect_path="/map")
    assert states.consume("s" * 43, "hash-a", NOW) == ConsumedState()
    assert states.consume("unknown", "hash-a", NOW) == ConsumedState()


def test_state_repository_leaves_another_browsers_state_alone(aws: Any) -> None:
    states = DynamoOAuthStateRepository(aws.state_table)
    states.put("b" * 43, "/map", NOW + timedelta(minutes=10), "hash-a")
    assert states.consume("b" * 43, "hash-b", NOW) == ConsumedState(binding_mismatch=True)
    assert aws.dynamodb.scan(TableName=aws.state_table)["Count"] == 1
    assert states.consume("b" * 43, "hash-a", NOW).redirect_path == "/map"


def test_state_repository_enforces_expiry_and_still_deletes(aws: Any) -> None:
    states = DynamoOAuthStateRepository(aws.state_table)
    states.put("e" * 43, "/map", NOW, "h")
    assert states.consume("e" * 43, "h", NOW) == ConsumedState()
    assert aws.dynamodb.scan(TableName=aws.state_table)["Count"] == 0


def test_user_repository_sessions_valid_after(aws: Any) -> None:
    users = DynamoUserRepository(aws.users_table)
    created = users.upsert_login("i1", "Rider", b"c", NOW)
    assert created.sessions_valid_after == NOW - timedelta(milliseconds=1)
    ended = NOW + timedelta(seconds=5, microseconds=123_456)
    users.end_sessions("i1", ended)
    assert users.get("i1").sessions_valid_after == NOW + timedelta(seconds=5, milliseconds=123)  # type: ignore[union-attr]
    users.end_sessions("i1", NOW)  # never moves back
    assert users.upsert_login("i1", "Rider", b"c", NOW + timedelta(days=1)).sessions_valid_after == (
        NOW + timedelta(seconds=5, milliseconds=123)
    )
    users.end_sessions("gone", NOW)  # nothing to end, no half row
    assert users.get("gone") is None


def test_concurrent_callbacks_get_the_state_once(aws: Any) -> None:
    states = DynamoOAuthStateRepository(aws.state_table)
    states.put("c" * 43, "/map", NOW + timedelta(minutes=10), "h")
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(states.consume("c" * 43, "h", NOW).redirect_path))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("/map") == 1 and results.count(None) == 7


def test_kms_signer_signs_raw_rs256(aws: Any) -> None:
    signer = KmsSigner(f"arn:aws:kms:eu-west-1:123456789012:key/{aws.signing_key_id}")
    assert signer.key_id == aws.signing_key_id  # kid is the bare key id even when configured by ARN
    signature = signer.sign(b"header.payload")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    public = serialization.load_der_public_key(signer.public_key_der())
    assert isinstance(public, RSAPublicKey)
    public.verify(signature, b"header.payload", padding.PKCS1v15(), hashes.SHA256())


def test_token_cipher_binds_the_athlete(aws: Any) -> None:
    cipher = KmsTokenCipher(aws.token_key_id)
    blob = cipher.encrypt("secret-token", "i1")
    assert b"secret-token" not in blob
    assert cipher.decrypt(blob, "i1") == "secret-token"
    with pytest.raises(UpstreamError) as caught:
        cipher.decrypt(blob, "i2")
    assert "secret-token" not in str(caught.value)


def test_secret_is_read_through_powertools_and_cached(aws: Any) -> None:
    credentials = SecretsManagerOAuthCredentials(aws.secret_arn)
    assert credentials.get() == OAuthCredentials(
        client_id="ridelines-it", client_secret="it-client-secret-never-logged"
    )
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arn, SecretString=json.dumps({"client_id": "x", "client_secret": "rotated"})
    )
    assert credentials.get().client_secret == "it-client-secret-never-logged"  # served from the cache
    assert SecretsManagerOAuthCredentials(aws.secret_arn, max_age_seconds=1).get().client_secret == "rotated"


def test_malformed_secret_is_a_configuration_error_without_its_content(aws: Any) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=aws.secret_arn, SecretString=json.dumps({"id": "leaky-value"})
    )
    with pytest.raises(ConfigurationError) as caught:
        SecretsManagerOAuthCredentials(aws.secret_arn).get()
    assert "leaky-value" not in str(caught.value)


def test_handler_import_needs_no_environment_and_misconfiguration_is_json_500(
    monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    from ridelines import settings

    for name in (
        settings.USERS_TABLE_NAME,
        settings.JWT_KMS_KEY_ID,
        settings.SITE_URL,
        settings.TILES_KEY_PAIR_ID,
    ):
        monkeypatch.delenv(name, raising=False)
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "lambdas" / "auth" / "handler.py"
    spec = importlib.util.spec_from_file_location("_it_auth_handler_unconfigured", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing needs nothing
    response = module.lambda_handler(http_api_event("GET", "/auth/login"), lambda_context)
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {
        "error": "configuration_error",
        "message": "the service is not configured correctly",
    }


@pytest.fixture
def silent_server() -> Any:
    """Accepts connections and never answers: the outbound timeout must fire."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def run() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_outbound_calls_time_out_as_upstream_errors(silent_server: str) -> None:
    client = IntervalsOAuthClient(silent_server, timeout=(0.5, 0.5))
    with pytest.raises(UpstreamError) as caught:
        client.exchange_code("code", OAuthCredentials(client_id="c", client_secret="very-secret"))
    assert caught.value.transient and "very-secret" not in str(caught.value)


def test_token_response_without_athlete_falls_back_to_athlete_0(standin: Any) -> None:
    client = IntervalsOAuthClient(standin.base_url)
    token = standin.issue_token("i2002")
    athlete = client.get_self(token)
    assert (athlete.id, athlete.name) == ("i2002", "Rider B")
    with pytest.raises(UpstreamAuthError):
        client.get_self("not-a-token")


def test_disconnect_app_revokes_and_tolerates_already_revoked(standin: Any) -> None:
    client = IntervalsOAuthClient(standin.base_url)
    token = standin.issue_token("i1001")
    assert client.disconnect_app(token) is True
    assert token not in standin.tokens
    assert client.disconnect_app(token) is False  # 401 now: already revoked
