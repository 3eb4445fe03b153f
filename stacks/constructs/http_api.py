"""The HTTP API: public ``/auth/*`` routes, ``/api/*`` routes behind API Gateway's JWT authorizer.

Riders reach it only through the site's distribution (same origin as the app: no CORS); its issuer is
``{SITE_URL}/auth``, so the authorizer is made once the distribution (which points at this API) exists.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Stack
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

GET, POST, PUT, DELETE = (
    apigwv2.HttpMethod.GET,
    apigwv2.HttpMethod.POST,
    apigwv2.HttpMethod.PUT,
    apigwv2.HttpMethod.DELETE,
)

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
    ("/api/user/privacy", GET),
    ("/api/user/privacy", PUT),
    ("/api/user/explorer", GET),
    ("/api/user/export", GET),
    ("/api/sync", POST),
    ("/api/sync", GET),
)

# HTTP API access log variables (not REST API ones): what answered, how, how fast, and why a JWT failed.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "errorMessage": "$context.error.message",
}


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
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")))


class RidelinesHttpApi(Construct):
    """Created first (the distribution points at it); :meth:`add_routes` wires the Lambdas in after."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{PROJECT}-{settings.name}",
            description=f"Ridelines {settings.name}: login (/auth) and the user API (/api)",
            create_default_stage=False,
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
        stack = Stack.of(self)
        # The distribution's origin: {api-id}.execute-api.{region}.amazonaws.com (from the Api alone, so
        # the distribution does not wait for routes, whose Lambdas need the distribution's domain).
        self.domain_name = f"{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    def add_routes(self, *, auth: lambda_.IFunction, user: lambda_.IFunction, site_url: str) -> None:
        """Routes per DESIGN §3.1; ``/api/*`` behind the JWT authorizer whose issuer is ``{site_url}/auth``."""
        self.issuer = f"{site_url}/auth"
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "JwtAuthorizer",
            jwt_issuer=self.issuer,
            jwt_audience=[JWT_AUDIENCE],
            identity_source=["$request.header.Authorization"],
        )
        auth_integration = integrations.HttpLambdaIntegration("AuthIntegration", auth)
        user_integration = integrations.HttpLambdaIntegration("UserIntegration", user)
        for path, method in PUBLIC_ROUTES:
            for route in self.api.add_routes(path=path, methods=[method], integration=auth_integration):
                acknowledge(
                    route,
                    "APIG4",
                    f"{method.value} {path} is how a session starts, ends or is verified (OAuth login/callback, "
                    "logout, OIDC discovery, JWKS): it must be callable without a token, so no authorizer.",
                )
        for path, method in PROTECTED_ROUTES:
            self.api.add_routes(
                path=path, methods=[method], integration=user_integration, authorizer=self.authorizer
            )
