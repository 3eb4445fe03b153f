"""Where failed asynchronous sync invocations go: an encrypted, TLS-only SQS dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge
from stacks.settings import EnvironmentSettings


class SyncFailureQueue(Construct):
    """Keeps the event of every sync that failed after Lambda's retries (14 days, for replay)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=settings.removal_policy,
        )
        acknowledge(
            self.queue,
            "SQS3",
            "This queue is itself the dead-letter destination of the sync Lambda's failed async "
            "invocations; a DLQ of the DLQ would only hide the messages the alarm watches.",
        )

    def attach(self, function: lambda_.IFunction) -> None:
        """Route async failures of ``function`` here (one retry: a sync is idempotent but costly)."""
        lambda_.EventInvokeConfig(
            self,
            "SyncInvokeConfig",
            function=function,
            on_failure=destinations.SqsDestination(self.queue),
            retry_attempts=1,
            max_event_age=Duration.hours(6),
        )
