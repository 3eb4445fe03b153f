"""The data bucket and its access-log bucket: stateful, kept across deploys (prod retains them).

The distribution that reads ``tiles/*`` lives in the API stack with the rest of the site, and so
does this bucket's policy (it names the distribution).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.constructs.data_bucket import AccessLogBucket, DataBucket
from stacks.settings import EnvironmentSettings


class StorageStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.access_logs = AccessLogBucket(self, "AccessLogs", settings=settings)
        self.data = DataBucket(self, "Data", settings=settings, access_logs=self.access_logs.bucket)
        # A named export for the bucket ARN: the Lambda policies build their prefix ARNs from it, so
        # their (acknowledged) cdk-nag findings have ids that do not depend on CDK's hashed names.
        self.data_bucket_arn_export = f"{self.stack_name}-DataBucketArn"
        CfnOutput(
            self, "DataBucketArn", value=self.data.bucket.bucket_arn, export_name=self.data_bucket_arn_export
        )
