"""The site's own bucket: the web app, its libraries, config.json and the static .well-known documents.

Nothing in it is state: the site-content custom resource rewrites it on every deploy, so it is
destroyed with the stack in every environment.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge

WEB_BUCKET_LOGICAL_ID = "WebBucket"  # fixed: cdk-nag finding ids name it


class WebBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,  # emptied by the custom resource's Delete
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.override_logical_id(WEB_BUCKET_LOGICAL_ID)
        acknowledge(
            self.bucket,
            "S1",
            "Only the deploy writes this bucket and only CloudFront reads it; the distribution's standard "
            "logs record every viewer request, so S3 access logs would repeat them.",
        )
