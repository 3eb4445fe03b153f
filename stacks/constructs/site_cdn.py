"""The site: ONE CloudFront distribution per environment, the single origin a rider ever talks to.

Behaviours (DESIGN §3.1), most specific first:
- ``/auth/.well-known/*`` -> the web bucket: the static discovery document and JWKS (written at
  deploy), so API Gateway's JWT authorizer never waits for a cold Lambda;
- ``/auth/*`` and ``/api/*`` -> the HTTP API, never cached; a viewer-request CloudFront Function copies
  the session cookie into ``Authorization`` for ``/api/*``;
- ``/tiles/*`` -> the data bucket (OAC), only with the rider's signed cookies (trusted key group);
- default -> the web bucket (OAC): the app, its libraries and ``/config.json``.
Every answer carries the same security headers (CSP from ``ridelines.site.headers``).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, CfnRule, Duration, Fn, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from ridelines.site import headers
from stacks.constructs.data_bucket import CLOUDFRONT_LOG_PREFIX, TILES_PREFIX
from stacks.nag import acknowledge
from stacks.settings import EnvironmentSettings

SESSION_FUNCTION_CODE = Path(__file__).with_name("session_to_authorization.js")
# CDK would grant CloudFront s3:GetObject on the whole data bucket; the policy below grants tiles/* only.
_IMPORTED_BUCKET_POLICY_WARNING = "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac"


class SiteDistribution(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        web_bucket: s3.IBucket,
        data_bucket_name: str,
        data_bucket_regional_domain_name: str,
        api_domain_name: str,
        tiles_key_group: cloudfront.IKeyGroup,
        log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.response_headers = self._response_headers(settings)
        web = origins.S3BucketOrigin.with_origin_access_control(
            web_bucket, origin_access_levels=[cloudfront.AccessLevel.READ]
        )
        static = cloudfront.BehaviorOptions(
            origin=web,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,  # honours each object's Cache-Control
            response_headers_policy=self.response_headers,
            compress=True,
        )
        api = origins.HttpOrigin(api_domain_name, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY)
        self.session_function = cloudfront.Function(
            self,
            "SessionToAuthorization",
            comment="Copies the __Host-ridelines-session cookie into Authorization: Bearer for /api/*",
            code=cloudfront.FunctionCode.from_file(file_path=str(SESSION_FUNCTION_CODE)),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )

        def api_behaviour(*, with_session: bool) -> cloudfront.BehaviorOptions:
            return cloudfront.BehaviorOptions(
                origin=api,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                # Never cached. With caching disabled, the managed AllViewerExceptHostHeader policy
                # forwards every viewer header (Authorization included, also the one the function sets),
                # all cookies and query strings, but not Host: API Gateway answers only to its own.
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=self.response_headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.session_function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ]
                if with_session
                else None,
                compress=True,
            )

        tiles = cloudfront.BehaviorOptions(
            origin=self._tiles_origin(data_bucket_name, data_bucket_regional_domain_name, settings),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=self._immutable_tiles_cache_policy(),
            response_headers_policy=self.response_headers,
            # CloudFront checks the signed cookies at the edge before its cache: a copied URL alone is 403.
            trusted_key_groups=[tiles_key_group],
            # PMTiles are read by byte range (CloudFront serves ranges from S3 natively) and already
            # compressed: recompressing would break the ranges.
            compress=False,
        )
        domain = settings.site_domain
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Ridelines {settings.name} site",
            default_behavior=static,
            additional_behaviors={
                "/auth/.well-known/*": static,
                "/auth/*": api_behaviour(with_session=False),
                "/api/*": api_behaviour(with_session=True),
                f"/{TILES_PREFIX}*": tiles,
            },
            default_root_object="index.html",
            domain_names=[domain] if domain else None,
            certificate=acm.Certificate.from_certificate_arn(self, "Certificate", settings.certificate_arn)
            if domain
            else None,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if domain else None,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix=CLOUDFRONT_LOG_PREFIX,
            web_acl_id=self._web_acl_arn(settings),
        )
        self.distribution_arn = stack.format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        # The one origin: the custom domain when configured, else the distribution's own domain.
        self.url = f"https://{domain}" if domain else f"https://{self.distribution.distribution_domain_name}"
        self._data_bucket_policy(data_bucket_name)
        self._acknowledge(settings)

    # -- pieces ---------------------------------------------------------------------------------------
    def _response_headers(self, settings: EnvironmentSettings) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="CSP, HSTS, nosniff, no framing, no referrer: on every answer of the site",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=headers.content_security_policy(settings.basemap), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(headers.HSTS_MAX_AGE_SECONDS),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )

    def _tiles_origin(
        self, bucket_name: str, regional_domain_name: str, settings: EnvironmentSettings
    ) -> cloudfront.IOrigin:
        oac = cloudfront.S3OriginAccessControl(
            self,
            "TilesOriginAccessControl",
            description=f"Ridelines {settings.name}: CloudFront reads tiles/* (SigV4)",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )
        # A reference, not the bucket: CDK would add a bucket-wide GetObject; the policy below is tiles-only.
        bucket_ref = s3.Bucket.from_bucket_attributes(
            self, "DataBucketRef", bucket_name=bucket_name, bucket_regional_domain_name=regional_domain_name
        )
        Annotations.of(self).acknowledge_warning(
            _IMPORTED_BUCKET_POLICY_WARNING, "the data bucket's policy is written explicitly (tiles/* only)"
        )
        return origins.S3BucketOrigin.with_origin_access_control(
            bucket_ref, origin_access_control=oac, origin_access_levels=[cloudfront.AccessLevel.READ]
        )

    def _immutable_tiles_cache_policy(self) -> cloudfront.CachePolicy:
        return cloudfront.CachePolicy(
            self,
            "ImmutableTilesCachePolicy",
            comment="Content-hashed PMTiles: cached for a year, no cookies/query strings/headers in key",
            default_ttl=Duration.days(365),
            min_ttl=Duration.days(1),
            max_ttl=Duration.days(365),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )

    def _data_bucket_policy(self, bucket_name: str) -> None:
        """The data bucket's whole policy: TLS only, and this distribution reads tiles/* (nothing else)."""
        bucket_arn = f"arn:{Stack.of(self).partition}:s3:::{bucket_name}"
        document = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="TlsOnly",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:*"],
                    resources=[bucket_arn, f"{bucket_arn}/*"],
                    conditions={"Bool": {"aws:SecureTransport": "false"}},
                ),
                iam.PolicyStatement(
                    sid="CloudFrontReadsTilesOnly",
                    principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                    actions=["s3:GetObject"],
                    resources=[f"{bucket_arn}/{TILES_PREFIX}*"],
                    conditions={"StringEquals": {"AWS:SourceArn": self.distribution_arn}},
                ),
            ]
        )
        s3.CfnBucketPolicy(self, "DataBucketPolicy", bucket=bucket_name, policy_document=document)

    def _web_acl_arn(self, settings: EnvironmentSettings) -> str | None:
        """A given CLOUDFRONT-scope web ACL, or one made here with a per-IP rate rule (us-east-1 only)."""
        if settings.waf_web_acl_arn:
            return settings.waf_web_acl_arn
        if not settings.waf_rate_limit:
            return None
        acl = wafv2.CfnWebACL(
            self,
            "RateLimit",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("ridelines-site"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="per-ip-rate",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=settings.waf_rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_visibility("ridelines-per-ip-rate"),
                )
            ],
        )
        # A CLOUDFRONT-scope web ACL can only be created in us-east-1: fail the deploy early and plainly.
        CfnRule(
            self,
            "WafNeedsUsEast1",
            assertions=[
                {
                    "assert": Fn.condition_equals(Stack.of(self).region, "us-east-1"),
                    "assertDescription": "waf_rate_limit creates a CLOUDFRONT web ACL, which only us-east-1 "
                    "can hold: deploy in us-east-1 or create the ACL there and set waf_web_acl_arn",
                }
            ],
        )
        return acl.attr_arn

    def _acknowledge(self, settings: EnvironmentSettings) -> None:
        acknowledge(
            self.distribution,
            "CFR1",
            "Riders open their own map wherever they travel; geo restriction would lock them out and "
            "protects nothing: tiles need the owner's signed cookies, the API a valid session.",
        )
        if not (settings.waf_rate_limit or settings.waf_web_acl_arn):
            acknowledge(
                self.distribution,
                "CFR2",
                "WAF is a per-environment setting (waf_rate_limit / waf_web_acl_arn), off by default: the "
                "HTTP API throttles per stage and the JWT authorizer refuses unsigned calls before any Lambda.",
            )
        if not settings.site_domain:
            acknowledge(
                self.distribution,
                "CFR4",
                "Without a custom domain the distribution uses the default *.cloudfront.net certificate, whose "
                "viewer TLS policy CloudFront fixes; with domain_name set the minimum is TLSv1.2_2021.",
            )
        acknowledge(
            self.distribution,
            "CFR7",
            "The /auth and /api behaviours reach an HTTP API (custom origin), which OAC does not apply "
            "to; the web app and tiles origins are S3 buckets read through origin access control.",
        )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
