"""The intervals.icu OAuth client (id + secret) in Secrets Manager; its value is never in code."""

from __future__ import annotations

import json

from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge
from stacks.settings import PROJECT, EnvironmentSettings

PLACEHOLDER_CLIENT_ID = "set-me"


class OAuthClientSecret(Construct):
    """JSON ``{"client_id": ..., "client_secret": ...}``.

    The stack creates it with a placeholder id and a random secret so nothing real is ever in a
    template; the operator then writes the real pair once:
    ``aws secretsmanager put-secret-value --secret-id <OAuthClientSecretArn output> --secret-string
    '{"client_id":"...","client_secret":"..."}'``. Later deploys do not overwrite it (CloudFormation
    only generates the value on creation).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            secret_name=f"{PROJECT}/{settings.name}/intervals-oauth-client",
            description="intervals.icu OAuth client: JSON {client_id, client_secret}; set by the operator",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"client_id": PLACEHOLDER_CLIENT_ID}),
                generate_string_key="client_secret",
                exclude_punctuation=True,
            ),
            removal_policy=settings.removal_policy,
        )
        cfn = self.secret.node.default_child
        assert isinstance(cfn, secretsmanager.CfnSecret)
        cfn.override_logical_id("OAuthClientSecret")
        acknowledge(
            self.secret,
            "SMG4",
            "The OAuth client id/secret are issued by intervals.icu and can only be re-issued there by "
            "hand; no rotation Lambda can rotate them. The operator replaces the value when they do.",
        )
