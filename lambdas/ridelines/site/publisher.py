"""Deploy-time publishing of the site's static content into its private bucket.

The web app and its browser libraries arrive as CDK zip assets (``Sources``); this module unpacks
them under their prefixes, adds ``config.json`` and the two ``.well-known`` documents, and removes
what the previous deploy wrote and this one no longer has. The bucket belongs to the site alone.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ridelines.site import documents

TEXT_TYPES = ("text/", "application/javascript", "application/json")
# Anything bigger is not a web-app file: refuse rather than fill the Lambda's memory.
MAX_SOURCE_BYTES = 64 * 1024 * 1024


class Source(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    bucket: str = Field(alias="Bucket", min_length=3)
    key: str = Field(alias="Key", min_length=1)
    prefix: str = Field(default="", alias="Prefix")


class SiteContentProperties(BaseModel):
    """The custom resource's properties (strings, as CloudFormation passes them)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    web_bucket: str = Field(alias="WebBucket", min_length=3)
    site_url: str = Field(alias="SiteUrl", pattern=r"^https?://[^/]+$")
    jwt_key_id: str = Field(alias="JwtKeyId", min_length=1)
    basemap_style_url: str = Field(default="", alias="BasemapStyleUrl")
    sources: list[Source] = Field(default_factory=list, alias="Sources")


@dataclass(frozen=True)
class SiteObject:
    key: str
    body: bytes
    content_type: str
    cache_control: str


def content_type_of(key: str) -> str:
    guessed = mimetypes.guess_type(key)[0]
    if key.endswith((".js", ".mjs")):
        guessed = "text/javascript"
    content_type = guessed or "application/octet-stream"
    return f"{content_type}; charset=utf-8" if content_type.startswith(TEXT_TYPES) else content_type


def _safe_key(prefix: str, name: str) -> str:
    key = posixpath.normpath(posixpath.join(prefix, name))
    if key.startswith(("/", "..")) or "/../" in f"/{key}/":
        raise ValueError(f"refusing a path outside the site: {name!r}")
    return key


def unpack(archive: bytes, prefix: str) -> Iterable[SiteObject]:
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for info in bundle.infolist():
            if info.is_dir():
                continue
            key = _safe_key(prefix, info.filename)
            yield SiteObject(key, bundle.read(info), content_type_of(key), documents.SITE_CACHE_CONTROL)


def generated_objects(props: SiteContentProperties, jwt_public_key_der: bytes) -> list[SiteObject]:
    """config.json, the discovery document and the JWKS: what the authorizer and the app read."""
    json_type = documents.JSON_TYPE
    well_known = documents.WELL_KNOWN_CACHE_CONTROL
    return [
        SiteObject(
            documents.CONFIG_KEY,
            documents.config_document(props.basemap_style_url),
            json_type,
            documents.SITE_CACHE_CONTROL,
        ),
        SiteObject(
            documents.DISCOVERY_KEY, documents.discovery_document(props.site_url), json_type, well_known
        ),
        SiteObject(
            documents.JWKS_KEY,
            documents.jwks_document(jwt_public_key_der, props.jwt_key_id),
            json_type,
            well_known,
        ),
    ]


class SitePublisher:
    """Writes and clears the site bucket with the given boto3 S3 and KMS clients."""

    def __init__(self, s3: Any, kms: Any) -> None:
        self._s3 = s3
        self._kms = kms

    def public_key_der(self, key_id: str) -> bytes:
        return bytes(self._kms.get_public_key(KeyId=key_id)["PublicKey"])

    def publish(self, props: SiteContentProperties) -> list[str]:
        """Write every object, then delete the previous deploy's leftovers; returns the keys written."""
        objects: list[SiteObject] = []
        for source in props.sources:
            objects.extend(unpack(self._read_source(source), source.prefix))
        objects.extend(generated_objects(props, self.public_key_der(props.jwt_key_id)))
        written = set()
        for obj in objects:
            self._s3.put_object(
                Bucket=props.web_bucket,
                Key=obj.key,
                Body=obj.body,
                ContentType=obj.content_type,
                CacheControl=obj.cache_control,
            )
            written.add(obj.key)
        self._delete(props.web_bucket, [k for k in self._keys(props.web_bucket) if k not in written])
        return sorted(written)

    def clear(self, bucket: str) -> None:
        self._delete(bucket, list(self._keys(bucket)))

    def _read_source(self, source: Source) -> bytes:
        response = self._s3.get_object(Bucket=source.bucket, Key=source.key)
        if int(response.get("ContentLength", 0)) > MAX_SOURCE_BYTES:
            raise ValueError(f"asset {source.key} is larger than {MAX_SOURCE_BYTES} bytes")
        return bytes(response["Body"].read())

    def _keys(self, bucket: str) -> Iterable[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                yield item["Key"]

    def _delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self._s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
