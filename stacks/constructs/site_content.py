"""The deploy-time custom resource (``lambdas/site_content``, logic in ``ridelines.site``).

One small ARM64 Python function (no CDK BucketDeployment: that is an x86 Node/awscli Lambda) backs
two resources:
- the tiles key's public half, as PEM, registered as the CloudFront public key of the tiles key group
  (created before the distribution: the key group is on its ``/tiles/*`` behaviour);
- the site's content: the web app (``web/``), its libraries under ``/vendor/<name>/`` (as the local
  stack serves them), ``/config.json`` and the static ``/auth/.well-known/*`` documents (created after
  the distribution: the issuer is the site's URL).
CloudFormation calls the function directly (service token = its ARN), so there is no provider framework.
"""

from __future__ import annotations

from aws_cdk import CustomResource, Fn
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.constructs.function import RidelinesFunction
from stacks.constructs.web_bucket import WEB_BUCKET_LOGICAL_ID
from stacks.nag import acknowledge
from stacks.settings import SITE_CONTENT, WEB_DIR, WEB_VENDOR_DIRS, WEB_VENDOR_EXCLUDE, EnvironmentSettings

VENDOR_PREFIX = "vendor/"


class SiteContent(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        dependencies_layer: lambda_.ILayerVersion,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.handler = RidelinesFunction(
            self,
            "Function",
            settings=settings,
            spec=SITE_CONTENT,
            environment={},
            layers=[dependencies_layer],
        )
        self.role = self.handler.role

    def tiles_key_group(self, tiles_key: kms.IKey) -> cloudfront.KeyGroup:
        """The tiles key's public half as a CloudFront public key, in the key group ``/tiles/*`` trusts."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadTilesPublicKey", actions=["kms:GetPublicKey"], resources=[tiles_key.key_arn]
            )
        )
        pem = CustomResource(
            self,
            "TilesPublicKeyPem",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::TilesPublicKey",
            properties={"Action": "TilesPublicKey", "KeyId": tiles_key.key_id},
        )
        self.tiles_public_key = cloudfront.PublicKey(
            self,
            "TilesPublicKey",
            encoded_key=pem.get_att_string("PublicKeyPem"),
            comment=f"Ridelines {self.settings.name}: the KMS tiles key's public half (ECDSA P-256)",
        )
        # Name and caller reference follow the KMS key: a rotated key (new key id) makes a new CloudFront
        # public key beside the old one during the replacement instead of colliding with its name.
        cfn_public_key = self.tiles_public_key.node.default_child
        assert isinstance(cfn_public_key, cloudfront.CfnPublicKey)
        key_id = tiles_key.key_id
        cfn_public_key.add_property_override(
            "PublicKeyConfig.Name", Fn.join("-", [f"ridelines-{self.settings.name}-tiles", key_id])
        )
        cfn_public_key.add_property_override(
            "PublicKeyConfig.CallerReference", Fn.join("-", [f"ridelines-{self.settings.name}-tiles", key_id])
        )
        return cloudfront.KeyGroup(
            self,
            "TilesKeyGroup",
            items=[self.tiles_public_key],
            comment=f"Ridelines {self.settings.name}: signers of the tiles cookies",
        )

    def publish(self, *, web_bucket: s3.IBucket, site_url: str, jwt_key: kms.IKey) -> CustomResource:
        """Write the web app, config.json and the .well-known documents into ``web_bucket`` at deploy."""
        sources = [(s3_assets.Asset(self, "WebApp", path=str(WEB_DIR)), "")]
        for name, folder in WEB_VENDOR_DIRS.items():
            asset = s3_assets.Asset(self, f"Vendor-{name}", path=str(folder), exclude=WEB_VENDOR_EXCLUDE)
            sources.append((asset, f"{VENDOR_PREFIX}{name}"))
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadSiteAssets",
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset, _ in sources],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListSite", actions=["s3:ListBucket"], resources=[web_bucket.bucket_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteSite",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[web_bucket.arn_for_objects("*")],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadJwtPublicKey", actions=["kms:GetPublicKey"], resources=[jwt_key.key_arn]
            )
        )
        content = CustomResource(
            self,
            "Content",
            service_token=self.handler.function.function_arn,
            resource_type="Custom::SiteContent",
            properties={
                "Action": "SiteContent",
                "WebBucket": web_bucket.bucket_name,
                "SiteUrl": site_url,
                "JwtKeyId": jwt_key.key_id,
                "BasemapStyleUrl": self.settings.basemap_style_url,
                "Sources": [
                    {"Bucket": asset.s3_bucket_name, "Key": asset.s3_object_key, "Prefix": prefix}
                    for asset, prefix in sources
                ],
            },
        )
        acknowledge(
            self.role,
            "IAM5",
            "The custom resource rewrites the whole site bucket at each deploy (file names come from web/ "
            "and the npm libraries), so it writes and deletes any key of that one bucket.",
            finding=f"Resource::<{WEB_BUCKET_LOGICAL_ID}.Arn>/*",
        )
        return content
