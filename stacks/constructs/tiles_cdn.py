"""CloudFront in front of ``tiles/*`` of the data bucket, through origin access control (OAC)."""

from __future__ import annotations

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.data_bucket import CLOUDFRONT_LOG_PREFIX, TILES_PREFIX
from stacks.nag import acknowledge
from stacks.settings import EnvironmentSettings

# CDK would grant CloudFront s3:GetObject on the whole bucket; we write a tiles/*-only statement.
_IMPORTED_BUCKET_POLICY_WARNING = "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac"


class TilesDistribution(Construct):
    """Serves ``/tiles/{athlete}/{hash}.pmtiles``: immutable, range requests, CORS for the frontend.

    Everything else in the bucket (``athletes/*``) is unreachable: the bucket policy lets the
    CloudFront service principal of this one distribution read ``tiles/*`` and nothing more.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        bucket: s3.IBucket,
        log_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        oac = cloudfront.S3OriginAccessControl(
            self,
            "OriginAccessControl",
            description=f"Ridelines {settings.name}: CloudFront reads tiles/* (SigV4)",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )
        # Hand the origin a reference (not the bucket itself) so CDK does not add its bucket-wide
        # GetObject statement; the tiles-only statement below replaces it.
        bucket_ref = s3.Bucket.from_bucket_attributes(
            self,
            "DataBucketRef",
            bucket_name=bucket.bucket_name,
            bucket_regional_domain_name=bucket.bucket_regional_domain_name,
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(
            bucket_ref,
            origin_access_control=oac,
            origin_access_levels=[cloudfront.AccessLevel.READ],
        )
        Annotations.of(self).acknowledge_warning(
            _IMPORTED_BUCKET_POLICY_WARNING, "the bucket policy is written explicitly for tiles/* below"
        )

        # Tile files are content-addressed and never change: cache them as long as CloudFront allows.
        cache_policy = cloudfront.CachePolicy(
            self,
            "ImmutableTilesCachePolicy",
            comment="Content-hashed PMTiles: cached for a year, no cookies/query strings/headers in key",
            default_ttl=Duration.days(365),
            min_ttl=Duration.days(1),
            max_ttl=Duration.days(365),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            # PMTiles are already compressed and read by byte range; recompression would break ranges.
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
        )
        response_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "TilesResponseHeaders",
            comment="CORS for the frontend; ranges exposed to the pmtiles reader",
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_origins=[settings.frontend_url],
                access_control_allow_methods=["GET", "HEAD", "OPTIONS"],
                access_control_allow_headers=["Range", "If-Match", "If-None-Match"],
                access_control_expose_headers=["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
                access_control_allow_credentials=False,
                access_control_max_age=Duration.hours(1),
                origin_override=True,
            ),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        tiles_behavior = cloudfront.BehaviorOptions(
            origin=origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
            cache_policy=cache_policy,
            # Forwards Origin and Access-Control-Request-* so S3 answers CORS preflights; Range
            # requests need nothing: CloudFront fetches and caches byte ranges from S3 natively.
            origin_request_policy=cloudfront.OriginRequestPolicy.CORS_S3_ORIGIN,
            response_headers_policy=response_headers,
            compress=False,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Ridelines {settings.name} tiles",
            # Anything outside tiles/* reaches S3 uncached and is refused by the bucket policy (403).
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            ),
            additional_behaviors={f"{TILES_PREFIX}*": tiles_behavior},
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix=CLOUDFRONT_LOG_PREFIX,
        )
        acknowledge(
            self.distribution,
            "CFR1",
            "Riders open their own map wherever they travel; geo restriction would lock them out and "
            "protects nothing, as every file is a content-hashed object only its owner is told about.",
        )
        acknowledge(
            self.distribution,
            "CFR2",
            "The distribution serves only immutable, content-addressed PMTiles from S3 (no origin "
            "compute, no forms or queries); a WAF web ACL would add per-request cost and no protection.",
        )
        acknowledge(
            self.distribution,
            "CFR4",
            "The distribution uses the default *.cloudfront.net certificate, whose viewer security policy "
            "CloudFront fixes; a minimum of TLSv1.2_2021 needs a custom domain with an ACM certificate.",
        )
        self.distribution_arn = Stack.of(self).format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontReadsTilesOnly",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{TILES_PREFIX}*")],
                conditions={"StringEquals": {"AWS:SourceArn": self.distribution_arn}},
            )
        )
        self.tiles_base_url = f"https://{self.distribution.distribution_domain_name}"
