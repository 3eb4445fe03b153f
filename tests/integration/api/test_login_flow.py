"""The login flow end to end: auth handler on moto + the stand-in intervals.icu over real HTTP."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt as pyjwt
import pytest
from botocore.exceptions import ClientError

from ridelines.auth.verify import JwtVerifier

ISSUER = "https://site.example/auth"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def served_jwks(invoke: Any, auth_handler: Any, ctx: Any) -> dict[str, Any]:
    response = invoke(auth_handler, ctx, "GET", "/auth/.well-known/jwks.json")
    assert response["statusCode"] == 200
    return body(response)


def pyjwt_verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's JWT authorizer rules, with PyJWT (independent of python-jose)."""
    kid = pyjwt.get_unverified_header(token)["kid"]
    key = next(k for k in pyjwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
    return pyjwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience="ridelines",
        issuer=ISSUER,
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
    )


def test_full_login_issues_a_jwt_the_authorizer_accepts(
    login: Any, invoke: Any, auth_handler: Any, lambda_context: Any, env: Any
) -> None:
    done = login("i1001", "/map?year=2025")
    assert done.location == "https://site.example/map?year=2025"  # no token in the URL
    token = done.token
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": env.signing_key_id, "typ": "JWT"}

    jwks = served_jwks(invoke, auth_handler, lambda_context)
    claims = pyjwt_verify(token, jwks)
    assert (claims["sub"], claims["name"], claims["aud"], claims["iss"]) == (
        "i1001",
        "Rider A",
        "ridelines",
        ISSUER,
    )
    assert claims["exp"] - claims["iat"] == 12 * 3600
    assert JwtVerifier(jwks, issuer=ISSUER).verify(token) == claims

    # The signature really is KMS's: KMS itself verifies it over the RAW signing input.
    signing_input, _, signature = token.rpartition(".")
    verdict = boto3.client("kms").verify(
        KeyId=env.signing_key_id,
        Message=signing_input.encode(),
        MessageType="RAW",
        Signature=pyjwt.utils.base64url_decode(signature),
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )
    assert verdict["SignatureValid"] is True


def test_openid_configuration(invoke: Any, auth_handler: Any, lambda_context: Any) -> None:
    response = invoke(auth_handler, lambda_context, "GET", "/auth/.well-known/openid-configuration")
    config = body(response)
    assert config["issuer"] == ISSUER
    assert config["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_is_the_kms_public_key_and_cacheable(
    invoke: Any, auth_handler: Any, lambda_context: Any, env: Any
) -> None:
    response = invoke(auth_handler, lambda_context, "GET", "/auth/.well-known/jwks.json")
    assert "max-age" in response["headers"]["Cache-Control"]
    (key,) = body(response)["keys"]
    assert (key["kid"], key["alg"], key["use"], key["kty"]) == (env.signing_key_id, "RS256", "sig", "RSA")
    from cryptography.hazmat.primitives import serialization

    der = boto3.client("kms").get_public_key(KeyId=env.signing_key_id)["PublicKey"]
    expected = serialization.load_der_public_key(der).public_numbers()  # type: ignore[union-attr]
    assert pyjwt.PyJWK.from_dict(key).key.public_numbers() == expected


def test_user_row_is_upserted_with_encrypted_token(login: Any, env: Any, standin: Any) -> None:
    login("i1001")
    item = env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})["Item"]
    ciphertext = item["encrypted_token"]["B"]
    issued = set(standin.tokens)  # the stand-in's live access tokens
    assert len(issued) == 1
    (access_token,) = issued
    assert access_token.encode() not in ciphertext
    kms = boto3.client("kms")
    plain = kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext={"athlete_id": "i1001"})["Plaintext"]
    assert plain.decode() == access_token
    with pytest.raises(ClientError):  # bound to its athlete: another context does not decrypt it
        kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext={"athlete_id": "i2002"})
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=ciphertext)


def test_created_at_is_kept_across_logins(login: Any, env: Any) -> None:
    login("i1001")
    first = env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})["Item"]
    login("i1001")
    second = env.dynamodb.get_item(TableName="users", Key={"athlete_id": {"S": "i1001"}})["Item"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"]["S"] >= first["updated_at"]["S"]
    assert second["encrypted_token"] != first["encrypted_token"]  # the new token replaced the old
    assert env.dynamodb.scan(TableName="users")["Count"] == 1


def test_state_is_stored_with_ttl_attribute(
    invoke: Any, auth_handler: Any, lambda_context: Any, env: Any
) -> None:
    import time

    before = time.time()
    response = invoke(auth_handler, lambda_context, "GET", "/auth/login", query={"redirect_path": "/x"})
    state = parse_qs(urlsplit(response["headers"]["Location"]).query)["state"][0]
    item = env.dynamodb.get_item(TableName="oauth-state", Key={"state": {"S": state}})["Item"]
    assert item["redirect_path"]["S"] == "/x"
    assert before + 590 <= int(item["expires_at"]["N"]) <= time.time() + 600


def consented(
    start_login: Any, consent: Any, decision: str = "approve", redirect_path: str | None = None
) -> Any:
    started = start_login(redirect_path)
    back = consent(started.authorize_url, "i1001", decision=decision)
    return {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}, started.cookies


def test_replayed_state_is_refused(
    invoke: Any, auth_handler: Any, lambda_context: Any, consent: Any, start_login: Any
) -> None:
    query, cookies = consented(start_login, consent)
    first = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    assert first["statusCode"] == 302
    replay = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    assert replay["statusCode"] == 400
    assert body(replay)["error"] == "invalid_state"


def test_login_csrf_and_a_replay_from_another_client_are_refused_on_dynamodb(
    invoke: Any,
    auth_handler: Any,
    lambda_context: Any,
    consent: Any,
    start_login: Any,
    env: Any,
    standin: Any,
) -> None:
    query, cookies = consented(start_login, consent)  # the attacker's consented callback
    victim = start_login().cookies  # a browser with its own, different login under way
    for other in ({}, victim):
        refused = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=other)
        assert (refused["statusCode"], body(refused)["error"]) == (400, "state_not_bound_to_this_browser")
        assert not refused.get("cookies")
    assert env.dynamodb.scan(TableName="users")["Count"] == 0
    assert standin.count("POST", "/api/oauth/token") == 0  # the code was never redeemed
    # the state is still there for the browser that started it
    item = env.dynamodb.get_item(TableName="oauth-state", Key={"state": {"S": query["state"]}})
    assert "Item" in item
    assert (
        invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)[
            "statusCode"
        ]
        == 302
    )


def test_expired_state_is_refused(
    invoke: Any,
    auth_handler: Any,
    lambda_context: Any,
    consent: Any,
    env: Any,
    standin: Any,
    start_login: Any,
) -> None:
    query, cookies = consented(start_login, consent)
    # Age the stored state past its expiry; DynamoDB (moto) has not deleted it, the code must refuse it.
    env.dynamodb.update_item(
        TableName="oauth-state",
        Key={"state": {"S": query["state"]}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    response = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")
    assert standin.count("POST", "/api/oauth/token") == 0  # the code was never exchanged
    assert env.dynamodb.scan(TableName="users")["Count"] == 0


def test_unknown_state_is_refused(
    invoke: Any, auth_handler: Any, lambda_context: Any, env: Any, start_login: Any
) -> None:
    cookies = start_login().cookies
    response = invoke(
        auth_handler,
        lambda_context,
        "GET",
        "/auth/callback",
        query={"code": "abc123", "state": "Z" * 43},
        cookies=cookies,
    )
    assert (response["statusCode"], body(response)["error"]) == (400, "invalid_state")


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
    ],
)
def test_open_redirect_is_refused(
    invoke: Any, auth_handler: Any, lambda_context: Any, env: Any, path: str
) -> None:
    response = invoke(auth_handler, lambda_context, "GET", "/auth/login", query={"redirect_path": path})
    assert response["statusCode"] == 400
    assert body(response)["error"] == "invalid_redirect_path"
    assert "Location" not in response.get("headers", {})
    assert env.dynamodb.scan(TableName="oauth-state")["Count"] == 0


def test_denied_consent_goes_home_with_error(
    invoke: Any, auth_handler: Any, lambda_context: Any, consent: Any, env: Any, start_login: Any
) -> None:
    query, cookies = consented(start_login, consent, decision="deny", redirect_path="/map")
    assert query["error"] == "access_denied"
    response = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    assert response["statusCode"] == 302
    assert response["headers"]["Location"] == "https://site.example/?login=denied"
    assert env.dynamodb.scan(TableName="oauth-state")["Count"] == 0
    assert env.dynamodb.scan(TableName="users")["Count"] == 0


@pytest.mark.parametrize("fault", ["500", "503", "reset"])
def test_upstream_failure_is_502(
    invoke: Any,
    auth_handler: Any,
    lambda_context: Any,
    consent: Any,
    standin: Any,
    env: Any,
    fault: str,
    start_login: Any,
) -> None:
    query, cookies = consented(start_login, consent)
    standin.faults.inject(r"/api/oauth/token", fault)
    response = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    assert response["statusCode"] == 502
    assert body(response)["error"] == "upstream_error"
    assert env.dynamodb.scan(TableName="users")["Count"] == 0


def test_rejected_code_is_502_not_a_login(
    invoke: Any, auth_handler: Any, lambda_context: Any, env: Any, start_login: Any
) -> None:
    started = start_login()
    response = invoke(
        auth_handler,
        lambda_context,
        "GET",
        "/auth/callback",
        query={"code": "deadbeef", "state": started.state},
        cookies=started.cookies,
    )
    assert response["statusCode"] == 502
    assert env.dynamodb.scan(TableName="users")["Count"] == 0


def test_no_token_or_secret_in_logs_or_bodies(
    login: Any,
    invoke: Any,
    auth_handler: Any,
    lambda_context: Any,
    standin: Any,
    json_logs: Any,
    consent: Any,
    start_login: Any,
) -> None:
    done = login("i1001")
    jwt_token = done.token
    # and a failing callback, whose error body and logs must stay clean too
    query, cookies = consented(start_login, consent)
    standin.faults.inject(r"/api/oauth/token", "503")
    failed = invoke(auth_handler, lambda_context, "GET", "/auth/callback", query=query, cookies=cookies)
    logs = json_logs.getvalue()
    assert '"correlation_id"' in logs and '"level"' in logs
    secrets = [
        jwt_token,
        done.cookies["CloudFront-Signature"],
        "it-client-secret-never-logged",
        *standin.tokens,
        query["code"],
        *cookies.values(),
    ]
    for secret in secrets:
        assert secret not in logs
        assert secret not in failed["body"]


def test_tiles_cookies_are_signed_by_the_kms_ecc_key(login: Any, env: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from ridelines.auth.tiles_cookies import cloudfront_b64decode, parse_policy

    done = login("i1001")
    policy = cloudfront_b64decode(done.cookies["CloudFront-Policy"])
    signature = cloudfront_b64decode(done.cookies["CloudFront-Signature"])
    assert done.cookies["CloudFront-Key-Pair-Id"] == "K2ITKEYPAIR"
    assert done.cookies["CloudFront-Hash-Algorithm"] == "SHA256"
    (statement,) = parse_policy(done.cookies["CloudFront-Policy"])["Statement"]
    assert statement["Resource"] == "https://site.example/tiles/i1001/*"
    session_exp = pyjwt.decode(done.token, options={"verify_signature": False})["exp"]
    assert statement["Condition"]["DateLessThan"]["AWS:EpochTime"] == session_exp
    kms = boto3.client("kms")
    verdict = kms.verify(
        KeyId=env.tiles_key_id,
        Message=policy,
        MessageType="RAW",
        Signature=signature,
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert verdict["SignatureValid"] is True
    # and with the public half alone, as CloudFront (and the local stack) verify it: DER ECDSA over SHA-256
    public = load_der_public_key(kms.get_public_key(KeyId=env.tiles_key_id)["PublicKey"])
    public.verify(signature, policy, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
