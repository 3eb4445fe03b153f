"""The three DynamoDB tables (DESIGN §3.4); key names are a contract with the storage adapters."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.settings import EnvironmentSettings

USERS_KEY = "athlete_id"
OAUTH_STATE_KEY = "state"
OAUTH_STATE_TTL_ATTRIBUTE = "expires_at"
SYNCS_KEY = "athlete_id"


class Tables(Construct):
    """users (athlete_id), oauth-state (state, TTL expires_at), syncs (athlete_id)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.users = self._table("UsersTable", USERS_KEY, settings)
        self.oauth_state = self._table(
            "OAuthStateTable", OAUTH_STATE_KEY, settings, ttl_attribute=OAUTH_STATE_TTL_ATTRIBUTE
        )
        self.syncs = self._table("SyncsTable", SYNCS_KEY, settings)

    def _table(
        self,
        logical_id: str,
        partition_key: str,
        settings: EnvironmentSettings,
        *,
        ttl_attribute: str | None = None,
    ) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            logical_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=ttl_attribute,
            deletion_protection=settings.retain_data,
            removal_policy=settings.removal_policy,
        )
        # Stable logical ids: a refactor of construct paths must never replace a table holding data,
        # and the local stack finds the tables by these ids in the synthesized template.
        cfn = table.node.default_child
        assert isinstance(cfn, dynamodb.CfnTable)
        cfn.override_logical_id(logical_id)
        return table
