"""Where failed asynchronous sync invocations go.

Lambda can send a failed async event both to a dead-letter queue and to an on-failure destination
(AWS: "destinations in addition to or instead of a dead-letter queue"), and the two jobs differ:
* the dead-letter queue keeps the event 14 days for replay, and its depth is what the alarm watches;
* the on-failure destination is the sync function itself: the invocation record it receives marks
  that sync ``failed`` with the reason (``ridelines.pipeline.gave_up``), so ``GET /api/sync`` says
  so at once. A failure of that small call ends there: its own record carries no sync event.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.access import function_arn
from stacks.nag import acknowledge
from stacks.settings import EnvironmentSettings


@jsii.implements(lambda_.IDestination)
class _ItselfByName:
    """The function as its own on-failure destination, by its ARN built from its name.

    CDK's ``LambdaDestination`` grants invoke on ``Fn::GetAtt Arn`` in the role's policy, which the
    function depends on: a cycle. The role already may invoke the function by its name-built ARN
    (``SyncAccess``: "ContinueFromCheckpoint"), and a destination is invoked with the role."""

    def __init__(self, function_name: str) -> None:
        self._function_name = function_name

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=function_arn(scope, self._function_name))


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

    def attach(self, function: lambda_.Function) -> None:
        """Route async failures of ``function`` to the queue and back to itself (one retry: a sync is
        idempotent but costly)."""
        cfn_function = function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.queue.queue_arn
        )
        self.queue.grant_send_messages(function)
        lambda_.EventInvokeConfig(
            self,
            "SyncInvokeConfig",
            function=function,
            on_failure=_ItselfByName(function.function_name),
            retry_attempts=1,
            max_event_age=Duration.hours(6),
        )
