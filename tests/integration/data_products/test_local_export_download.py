"""The local stack's /tiles origin serves the export as CloudFront would: gzip on the wire, as a file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
from werkzeug.test import Client

from ridelines.adapters.aws.s3 import S3BlobStore
from ridelines_local.localstack.gateway import Gateway

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
    web = tmp_path / "web"
    web.mkdir()
    gateway = Gateway(
        routes=[],
        s3_client=s3,
        tiles_bucket="data",
        web_dir=web,
        vendor={},
        frontend_origin=ORIGIN,
        cors={"AllowOrigins": [ORIGIN], "MaxAge": 60},
    )
    response = Client(gateway).get("/tiles/i1/export-abc.geojson")
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="ridelines-i1.geojson"'
    assert response.headers["Content-Type"] == "application/geo+json"
    assert json.loads(gzip.decompress(response.data)) == collection
