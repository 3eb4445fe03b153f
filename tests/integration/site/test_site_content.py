"""The deploy-time custom resource against moto S3 + KMS: what it writes is what the authorizer reads
(issue 9.6), and the tiles key's PEM is what CloudFront's PublicKey takes (issue 10.1)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from moto import mock_aws

from ridelines.site.custom_resource import handle
from ridelines.site.publisher import SitePublisher

SITE = "https://d111111abcdef8.cloudfront.net"
REGION = "eu-west-1"


class Aws:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.kms = boto3.client("kms", region_name=REGION)
        for bucket in ("web", "assets"):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.jwt_key = self.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        self.tiles_key = self.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
            "KeyId"
        ]
        self.sent: list[dict[str, Any]] = []

    def send(self, url: str, body: bytes) -> None:
        assert url.startswith("https://cloudformation-custom-resource-response")
        self.sent.append(json.loads(body))

    def put_zip(self, key: str, files: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            for name, body in files.items():
                bundle.writestr(name, body)
        self.s3.put_object(Bucket="assets", Key=key, Body=buffer.getvalue())

    def get(self, key: str) -> dict[str, Any]:
        return self.s3.get_object(Bucket="web", Key=key)

    def keys(self) -> set[str]:
        return {o["Key"] for o in self.s3.list_objects_v2(Bucket="web").get("Contents", [])}

    def run(self, request_type: str, properties: dict[str, Any], physical_id: str | None = None) -> dict:
        event = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/Ridelines-dev-api/guid",
            "RequestId": "req-1",
            "LogicalResourceId": "SiteContent",
            "ResourceType": "Custom::SiteContent",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:...", **properties},
        }
        if physical_id:
            event["PhysicalResourceId"] = physical_id
        return handle(event, SitePublisher(self.s3, self.kms), send=self.send)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield Aws()


def site_properties(aws: Aws, **extra: Any) -> dict[str, Any]:
    aws.put_zip("web.zip", {"index.html": b"<!doctype html>", "app.js": b"1", "style.css": b"a{}"})
    aws.put_zip("maplibre.zip", {"maplibre-gl.js": b"m", "maplibre-gl.css": b"c"})
    return {
        "Action": "SiteContent",
        "WebBucket": "web",
        "SiteUrl": SITE,
        "JwtKeyId": aws.jwt_key,
        "BasemapStyleUrl": "https://tiles.openfreemap.org/styles/liberty",
        "Sources": [
            {"Bucket": "assets", "Key": "web.zip", "Prefix": ""},
            {"Bucket": "assets", "Key": "maplibre.zip", "Prefix": "vendor/maplibre-gl"},
        ],
        **extra,
    }


def test_discovery_document_names_the_site_issuer_and_jwks(aws: Aws) -> None:
    answer = aws.run("Create", site_properties(aws))
    assert answer["Status"] == "SUCCESS", answer
    discovery = aws.get("auth/.well-known/openid-configuration")
    document = json.loads(discovery["Body"].read())
    assert document["issuer"] == f"{SITE}/auth"
    assert document["jwks_uri"] == f"{SITE}/auth/.well-known/jwks.json"
    assert discovery["ContentType"] == "application/json"
    assert discovery["CacheControl"].startswith("public, max-age=")
    assert aws.sent == [answer]


def test_jwks_verifies_a_signature_made_by_the_kms_key(aws: Aws) -> None:
    aws.run("Create", site_properties(aws))
    (jwk,) = json.loads(aws.get("auth/.well-known/jwks.json")["Body"].read())["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"]) == (aws.jwt_key, "RS256", "sig", "RSA")

    def number(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    public = rsa.RSAPublicNumbers(number(jwk["e"]), number(jwk["n"])).public_key()
    message = b"header.payload"
    signature = aws.kms.sign(
        KeyId=aws.jwt_key, Message=message, MessageType="RAW", SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256"
    )["Signature"]
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # raises if the JWKS is wrong


def test_web_app_vendor_libraries_and_config_are_published(aws: Aws) -> None:
    answer = aws.run("Create", site_properties(aws))
    assert aws.keys() == {
        "index.html",
        "app.js",
        "style.css",
        "vendor/maplibre-gl/maplibre-gl.js",
        "vendor/maplibre-gl/maplibre-gl.css",
        "config.json",
        "auth/.well-known/openid-configuration",
        "auth/.well-known/jwks.json",
    }
    assert answer["Data"] == {"ObjectCount": "8"}
    assert json.loads(aws.get("config.json")["Body"].read()) == {
        "basemap_style_url": "https://tiles.openfreemap.org/styles/liberty"
    }
    assert aws.get("index.html")["ContentType"] == "text/html; charset=utf-8"
    assert aws.get("vendor/maplibre-gl/maplibre-gl.js")["ContentType"] == "text/javascript; charset=utf-8"
    assert aws.get("app.js")["CacheControl"] == "no-cache"


def test_no_basemap_configured_is_null(aws: Aws) -> None:
    aws.run("Create", site_properties(aws, BasemapStyleUrl=""))
    assert json.loads(aws.get("config.json")["Body"].read()) == {"basemap_style_url": None}


def test_an_update_removes_what_the_new_deploy_no_longer_has(aws: Aws) -> None:
    first = aws.run("Create", site_properties(aws))
    aws.put_zip("web-v2.zip", {"index.html": b"<!doctype html>v2"})
    props = site_properties(aws)
    props["Sources"] = [{"Bucket": "assets", "Key": "web-v2.zip", "Prefix": ""}]
    second = aws.run("Update", props, physical_id=first["PhysicalResourceId"])
    assert second["PhysicalResourceId"] == first["PhysicalResourceId"]  # no Delete of the old one
    assert aws.keys() == {
        "index.html",
        "config.json",
        "auth/.well-known/openid-configuration",
        "auth/.well-known/jwks.json",
    }
    assert aws.get("index.html")["Body"].read() == b"<!doctype html>v2"


def test_delete_empties_the_bucket_so_it_can_go(aws: Aws) -> None:
    created = aws.run("Create", site_properties(aws))
    answer = aws.run("Delete", site_properties(aws), physical_id=created["PhysicalResourceId"])
    assert answer["Status"] == "SUCCESS"
    assert aws.keys() == set()


def test_a_zip_escaping_the_site_fails_the_deploy_with_one_line_and_writes_nothing(aws: Aws) -> None:
    props = site_properties(aws)
    aws.put_zip("evil.zip", {"../../etc/passwd": b"x"})
    props["Sources"] = [{"Bucket": "assets", "Key": "evil.zip", "Prefix": ""}]
    answer = aws.run("Create", props)
    assert answer["Status"] == "FAILED"
    assert "outside the site" in answer["Reason"] and "\n" not in answer["Reason"]
    assert aws.keys() == set()


def test_bad_properties_fail_create_but_never_block_a_delete(aws: Aws) -> None:
    bad = {"Action": "SiteContent", "WebBucket": "web", "SiteUrl": "not a url", "JwtKeyId": aws.jwt_key}
    created = aws.run("Create", bad)
    assert created["Status"] == "FAILED" and "SiteUrl" in created["Reason"]
    deleted = aws.run("Delete", bad, physical_id=created["PhysicalResourceId"])
    assert deleted["Status"] == "SUCCESS"
    unknown = aws.run("Create", {"Action": "Nope"})
    assert unknown["Status"] == "FAILED" and "unknown Action" in unknown["Reason"]


def test_a_missing_kms_key_is_answered_not_hung(aws: Aws) -> None:
    answer = aws.run("Create", site_properties(aws, JwtKeyId="00000000-0000-0000-0000-000000000000"))
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("NotFoundException")
    assert len(aws.sent) == 1


def test_tiles_public_key_pem_is_the_kms_key_s_p256_half(aws: Aws) -> None:
    answer = aws.run("Create", {"Action": "TilesPublicKey", "KeyId": aws.tiles_key})
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == f"tiles-public-key-{aws.tiles_key}"
    pem = answer["Data"]["PublicKeyPem"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.endswith("-----END PUBLIC KEY-----\n")
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    der = aws.kms.get_public_key(KeyId=aws.tiles_key)["PublicKey"]
    assert public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == bytes(der)
    assert aws.keys() == set()  # the key resource writes nothing to the site


def test_the_lambda_handler_builds_its_clients_and_answers(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "site_content_handler", Path(__file__).resolve().parents[3] / "lambdas/site_content/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sent: list[bytes] = []
    monkeypatch.setattr("ridelines.site.custom_resource.put_response", lambda url, body: sent.append(body))
    event = {
        "RequestType": "Create",
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x",
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "TilesPublicKey",
        "ResourceProperties": {"Action": "TilesPublicKey", "KeyId": aws.tiles_key},
    }
    answer = module.lambda_handler(event, None)
    assert answer["Status"] == "SUCCESS"
    assert json.loads(sent[0])["Data"]["PublicKeyPem"] == answer["Data"]["PublicKeyPem"]
