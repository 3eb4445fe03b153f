"""The data bucket, its access-log bucket and the CloudFront distribution that serves tiles/*.

The distribution lives with the bucket because the bucket policy names the distribution (OAC):
apart, the two stacks would reference each other.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.constructs.data_bucket import AccessLogBucket, DataBucket
from stacks.constructs.tiles_cdn import TilesDistribution
from stacks.settings import EnvironmentSettings


class StorageStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.access_logs = AccessLogBucket(self, "AccessLogs", settings=settings)
        self.data = DataBucket(self, "Data", settings=settings, access_logs=self.access_logs.bucket)
        self.tiles = TilesDistribution(
            self, "Tiles", settings=settings, bucket=self.data.bucket, log_bucket=self.access_logs.bucket
        )
        CfnOutput(self, "TilesBaseUrl", value=self.tiles.tiles_base_url)
        # A named export for the bucket ARN: the Lambda policies build their prefix ARNs from it, so
        # their (acknowledged) cdk-nag findings have ids that do not depend on CDK's hashed names.
        self.data_bucket_arn_export = f"{self.stack_name}-DataBucketArn"
        CfnOutput(
            self, "DataBucketArn", value=self.data.bucket.bucket_arn, export_name=self.data_bucket_arn_export
        )
