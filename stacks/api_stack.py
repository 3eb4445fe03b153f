"""The site and the stateless application: the distribution, the web app's bucket and content, the
layers, the three Lambdas, the HTTP API, the DLQ and the alarms.

One stack because the pieces name each other one way only: the distribution points at the HTTP API
(its Api resource alone) and the buckets; the Lambdas' ``SITE_URL``, the authorizer's issuer and the
``.well-known`` documents derive from the distribution's domain; nothing the distribution needs
derives from them (tests/infrastructure/test_site.py checks the dependency graph has no cycle).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ridelines import settings as names
from stacks.constructs.access import AuthAccess, SyncAccess, UserAccess
from stacks.constructs.alarms import Alarms
from stacks.constructs.function import RidelinesFunction
from stacks.constructs.http_api import RidelinesHttpApi
from stacks.constructs.lambda_layers import LambdaLayers
from stacks.constructs.site_cdn import SiteDistribution
from stacks.constructs.site_content import SiteContent
from stacks.constructs.sync_failures import SyncFailureQueue
from stacks.constructs.web_bucket import WebBucket
from stacks.data_stack import DataStack
from stacks.settings import AUTH, SYNC, USER, EnvironmentSettings, FunctionSpec
from stacks.storage_stack import StorageStack

ALARM_EMAIL_WARNING = "ridelines:alarmEmailMissing"


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        data: DataStack,
        storage: StorageStack,
        build_layers: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        layers = LambdaLayers(self, "Layers", settings=settings, build=build_layers)
        http_api = RidelinesHttpApi(self, "HttpApi", settings=settings)
        sync_function_name = settings.function_name(SYNC)
        tables, bucket = data.tables, storage.data.bucket

        content = SiteContent(self, "SiteContent", settings=settings, dependencies_layer=layers.dependencies)
        tiles_key_group = content.tiles_key_group(data.tiles_key.key)
        web = WebBucket(self, "Web")
        site = SiteDistribution(
            self,
            "Site",
            settings=settings,
            web_bucket=web.bucket,
            data_bucket_name=bucket.bucket_name,
            data_bucket_regional_domain_name=bucket.bucket_regional_domain_name,
            api_domain_name=http_api.domain_name,
            tiles_key_group=tiles_key_group,
            log_bucket=storage.access_logs.bucket,
        )
        content.publish(web_bucket=web.bucket, site_url=site.url, jwt_key=data.jwt_key.key)

        # One environment for all three: names of non-secret resources only (no secret values),
        # so every handler's settings model finds what it expects; IAM decides what each may touch.
        environment = {
            names.USERS_TABLE_NAME: tables.users.table_name,
            names.OAUTH_STATE_TABLE_NAME: tables.oauth_state.table_name,
            names.SYNC_TABLE_NAME: tables.syncs.table_name,
            names.S3_BUCKET: bucket.bucket_name,
            names.JWT_KMS_KEY_ID: data.jwt_key.key.key_id,
            names.TOKEN_KMS_KEY_ID: data.token_key.key.key_id,
            names.TILES_SIGNING_KMS_KEY_ID: data.tiles_key.key.key_id,
            names.TILES_KEY_PAIR_ID: content.tiles_public_key.public_key_id,
            names.OAUTH_CREDENTIALS_SECRET_ARN: data.oauth_secret.secret.secret_arn,
            names.SYNC_LAMBDA_FUNCTION_NAME: sync_function_name,
            names.CLOUDFRONT_DISTRIBUTION_ID: site.distribution.distribution_id,
            names.SITE_URL: site.url,
            names.INTERVALS_URL: settings.intervals_url,
            names.TIPPECANOE_ARGS: settings.tippecanoe_args,
            names.JWT_LIFETIME_SECONDS: str(settings.jwt_lifetime_seconds),
        }

        def function(
            spec_id: str,
            spec: FunctionSpec,
            extra_layers: list[lambda_.ILayerVersion],
            reserved_concurrency: int | None = None,
        ) -> RidelinesFunction:
            return RidelinesFunction(
                self,
                spec_id,
                settings=settings,
                spec=spec,
                environment=environment,
                layers=[layers.dependencies, *extra_layers],
                reserved_concurrency=reserved_concurrency,
            )

        auth = function("Auth", AUTH, [])
        user = function("User", USER, [])
        sync = function("Sync", SYNC, [layers.tippecanoe], settings.sync_reserved_concurrency)

        AuthAccess(
            self,
            "AuthAccess",
            role=auth.role,
            users=tables.users,
            oauth_state=tables.oauth_state,
            jwt_key=data.jwt_key.key,
            token_key=data.token_key.key,
            tiles_key=data.tiles_key.key,
            oauth_secret=data.oauth_secret.secret,
        )
        UserAccess(
            self,
            "UserAccess",
            role=user.role,
            users=tables.users,
            syncs=tables.syncs,
            bucket_arn_export=storage.data_bucket_arn_export,
            token_key=data.token_key.key,
            tiles_key=data.tiles_key.key,
            distribution_arn=site.distribution_arn,
            sync_function_name=sync_function_name,
        )
        SyncAccess(
            self,
            "SyncAccess",
            role=sync.role,
            users=tables.users,
            syncs=tables.syncs,
            bucket_arn_export=storage.data_bucket_arn_export,
            token_key=data.token_key.key,
            sync_function_name=sync_function_name,
        )

        http_api.add_routes(auth=auth.function, user=user.function, site_url=site.url)

        failures = SyncFailureQueue(self, "SyncFailures", settings=settings)
        failures.attach(sync.function)

        alarms = Alarms(self, "Alarms", settings=settings)
        for spec, fn in ((AUTH, auth), (USER, user), (SYNC, sync)):
            alarms.watch_function(spec.key, fn.function)
        alarms.watch_dead_letters(failures.queue)
        alarms.watch_failed_syncs(sync_service_name=SYNC.key)
        alarms.watch_api(http_api.stage, http_api.access_logs)
        if settings.name == "prod" and not settings.alarm_email:
            Annotations.of(self).add_warning_v2(
                ALARM_EMAIL_WARNING,
                "alarm_email is empty: prod alarms reach no one. Set ridelines.prod.alarm_email in cdk.json "
                "(or -c alarm_email=ops@your.domain) and confirm the SNS subscription email.",
            )

        CfnOutput(self, "SiteUrl", value=site.url, description="Open this after deploy")
        CfnOutput(
            self,
            "OAuthRedirectUri",
            value=f"{site.url}/auth/callback",
            description="Register this redirect URI with your intervals.icu OAuth client",
        )
        CfnOutput(self, "DistributionId", value=site.distribution.distribution_id)
