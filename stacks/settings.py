"""The one place for names, runtime, architecture, sizes and per-environment settings.

Stacks and constructs read everything they size or name from here, so a change of memory, runtime
or naming scheme is one edit. Per-environment values come from ``cdk.json`` context
(``context.ridelines.<env>``) and may be overridden one by one on the command line
(``cdk synth -c env=prod -c domain_name=maps.example.org -c certificate_arn=arn:aws:acm:us-east-1:...``).
A setting nothing can deploy (a placeholder domain, half a custom domain, a retired key) raises
:class:`SettingsError`, whose message app.py prints as one line before it exits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from ridelines.site.headers import DEFAULT_BASEMAP_STYLE_URL, basemap_origins

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
LAMBDAS_DIR = REPO_ROOT / "lambdas"

PROJECT = "ridelines"
ENVIRONMENTS = ("dev", "prod")
DEFAULT_ENVIRONMENT = "dev"
CONTEXT_KEY = "ridelines"

# Newest Python runtime aws-cdk-lib 2.275 offers; every binary dependency (pydantic-core, zstandard,
# cryptography, wrapt, cffi, charset-normalizer) publishes cp314 / abi3 manylinux2014_aarch64 wheels.
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = PYTHON_RUNTIME.name.removeprefix("python")  # "3.14": the dependency layer targets it
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"

METRICS_NAMESPACE = "Ridelines"
# EMF metric the sync Lambda emits (Powertools Metrics, dimension service=<POWERTOOLS_SERVICE_NAME>)
# once per sync that ends in status "failed"; an alarm watches it.
SYNC_FAILED_METRIC = "sync.failed"


@dataclass(frozen=True)
class FunctionSpec:
    """Size and entry point of one Lambda; the handler folder is also its service name."""

    key: str
    handler: str
    memory_mb: int
    timeout: Duration
    ephemeral_storage: Size


AUTH = FunctionSpec("auth", "auth.handler.lambda_handler", 512, Duration.seconds(15), Size.mebibytes(512))
USER = FunctionSpec("user", "user.handler.lambda_handler", 512, Duration.seconds(30), Size.mebibytes(512))
# Sync downloads FIT files, rewrites the archive and runs Tippecanoe in /tmp: the original system's size.
SYNC = FunctionSpec("sync", "sync.handler.lambda_handler", 2048, Duration.seconds(600), Size.mebibytes(4096))
FUNCTIONS = (AUTH, USER, SYNC)
# The deploy-time custom resource (ridelines.site): unpacks the web app, writes the .well-known documents.
SITE_CONTENT = FunctionSpec(
    "site_content", "site_content.handler.lambda_handler", 512, Duration.minutes(5), Size.mebibytes(512)
)

# The browser libraries the web app loads from /vendor/<name>/ (the local stack maps the same folders).
WEB_DIR = REPO_ROOT / "web"
# The web app's libraries under /vendor/<name>/, from node_modules: one mapping for the deployed site and
# the local stack.
WEB_VENDOR_DIRS = {
    "maplibre-gl": REPO_ROOT / "node_modules" / "maplibre-gl" / "dist",
    "pmtiles": REPO_ROOT / "node_modules" / "pmtiles" / "dist",
    "topojson-client": REPO_ROOT / "node_modules" / "topojson-client" / "dist",
    "world-atlas": REPO_ROOT / "node_modules" / "world-atlas",  # the offline basemap (Natural Earth)
}
# Source maps, unminified builds, type declarations and the 1:10m atlas: never loaded by the app.
WEB_VENDOR_EXCLUDE = ["*.map", "*-dev.js", "*.d.ts", "*.d.cts", "*.d.mts", "*-10m.json"]
# Replaced tiles are rebuildable from the archive: keep their old versions only until the next day.
TILES_NONCURRENT_VERSION_DAYS = 1


_RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


class SettingsError(ValueError):
    """A setting no environment can deploy with; the message is one line for the person deploying."""


# Names that documentation reserves (RFC 2606/6761) and words people leave in templates.
_PLACEHOLDER_DOMAIN = re.compile(
    r"(^|\.)(example\.(com|org|net)|example|invalid|test|localhost)$|placeholder|changeme|your-?domain", re.I
)
_HOSTNAME = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# CloudFront only takes certificates from ACM in us-east-1.
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:(\d{12}):certificate/[0-9a-f-]{36}$")
_PLACEHOLDER_ACCOUNTS = {"123456789012", "000000000000", "111111111111"}
_WEB_ACL_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]+/[0-9a-f-]{36}$")
# Keys earlier versions of cdk.json had: say what replaced them instead of "unknown key".
_RETIRED_KEYS = {
    "frontend_url": "the site URL is the CloudFront domain; for your own domain set domain_name and "
    "certificate_arn",
    "noncurrent_version_expiration_days": "use archive_noncurrent_version_days (tiles keep old "
    "versions one day)",
}


@dataclass(frozen=True)
class EnvironmentSettings:
    """Everything that differs between dev and prod (``cdk.json`` context ``ridelines.<env>``)."""

    name: str
    intervals_url: str
    jwt_lifetime_seconds: int
    log_retention_days: int
    log_level: str
    retain_data: bool
    tippecanoe_args: str  # appended to ridelines.tiling's defaults (shlex-split); "" keeps them
    alarm_email: str | None = None
    access_log_expiration_days: int = 90
    # Old versions of a replaced archive/index protect against a bad publish for this many days.
    archive_noncurrent_version_days: int = 7
    api_throttle_rate: int = 50
    api_throttle_burst: int = 100
    # The map's basemap (a MapLibre style URL; "" = none). Its origin is the one the CSP allows.
    basemap_style_url: str = DEFAULT_BASEMAP_STYLE_URL
    # Optional custom domain: both or neither; the certificate is ACM's, in us-east-1.
    domain_name: str = ""
    certificate_arn: str = ""
    # None: the sync shares the account's unreserved pool; a number reserves (and caps) that many.
    sync_reserved_concurrency: int | None = None
    # A burst of 401s this large in 5 minutes means the authorizer cannot verify sessions.
    unauthorized_alarm_threshold: int = 50
    # Per-IP requests per 5 minutes before WAF blocks (0 = no WAF). The web ACL of a CloudFront
    # distribution must live in us-east-1: outside it, create one there and give its ARN instead.
    waf_rate_limit: int = 0
    waf_web_acl_arn: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        where = f"{CONTEXT_KEY}.{self.name}"
        if bool(self.domain_name) != bool(self.certificate_arn):
            raise SettingsError(
                f"{where}: set both domain_name and certificate_arn (ACM, us-east-1) for a custom domain, "
                "or neither to use the CloudFront domain"
            )
        if self.domain_name:
            if _PLACEHOLDER_DOMAIN.search(self.domain_name) or not _HOSTNAME.match(self.domain_name):
                raise SettingsError(
                    f"{where}.domain_name={self.domain_name!r} is a placeholder or not a host name; "
                    "set your own domain or leave domain_name and certificate_arn empty"
                )
            match = _CERTIFICATE_ARN.match(self.certificate_arn)
            if not match or match.group(1) in _PLACEHOLDER_ACCOUNTS:
                raise SettingsError(
                    f"{where}.certificate_arn={self.certificate_arn!r} is not a real ACM certificate "
                    "ARN in us-east-1 (CloudFront takes certificates only from there)"
                )
        try:
            basemap_origins(self.basemap_style_url)
        except ValueError as error:
            raise SettingsError(f"{where}.{error}") from None
        if self.sync_reserved_concurrency is not None and self.sync_reserved_concurrency < 1:
            raise SettingsError(
                f"{where}.sync_reserved_concurrency must be null (unreserved) or at least 1; "
                "0 would stop every sync"
            )
        if self.waf_rate_limit and not 10 <= self.waf_rate_limit <= 2_000_000_000:
            raise SettingsError(f"{where}.waf_rate_limit must be 0 (off) or 10..2000000000 per 5 minutes")
        if self.waf_web_acl_arn and not _WEB_ACL_ARN.match(self.waf_web_acl_arn):
            raise SettingsError(
                f"{where}.waf_web_acl_arn must be a CLOUDFRONT-scope web ACL ARN (wafv2, us-east-1, global/)"
            )
        if self.archive_noncurrent_version_days < 1:
            raise SettingsError(f"{where}.archive_noncurrent_version_days must be at least 1")

    @property
    def site_domain(self) -> str | None:
        """The custom domain, when one is configured (else the site is the distribution's domain)."""
        return self.domain_name or None

    @property
    def basemap(self) -> str | None:
        return self.basemap_style_url or None

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        try:
            return _RETENTION_DAYS[self.log_retention_days]
        except KeyError:
            raise ValueError(
                f"log_retention_days={self.log_retention_days}; CloudWatch accepts {sorted(_RETENTION_DAYS)}"
            ) from None

    @property
    def title(self) -> str:
        return self.name.capitalize()

    def stack_name(self, part: str) -> str:
        return f"{PROJECT.capitalize()}-{self.name}-{part}"

    def function_name(self, spec: FunctionSpec) -> str:
        # Fixed names: the user Lambda and the sync Lambda itself address sync by name, which avoids
        # a reference cycle (a function cannot reference its own ARN in its own policy/environment).
        return f"{PROJECT}-{self.name}-{spec.key}"

    def alias_name(self, purpose: str) -> str:
        return f"alias/{PROJECT}-{self.name}-{purpose}"


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json (in-process synths do not get it from the CDK CLI)."""
    return dict(json.loads(CDK_JSON.read_text())["context"])


def environment_settings(
    env_name: str, context: dict[str, Any], overrides: dict[str, Any] | None = None
) -> EnvironmentSettings:
    """Settings for one environment: cdk.json's block, then single-key overrides from ``-c key=value``."""
    if env_name not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env_name!r}; expected one of {', '.join(ENVIRONMENTS)}")
    values: dict[str, Any] = dict(context[CONTEXT_KEY][env_name])
    for key, replacement in _RETIRED_KEYS.items():
        if key in values or key in (overrides or {}):
            raise SettingsError(f"{CONTEXT_KEY}.{env_name}.{key} is no longer used: {replacement}")
    known = {f.name for f in fields(EnvironmentSettings)} - {"name"}
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"cdk.json context {CONTEXT_KEY}.{env_name} has unknown keys: {sorted(unknown)}")
    for key, value in (overrides or {}).items():
        if key in known and value is not None:
            values[key] = _coerce(value, int if key in _OPTIONAL_INTS else type(values.get(key, value)))
    if values.get("alarm_email") in ("", None):
        values["alarm_email"] = None
    return EnvironmentSettings(name=env_name, **values)


_OPTIONAL_INTS = {"sync_reserved_concurrency"}


def _coerce(value: Any, target: type) -> Any:
    """``-c key=value`` arrives as a string; give it the type cdk.json uses for that key."""
    if not isinstance(value, str) or target is str:
        return value
    if value.strip().lower() in {"null", "none"}:
        return None
    if target is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if target is int:
        return int(value)
    return value
