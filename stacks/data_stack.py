"""Stateful data that outlives every deploy: tables, KMS keys, the OAuth client secret."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.constructs.keys import JwtSigningKey, TilesSigningKey, TokenEncryptionKey
from stacks.constructs.oauth_secret import OAuthClientSecret
from stacks.constructs.tables import Tables
from stacks.settings import EnvironmentSettings


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.tables = Tables(self, "Tables", settings=settings)
        self.jwt_key = JwtSigningKey(self, "JwtSigningKey", settings=settings)
        self.token_key = TokenEncryptionKey(self, "TokenEncryptionKey", settings=settings)
        self.tiles_key = TilesSigningKey(self, "TilesSigningKey", settings=settings)
        self.oauth_secret = OAuthClientSecret(self, "OAuthClient", settings=settings)
        CfnOutput(
            self,
            "OAuthClientSecretArn",
            value=self.oauth_secret.secret.secret_arn,
            description="Put the intervals.icu client id/secret here (aws secretsmanager put-secret-value)",
        )
