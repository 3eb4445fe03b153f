"""One Ridelines Lambda: ARM64, newest Python, JSON logs, X-Ray, its own role and log group."""

from __future__ import annotations

from aws_cdk import IgnoreMode
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.nag import acknowledge
from stacks.settings import (
    ARCHITECTURE,
    LAMBDAS_DIR,
    METRICS_NAMESPACE,
    PYTHON_RUNTIME,
    EnvironmentSettings,
    FunctionSpec,
)

# lambdas/ holds only what ships (laptop-only code lives in local/); these are build leftovers.
_BUILD_LEFTOVERS = ["__pycache__/", "*.pyc", "*.egg-info/", ".pytest_cache/"]


class RidelinesFunction(Construct):
    """The code asset is ``lambdas/``: the domain package and the three thin handler folders, one asset
    shared by every function (each runs only its own handler)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        spec: FunctionSpec,
        environment: dict[str, str],
        layers: list[lambda_.ILayerVersion],
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function_name = settings.function_name(spec)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{self.function_name}",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        # An explicit role with no managed policies: each grant below and in the stack is visible.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Ridelines {settings.name} {spec.key} Lambda (least privilege)",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=f"Ridelines {settings.name}: {spec.key}",
            runtime=PYTHON_RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=lambda_.Code.from_asset(
                str(LAMBDAS_DIR),
                exclude=_BUILD_LEFTOVERS,
                ignore_mode=IgnoreMode.GIT,
            ),
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            ephemeral_storage_size=spec.ephemeral_storage,
            role=self.role,
            layers=layers,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": spec.key,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": settings.log_level,
            },
        )
        # CDK adds DependsOn on the role although Role is already a GetAtt (cfn-lint W3005); keep only
        # the policy dependency, which is what makes the permissions exist before the function runs.
        cfn_function = self.function.node.default_child
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        assert isinstance(cfn_function, lambda_.CfnFunction) and isinstance(default_policy, iam.Policy)
        cfn_policy = default_policy.node.default_child
        assert isinstance(cfn_policy, iam.CfnPolicy)
        cfn_function.add_override("DependsOn", [cfn_policy.logical_id])
        acknowledge(
            self.role,
            "IAM5",
            "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
            "resource-level permissions, so AWS requires Resource '*' for them (added by CDK).",
            finding="Resource::*",
        )
