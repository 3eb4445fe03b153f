"""The HTTP API: public ``/auth/*`` routes, ``/api/*`` routes behind API Gateway's JWT authorizer."""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ridelines.settings import JWT_AUDIENCE
from stacks.nag import acknowledge
from stacks.settings import PROJECT, EnvironmentSettings

GET, POST, DELETE = apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST, apigwv2.HttpMethod.DELETE

PUBLIC_ROUTES = (
    ("/auth/login", GET),
    ("/auth/callback", GET),
    ("/auth/logout", POST),  # verifies the session cookie itself (the cookie is not the authorizer's source)
    ("/auth/.well-known/openid-configuration", GET),
    ("/auth/.well-known/jwks.json", GET),
)
PROTECTED_ROUTES = (
    ("/api/user", GET),
    ("/api/user", DELETE),
    ("/api/sync", POST),
    ("/api/sync", GET),
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """IAccessLogSettings is a jsii interface (no struct class): this is its value object."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat | None:
        return None  # CDK's default JSON format: requestId, ip, routeKey, status, latency...


class RidelinesHttpApi(Construct):
    """Created first so the Lambdas can be told its URL; :meth:`add_routes` wires them in after."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{PROJECT}-{settings.name}",
            description=f"Ridelines {settings.name}: login (/auth) and the user API (/api)",
            create_default_stage=False,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=[settings.frontend_url],
                allow_methods=[
                    apigwv2.CorsHttpMethod.GET,
                    apigwv2.CorsHttpMethod.POST,
                    apigwv2.CorsHttpMethod.DELETE,
                    apigwv2.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["Authorization", "Content-Type"],
                max_age=Duration.hours(1),
            ),
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=settings.log_retention, removal_policy=settings.removal_policy
        )
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(self.access_logs)),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.api_throttle_rate, burst_limit=settings.api_throttle_burst
            ),
        )
        # The base URL handlers build links with: https://{api-id}.execute-api.{region}.amazonaws.com
        self.url = self.api.api_endpoint
        self.issuer = f"{self.url}/auth"
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer",
            jwt_issuer=self.issuer,
            jwt_audience=[JWT_AUDIENCE],
            identity_source=["$request.header.Authorization"],
        )

    def add_routes(self, *, auth: lambda_.IFunction, user: lambda_.IFunction) -> None:
        auth_integration = integrations.HttpLambdaIntegration("AuthIntegration", auth)
        user_integration = integrations.HttpLambdaIntegration("UserIntegration", user)
        for path, method in PUBLIC_ROUTES:
            for route in self.api.add_routes(path=path, methods=[method], integration=auth_integration):
                acknowledge(
                    route,
                    "APIG4",
                    f"{method.value} {path} is how a session starts or is verified (OAuth login/callback, "
                    "OIDC discovery, JWKS): it must be callable without a token, so it has no authorizer.",
                )
        for path, method in PROTECTED_ROUTES:
            self.api.add_routes(
                path=path, methods=[method], integration=user_integration, authorizer=self.authorizer
            )
