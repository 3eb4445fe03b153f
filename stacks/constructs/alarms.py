"""Alarms on what needs a human: Lambda errors/throttles, dead-lettered and failed syncs, API 5xx, 401 bursts."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.settings import METRICS_NAMESPACE, SYNC_FAILED_METRIC, EnvironmentSettings

PERIOD = Duration.minutes(5)
# Counted from the HTTP API's access log (API Gateway has no per-status metric below 4xx/5xx).
UNAUTHORIZED_METRIC = "api.unauthorized"


class Alarms(Construct):
    """An encrypted SNS topic (email subscription when ``alarm_email`` is set) and the alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key; a key of our own can
        # grant it exactly the two actions it needs.
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"Ridelines {settings.name}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=settings.removal_policy,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchPublishesAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Ridelines {settings.name} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self._action = cw_actions.SnsAction(self.topic)

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: int = 1
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        return alarm

    def watch_function(self, key: str, function: lambda_.IFunction) -> None:
        self._alarm(
            f"{key.capitalize()}Errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            f"The {key} Lambda raised errors (see its JSON logs / X-Ray traces).",
        )
        self._alarm(
            f"{key.capitalize()}Throttles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            f"The {key} Lambda was throttled (account or reserved concurrency exhausted).",
        )

    def watch_dead_letters(self, queue: sqs.IQueue) -> None:
        self._alarm(
            "SyncDeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            "A sync invocation failed after its retries; its event is in the dead-letter queue.",
        )

    def watch_failed_syncs(self, sync_service_name: str) -> None:
        metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=SYNC_FAILED_METRIC,
            dimensions_map={"service": sync_service_name},
            period=PERIOD,
            statistic="Sum",
        )
        self._alarm(
            "FailedSyncs", metric, "A sync ended in status 'failed' (EMF metric from the sync Lambda)."
        )

    def watch_api(self, stage: apigwv2.HttpStage, access_logs: logs.ILogGroup) -> None:
        """Any 5xx (a Lambda crashed or timed out), and a burst of 401s (the authorizer cannot verify
        sessions: e.g. the JWKS unreachable or a key mismatch after a rotation)."""
        self._alarm(
            "Api5xx",
            stage.metric_server_error(period=PERIOD, statistic="Sum"),
            "The HTTP API answered 5xx (see the access log's integrationError / the Lambda's logs).",
        )
        logs.MetricFilter(
            self,
            "UnauthorizedFilter",
            log_group=access_logs,
            metric_namespace=METRICS_NAMESPACE,
            metric_name=UNAUTHORIZED_METRIC,
            filter_pattern=logs.FilterPattern.string_value("$.status", "=", "401"),
            metric_value="1",
        )
        self._alarm(
            "Unauthorized401Burst",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE, metric_name=UNAUTHORIZED_METRIC, period=PERIOD, statistic="Sum"
            ),
            "A burst of 401s: the JWT authorizer refuses sessions (check authorizerError in the access log, "
            "the /auth/.well-known documents and the signing key).",
            threshold=self.settings.unauthorized_alarm_threshold,
        )
