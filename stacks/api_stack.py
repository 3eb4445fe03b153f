"""The stateless application: layers, the three Lambdas, the HTTP API, the DLQ and the alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ridelines import settings as names
from stacks.constructs.access import AuthAccess, SyncAccess, UserAccess
from stacks.constructs.alarms import Alarms
from stacks.constructs.function import RidelinesFunction
from stacks.constructs.http_api import RidelinesHttpApi
from stacks.constructs.lambda_layers import LambdaLayers
from stacks.constructs.sync_failures import SyncFailureQueue
from stacks.data_stack import DataStack
from stacks.settings import AUTH, SYNC, USER, EnvironmentSettings, FunctionSpec
from stacks.storage_stack import StorageStack


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
        distribution = storage.tiles.distribution

        # One environment for all three: names of non-secret resources only (no secret values),
        # so every handler's settings model finds what it expects; IAM decides what each may touch.
        environment = {
            names.USERS_TABLE_NAME: tables.users.table_name,
            names.OAUTH_STATE_TABLE_NAME: tables.oauth_state.table_name,
            names.SYNC_TABLE_NAME: tables.syncs.table_name,
            names.S3_BUCKET: bucket.bucket_name,
            names.JWT_KMS_KEY_ID: data.jwt_key.key.key_id,
            names.TOKEN_KMS_KEY_ID: data.token_key.key.key_id,
            names.OAUTH_CREDENTIALS_SECRET_ARN: data.oauth_secret.secret.secret_arn,
            names.SYNC_LAMBDA_FUNCTION_NAME: sync_function_name,
            names.CLOUDFRONT_DISTRIBUTION_ID: distribution.distribution_id,
            names.FRONTEND_URL: settings.frontend_url,
            names.API_URL: http_api.url,
            names.TILES_BASE_URL: storage.tiles.tiles_base_url,
            names.INTERVALS_URL: settings.intervals_url,
            names.TIPPECANOE_ARGS: settings.tippecanoe_args,
            names.JWT_LIFETIME_SECONDS: str(settings.jwt_lifetime_seconds),
        }

        def function(
            spec_id: str, spec: FunctionSpec, extra_layers: list[lambda_.ILayerVersion]
        ) -> RidelinesFunction:
            return RidelinesFunction(
                self,
                spec_id,
                settings=settings,
                spec=spec,
                environment=environment,
                layers=[layers.dependencies, *extra_layers],
            )

        auth = function("Auth", AUTH, [])
        user = function("User", USER, [])
        sync = function("Sync", SYNC, [layers.tippecanoe])

        AuthAccess(
            self,
            "AuthAccess",
            role=auth.role,
            users=tables.users,
            oauth_state=tables.oauth_state,
            jwt_key=data.jwt_key.key,
            token_key=data.token_key.key,
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
            distribution_arn=storage.tiles.distribution_arn,
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
            distribution_arn=storage.tiles.distribution_arn,
            sync_function_name=sync_function_name,
        )

        http_api.add_routes(auth=auth.function, user=user.function)

        failures = SyncFailureQueue(self, "SyncFailures", settings=settings)
        failures.attach(sync.function)

        alarms = Alarms(self, "Alarms", settings=settings)
        for spec, fn in ((AUTH, auth), (USER, user), (SYNC, sync)):
            alarms.watch_function(spec.key, fn.function)
        alarms.watch_dead_letters(failures.queue)
        alarms.watch_failed_syncs(sync_service_name=SYNC.key)

        CfnOutput(self, "ApiUrl", value=http_api.url)
