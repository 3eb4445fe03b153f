"""Create in the emulator every table, bucket, key and secret the synthesized stacks declare.

The templates are the single source of truth: table keys and TTL, key specs, bucket and secret
names all come from them, and each Lambda's environment is the template's, with references
resolved to the emulated resources. The API's routes, integrations and JWT authorizer are read
from the same templates so the local gateway routes exactly like API Gateway.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ridelines_local.localstack.cfn import Physical, Resolver, Template, UnresolvedReference, resources

logger = logging.getLogger(__name__)

# The id the local stack gives the tiles cookies' public key (the CloudFront-Key-Pair-Id value).
LOCAL_TILES_KEY_PAIR_ID = "KLOCALTILESKEY"
CLOUDFRONT_STAND_INS = frozenset(
    {
        "AWS::CloudFront::PublicKey",
        "AWS::CloudFront::KeyGroup",
        "AWS::CloudFront::Function",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "AWS::CloudFront::CachePolicy",
        "AWS::CloudFront::OriginRequestPolicy",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::CloudFrontOriginAccessIdentity",
    }
)


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    name: str
    handler: str  # e.g. "auth.handler.lambda_handler"
    timeout_seconds: int
    environment: dict[str, str]
    unresolved: tuple[str, ...] = ()  # variables the local stack could not resolve (logged)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions; None: the unreserved pool


@dataclass(frozen=True)
class JwtAuthorizerConfig:
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class RouteConfig:
    route_key: str  # "GET /api/user", "ANY /auth/{proxy+}", "$default"
    handler: str  # the Lambda handler the integration points at
    authorizer: JwtAuthorizerConfig | None


@dataclass
class LocalResources:
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    buckets: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> key id
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    queues: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionConfig] = field(default_factory=dict)  # handler -> config
    routes: list[RouteConfig] = field(default_factory=list)
    cors: dict[str, Any] | None = None

    def function(self, handler: str) -> FunctionConfig:
        try:
            return self.functions[handler]
        except KeyError:
            raise UnresolvedReference(f"the stacks declare no Lambda with handler {handler}") from None


def _physical_name(stack: str, logical_id: str, *, max_len: int = 63) -> str:
    # CloudFormation generates names like "<stack>-<logicalid>-<suffix>"; readable and unique is enough here.
    name = re.sub(r"[^a-z0-9-]", "-", f"{stack}-{logical_id}".lower()).strip("-")
    return name[:max_len].rstrip("-")


class Provisioner:
    """Creates the resources through boto3 clients pointed at the emulator."""

    def __init__(
        self, templates: Mapping[str, Template], *, clients: Mapping[str, Any], region: str, site_url: str
    ) -> None:
        self.templates = templates
        self.clients = clients
        self.region = region
        self.site_url = site_url.rstrip("/")
        self.resolver = Resolver(templates, region)
        self.account = self.resolver.pseudo["AWS::AccountId"]

    def provision(self, secret_values: Mapping[str, str]) -> LocalResources:
        out = LocalResources()
        self._register_passive()
        for r in resources(self.templates, "AWS::KMS::Key"):
            key_id = self._create_key(r.properties)
            arn = f"arn:aws:kms:{self.region}:{self.account}:key/{key_id}"
            self.resolver.register(r.stack, r.logical_id, Physical(key_id, {"Arn": arn, "KeyId": key_id}))
            out.keys[r.logical_id] = key_id
        for r in resources(self.templates, "AWS::KMS::Alias"):
            alias = self.resolver.resolve(r.properties["AliasName"], r.stack)
            target = self.resolver.resolve(r.properties["TargetKeyId"], r.stack)
            self.clients["kms"].create_alias(AliasName=alias, TargetKeyId=target)
            self.resolver.register(r.stack, r.logical_id, Physical(alias))
        for r in resources(self.templates, "AWS::DynamoDB::Table"):
            name = self._create_table(r.stack, r.logical_id, r.properties)
            arn = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"
            self.resolver.register(r.stack, r.logical_id, Physical(name, {"Arn": arn, "StreamArn": None}))
            out.tables[r.logical_id] = name
        for r in resources(self.templates, "AWS::S3::Bucket"):
            name = self._create_bucket(r.stack, r.logical_id, r.properties)
            self.resolver.register(
                r.stack,
                r.logical_id,
                Physical(
                    name,
                    {
                        "Arn": f"arn:aws:s3:::{name}",
                        "DomainName": f"{name}.s3.amazonaws.com",
                        "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
                    },
                ),
            )
            out.buckets[r.logical_id] = name
        for r in resources(self.templates, "AWS::SecretsManager::Secret"):
            name = self.resolver.resolve(r.properties.get("Name"), r.stack) or _physical_name(
                r.stack, r.logical_id
            )
            arn = self.clients["secretsmanager"].create_secret(
                Name=name, SecretString=json.dumps(dict(secret_values))
            )["ARN"]
            self.resolver.register(r.stack, r.logical_id, Physical(arn, {"Id": arn}))
            out.secrets[r.logical_id] = arn
        for r in resources(self.templates, "AWS::SQS::Queue"):
            name = self.resolver.resolve(r.properties.get("QueueName"), r.stack) or _physical_name(
                r.stack, r.logical_id, max_len=80
            )
            url = self.clients["sqs"].create_queue(QueueName=name)["QueueUrl"]
            arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
            self.resolver.register(r.stack, r.logical_id, Physical(url, {"Arn": arn, "QueueName": name}))
            out.queues[r.logical_id] = url
        self._register_functions(out)
        self._read_api(out)
        return out

    # -- resources that need no emulation, only names for references --------------------------
    def _register_passive(self) -> None:
        for r in resources(self.templates):
            if r.type == "AWS::Lambda::Function":
                name = self.resolver.resolve(r.properties.get("FunctionName"), r.stack) or _physical_name(
                    r.stack, r.logical_id
                )
                arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
                self.resolver.register(r.stack, r.logical_id, Physical(name, {"Arn": arn}))
            elif r.type == "AWS::ApiGatewayV2::Api":
                self.resolver.register(
                    r.stack, r.logical_id, Physical("local", {"ApiEndpoint": self.site_url, "ApiId": "local"})
                )
            elif r.type in ("AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer"):
                self.resolver.register(r.stack, r.logical_id, Physical(r.logical_id))
            elif r.type == "AWS::CloudFront::Distribution":
                # No CDN locally: the local origin is the distribution; invalidation is a no-op.
                host = self.site_url.split("://", 1)[-1]
                self.resolver.register(r.stack, r.logical_id, Physical("", {"DomainName": host, "Id": ""}))
            elif r.type in CLOUDFRONT_STAND_INS:
                # CloudFront-only parts (key group, function, policies): the local origin does their job;
                # references resolve to local ids. The tiles public key's id is the local key pair id.
                ref = (
                    LOCAL_TILES_KEY_PAIR_ID
                    if r.type == "AWS::CloudFront::PublicKey"
                    else f"local-{r.logical_id}"
                )
                self.resolver.register(r.stack, r.logical_id, Physical(ref, {"Id": ref, "FunctionARN": ref}))
            elif r.type.startswith("Custom::") or r.type == "AWS::CloudFormation::CustomResource":
                # Deploy-time helpers (e.g. writing the static .well-known documents): the local auth
                # Lambda answers those routes itself. Their attributes are not emulated.
                self.resolver.register(r.stack, r.logical_id, Physical(f"local-{r.logical_id}"))
            elif r.type == "AWS::SNS::Topic":
                arn = f"arn:aws:sns:{self.region}:{self.account}:{_physical_name(r.stack, r.logical_id)}"
                self.resolver.register(r.stack, r.logical_id, Physical(arn, {"TopicArn": arn}))
            elif r.type == "AWS::IAM::Role":
                name = _physical_name(r.stack, r.logical_id)
                arn = f"arn:aws:iam::{self.account}:role/{name}"
                self.resolver.register(r.stack, r.logical_id, Physical(name, {"Arn": arn}))

    # -- emulated resources -------------------------------------------------------------------
    def _create_key(self, props: Mapping[str, Any]) -> str:
        kwargs = {k: props[k] for k in ("KeySpec", "KeyUsage", "Description") if props.get(k)}
        return str(self.clients["kms"].create_key(**kwargs)["KeyMetadata"]["KeyId"])

    def _create_table(self, stack: str, logical_id: str, props: Mapping[str, Any]) -> str:
        name = self.resolver.resolve(props.get("TableName"), stack) or _physical_name(
            stack, logical_id, max_len=255
        )
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
        }
        if props.get("BillingMode") == "PAY_PER_REQUEST" or "ProvisionedThroughput" not in props:
            kwargs["BillingMode"] = "PAY_PER_REQUEST"
        else:
            kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(index_kind):
                kwargs[index_kind] = [
                    {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                    for index in props[index_kind]
                ]
        client = self.clients["dynamodb"]
        client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled", True):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        return str(name)

    def _create_bucket(self, stack: str, logical_id: str, props: Mapping[str, Any]) -> str:
        name = self.resolver.resolve(props.get("BucketName"), stack) or _physical_name(stack, logical_id)
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.clients["s3"].create_bucket(**kwargs)
        return str(name)

    # -- functions and API ----------------------------------------------------------------------
    def _register_functions(self, out: LocalResources) -> None:
        for r in resources(self.templates, "AWS::Lambda::Function"):
            handler = str(r.properties.get("Handler", ""))
            if not handler:
                continue  # CDK's own helper functions (custom resources) are inline code
            env: dict[str, str] = {}
            unresolved: list[str] = []
            variables = (r.properties.get("Environment") or {}).get("Variables") or {}
            for key, raw in variables.items():
                try:
                    value = self.resolver.resolve(raw, r.stack)
                except UnresolvedReference as exc:
                    logger.warning("local stack: %s: %s left unset (%s)", handler, key, exc)
                    unresolved.append(key)
                    continue
                if value is not None:
                    env[key] = str(value)
            name = self.resolver.physical[(r.stack, r.logical_id)].ref or r.logical_id
            out.functions[handler] = FunctionConfig(
                logical_id=r.logical_id,
                name=name,
                handler=handler,
                timeout_seconds=int(r.properties.get("Timeout", 3)),
                environment=env,
                unresolved=tuple(unresolved),
                reserved_concurrency=_optional_int(r.properties.get("ReservedConcurrentExecutions")),
            )

    def _read_api(self, out: LocalResources) -> None:
        arn_to_handler = {
            str(self.resolver.physical[(r.stack, r.logical_id)].attributes["Arn"]): str(
                r.properties.get("Handler")
            )
            for r in resources(self.templates, "AWS::Lambda::Function")
        }
        integrations: dict[str, str] = {}
        for r in resources(self.templates, "AWS::ApiGatewayV2::Integration"):
            uri = str(self.resolver.resolve(r.properties.get("IntegrationUri"), r.stack))
            # A function ARN, possibly inside ".../functions/<arn>/invocations" or with a ":alias".
            handler = next(
                (h for arn, h in arn_to_handler.items() if re.search(re.escape(arn) + r"(?=$|[/:])", uri)),
                None,
            )
            if handler is None:
                raise UnresolvedReference(f"integration {r.logical_id} targets {uri}, not a stack Lambda")
            integrations[r.logical_id] = handler
        authorizers: dict[str, JwtAuthorizerConfig] = {}
        for r in resources(self.templates, "AWS::ApiGatewayV2::Authorizer"):
            if r.properties.get("AuthorizerType") != "JWT":
                raise UnresolvedReference(f"authorizer {r.logical_id}: only JWT authorizers are emulated")
            jwt = r.properties["JwtConfiguration"]
            sources = r.properties.get("IdentitySource") or ["$request.header.Authorization"]
            authorizers[r.logical_id] = JwtAuthorizerConfig(
                issuer=str(self.resolver.resolve(jwt["Issuer"], r.stack)),
                audience=tuple(str(a) for a in self.resolver.resolve(jwt.get("Audience") or [], r.stack)),
                identity_source=str(sources[0]),
            )
        for r in resources(self.templates, "AWS::ApiGatewayV2::Route"):
            target = str(self.resolver.resolve(r.properties.get("Target", ""), r.stack))
            integration = target.removeprefix("integrations/")
            authorizer = None
            if r.properties.get("AuthorizationType", "NONE") == "JWT":
                authorizer = authorizers[str(self.resolver.resolve(r.properties["AuthorizerId"], r.stack))]
            out.routes.append(
                RouteConfig(str(r.properties["RouteKey"]), integrations[integration], authorizer)
            )
        for r in resources(self.templates, "AWS::ApiGatewayV2::Api"):
            if r.properties.get("CorsConfiguration"):
                out.cors = dict(r.properties["CorsConfiguration"])


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
