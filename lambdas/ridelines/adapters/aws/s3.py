"""S3 implementation of :class:`ridelines.ports.BlobStore`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ridelines.errors import RidelinesError

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3BlobStore:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._s3 = client or boto3.client("s3")

    @staticmethod
    def _extra(
        content_type: str,
        cache_control: str | None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> dict[str, str]:
        extra = {"ContentType": content_type}
        if cache_control:
            extra["CacheControl"] = cache_control
        if content_encoding:
            extra["ContentEncoding"] = content_encoding
        if content_disposition:
            extra["ContentDisposition"] = content_disposition
        return extra

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None:
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            **self._extra(content_type, cache_control, content_encoding, content_disposition),
        )

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None:
        # upload_file streams (multipart for big files), so archives never sit in memory
        extra = self._extra(content_type, cache_control, content_encoding, content_disposition)
        self._s3.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return bytes(response["Body"].read())

    def download_file(self, key: str, path: Path) -> bool:
        try:
            self._s3.download_file(self.bucket, key, str(path))
        except ClientError as exc:
            if _is_missing(exc):
                Path(path).unlink(missing_ok=True)
                return False
            raise
        return True

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def purge(self, prefix: str) -> int:
        """Every version and delete marker under ``prefix`` (a versioned bucket keeps deleted
        objects restorable otherwise). Needs s3:ListBucketVersions and s3:DeleteObjectVersion."""
        removed = 0
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            doomed = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for kind in ("Versions", "DeleteMarkers")
                for item in page.get(kind, [])
            ]
            for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1000 at a time
                chunk = doomed[start : start + 1000]
                answer = self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise RidelinesError(
                        f"could not erase {first.get('Key')}: {first.get('Code')}", code="erase_failed"
                    )
                removed += len(chunk)
        return removed
