"""The private data bucket (athletes/ + tiles/ prefixes) and the bucket its access logs go to."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge
from stacks.settings import TILES_NONCURRENT_VERSION_DAYS, EnvironmentSettings

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
    """One private bucket for everything the sync writes; only the site's distribution reads ``tiles/*``.

    Its bucket policy (TLS only + that read) is written next to the distribution, in the API stack,
    because it names the distribution: here it would make the two stacks reference each other.
    """

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
            # Versioning protects the per-athlete archive and index against a bad write; old
            # versions disappear after a short noncurrent window (tiles: a day, rebuildable).
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=S3_ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="athletes-noncurrent-versions",
                    prefix=ATHLETES_PREFIX,
                    noncurrent_version_expiration=Duration.days(settings.archive_noncurrent_version_days),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="tiles-noncurrent-versions",
                    prefix=TILES_PREFIX,
                    noncurrent_version_expiration=Duration.days(TILES_NONCURRENT_VERSION_DAYS),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
            removal_policy=settings.removal_policy,
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.override_logical_id("DataBucket")
        acknowledge(
            self.bucket,
            "S10",
            "The TLS-only deny is in this bucket's policy, which the API stack writes together with the "
            "distribution's read grant (it names the distribution; written here the stacks would cycle).",
        )
