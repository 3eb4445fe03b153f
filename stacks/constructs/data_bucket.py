"""The private data bucket (athletes/ + tiles/ prefixes) and the bucket its access logs go to."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.settings import EnvironmentSettings

ATHLETES_PREFIX = "athletes/"  # athletes/{athlete_id}/activities.index, activities.geojson.zst
TILES_PREFIX = "tiles/"  # tiles/{athlete_id}/{content-hash}.pmtiles, immutable
S3_ACCESS_LOG_PREFIX = "s3/"
CLOUDFRONT_LOG_PREFIX = "cloudfront/"


class AccessLogBucket(Construct):
    """Receives S3 server access logs and CloudFront standard logs.

    CloudFront's standard logging writes with an ACL, so this bucket keeps ACLs on
    (BUCKET_OWNER_PREFERRED) where the data bucket enforces bucket-owner ownership.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery supports SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(settings.access_log_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=settings.removal_policy,
        )


class DataBucket(Construct):
    """One private bucket for everything the sync writes; only CloudFront reads ``tiles/*``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # Versioning protects the per-athlete archive and index against a bad write; old
            # versions (and deleted users' files) disappear after a short noncurrent window.
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=S3_ACCESS_LOG_PREFIX,
            cors=[
                # Preflights for ranged GETs reach S3 through CloudFront; answer them for the frontend.
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=[settings.frontend_url],
                    allowed_headers=["Range", "If-Match", "If-None-Match"],
                    exposed_headers=["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
                    max_age=3600,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(settings.noncurrent_version_expiration_days),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=settings.removal_policy,
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.override_logical_id("DataBucket")
