from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


DATA = "Ridelines-dev-Data"
API = "Ridelines-dev-Api"


def templates() -> dict[str, Any]:
    data = {
        "Resources": {
            "UsersTable0A1B": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [{"AttributeName": "athlete_id", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "athlete_id", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
            },
            "OAuthStateTableC2D3": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "ridelines-dev-oauth-state",
                    "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "state", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                },
            },
            "DataBucketE3F4": {"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {}}},
            "JwtKey5A6B": {
                "Type": "AWS::KMS::Key",
                "Properties": {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "KeyPolicy": {}},
            },
            "JwtKeyAlias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/ridelines-dev-jwt", "TargetKeyId": {"Ref": "JwtKey5A6B"}},
            },
            "TokenKey7C8D": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}},
            "TilesKey1F2E": {
                "Type": "AWS::KMS::Key",
                "Properties": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "KeyPolicy": {}},
            },
            "OAuthSecret9E0F": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"Name": "ridelines/dev/oauth"},
            },
            "SomeRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        },
        "Outputs": {
            "ExportsOutputRefUsersTable": {
                "Value": {"Ref": "UsersTable0A1B"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefUsersTable"},
            },
            "ExportsOutputRefDataBucket": {
                "Value": {"Ref": "DataBucketE3F4"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:ExportsOutputRefDataBucket"}},
            },
            "ExportsOutputRefJwtKey": {
                "Value": {"Ref": "JwtKey5A6B"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefJwtKey"},
            },
            "ExportsOutputRefTilesKey": {
                "Value": {"Ref": "TilesKey1F2E"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefTilesKey"},
            },
            "ExportsOutputRefTokenKey": {
                "Value": {"Ref": "TokenKey7C8D"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefTokenKey"},
            },
            "ExportsOutputRefSecret": {
                "Value": {"Ref": "OAuthSecret9E0F"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefSecret"},
            },
            "ExportsOutputRefStateTable": {
                "Value": {"Ref": "OAuthStateTableC2D3"},
                "Export": {"Name": f"{DATA}:ExportsOutputRefStateTable"},
            },
        },
    }

    def imported(name: str) -> dict[str, Any]:
        return {"Fn::ImportValue": f"{DATA}:{name}"}

    site_url = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["SiteDistribution", "DomainName"]}]]}
    common = {
        "USERS_TABLE_NAME": imported("ExportsOutputRefUsersTable"),
        "S3_BUCKET": imported("ExportsOutputRefDataBucket"),
        "SITE_URL": site_url,
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }

    def function(
        handler: str, timeout: int, extra: dict[str, Any], reserved_concurrency: int | None = None
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "Handler": handler,
            "FunctionName": f"ridelines-dev-{handler.split('.')[0]}",
            "Timeout": timeout,
            "Environment": {"Variables": {**common, **extra}},
        }
        if reserved_concurrency is not None:
            properties["ReservedConcurrentExecutions"] = reserved_concurrency
        return {"Type": "AWS::Lambda::Function", "Properties": properties}

    def integration(fn: str) -> dict[str, Any]:
        return {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": {"Ref": "HttpApiF5A9"},
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": [fn, "Arn"]},
                "PayloadFormatVersion": "2.0",
            },
        }

    def route(key: str, integ: str, jwt: bool) -> dict[str, Any]:
        props: dict[str, Any] = {
            "ApiId": {"Ref": "HttpApiF5A9"},
            "RouteKey": key,
            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": integ}]]},
            "AuthorizationType": "JWT" if jwt else "NONE",
        }
        if jwt:
            props["AuthorizerId"] = {"Ref": "JwtAuthorizer1234"}
        return {"Type": "AWS::ApiGatewayV2::Route", "Properties": props}

    api = {
        "Resources": {
            "HttpApiF5A9": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}},
            "TilesPublicKey": {"Type": "AWS::CloudFront::PublicKey", "Properties": {}},
            "TilesKeyGroup": {"Type": "AWS::CloudFront::KeyGroup", "Properties": {}},
            "SessionCookieFunction": {"Type": "AWS::CloudFront::Function", "Properties": {}},
            "SiteHeaders": {"Type": "AWS::CloudFront::ResponseHeadersPolicy", "Properties": {}},
            "WellKnownDocuments": {"Type": "Custom::WellKnownDocuments", "Properties": {}},
            "AuthFunction": function(
                "auth.handler.lambda_handler",
                15,
                {
                    "OAUTH_STATE_TABLE_NAME": imported("ExportsOutputRefStateTable"),
                    "JWT_KMS_KEY_ID": imported("ExportsOutputRefJwtKey"),
                    "TOKEN_KMS_KEY_ID": imported("ExportsOutputRefTokenKey"),
                    "OAUTH_CREDENTIALS_SECRET_ARN": imported("ExportsOutputRefSecret"),
                    "TILES_SIGNING_KMS_KEY_ID": imported("ExportsOutputRefTilesKey"),
                    "TILES_KEY_PAIR_ID": {"Ref": "TilesPublicKey"},
                    "WELL_KNOWN_VERSION": {"Fn::GetAtt": ["WellKnownDocuments", "Version"]},
                },
            ),
            "UserFunction": function(
                "user.handler.lambda_handler",
                30,
                {"SYNC_LAMBDA_FUNCTION_NAME": "ridelines-dev-sync"},
            ),
            "SyncFunction": function(
                "sync.handler.lambda_handler",
                600,
                {"CLOUDFRONT_DISTRIBUTION_ID": {"Ref": "SiteDistribution"}},
                reserved_concurrency=3,
            ),
            "SiteDistribution": {"Type": "AWS::CloudFront::Distribution", "Properties": {}},
            "AuthIntegration": integration("AuthFunction"),
            "UserIntegration": integration("UserFunction"),
            "JwtAuthorizer1234": {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {
                    "ApiId": {"Ref": "HttpApiF5A9"},
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Audience": ["ridelines"],
                        "Issuer": {"Fn::Join": ["", [site_url, "/auth"]]},
                    },
                },
            },
            "AuthRoute": route("GET /auth/{proxy+}", "AuthIntegration", jwt=False),
            "UserRoute": route("ANY /api/{proxy+}", "UserIntegration", jwt=True),
            "UserGetRoute": route("GET /api/user", "UserIntegration", jwt=True),
        }
    }
    return {DATA: data, API: api}


@pytest.fixture
def cdk_templates() -> dict[str, Any]:
    """A two-stack template in the shape CDK synthesizes (cross-stack exports, Joins, GetAtts)."""
    return templates()
