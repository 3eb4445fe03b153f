"""The local stack's /tiles origin serves the export as CloudFront would: gzip on the wire, as a file."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import boto3
from werkzeug.test import Client

from ridelines.adapters.aws.s3 import S3BlobStore
from ridelines.auth.tiles_cookies import TilesCookieIssuer
from ridelines_local.localstack.gateway import Gateway
from ridelines_local.localstack.signed_cookies import SignedCookieVerifier
from tests.support.signers import LocalEcdsaSigner

from .conftest import REGION

ORIGIN = "http://127.0.0.1:8000"


def test_the_export_is_served_with_its_encoding_and_disposition(aws: None, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})
    collection = {"type": "FeatureCollection", "features": []}
    body = gzip.compress(json.dumps(collection).encode(), mtime=0)
    export = tmp_path / "export.geojson.gz"
    export.write_bytes(body)
    S3BlobStore("data", client=s3).put_file(
        "tiles/i1/export-abc.geojson",
        export,
        content_type="application/geo+json",
        content_encoding="gzip",
        content_disposition='attachment; filename="ridelines-i1.geojson"',
    )
    signer = LocalEcdsaSigner()
    web = tmp_path / "web"
    web.mkdir()
    gateway = Gateway(
        routes=[],
        s3_client=s3,
        tiles_bucket="data",
        web_dir=web,
        vendor={},
        site_url=ORIGIN,
        tiles_access=SignedCookieVerifier({"KTEST": signer.public_key_der()}),
    )
    now = int(time.time())
    issued = TilesCookieIssuer(signer, ORIGIN, "KTEST").cookies("i1", expires_at=now + 600, now=now)
    cookie_header = "; ".join(f"{c.name}={c.value}" for c in issued)
    client = Client(gateway, use_cookies=False)  # the Cookie header as given
    assert client.get("/tiles/i1/export-abc.geojson").status_code == 403  # the rider's cookies only
    response = client.get("/tiles/i1/export-abc.geojson", headers={"Cookie": cookie_header})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ridelines-i1.geojson"'
    assert response.headers["Content-Type"] == "application/geo+json"
    assert json.loads(gzip.decompress(response.data)) == collection
