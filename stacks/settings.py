"""The one place for names, runtime, architecture, sizes and per-environment settings.

Stacks and constructs read everything they size or name from here, so a change of memory, runtime
or naming scheme is one edit. Per-environment values come from ``cdk.json`` context
(``context.ridelines.<env>``) and may be overridden one by one on the command line
(``cdk synth -c env=prod -c frontend_url=https://maps.example.org``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

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


@dataclass(frozen=True)
class EnvironmentSettings:
    """Everything that differs between dev and prod (``cdk.json`` context ``ridelines.<env>``)."""

    name: str
    frontend_url: str
    intervals_url: str
    jwt_lifetime_seconds: int
    log_retention_days: int
    log_level: str
    retain_data: bool
    tippecanoe_args: str  # appended to ridelines.tiling's defaults (shlex-split); "" keeps them
    alarm_email: str | None = None
    access_log_expiration_days: int = 90
    noncurrent_version_expiration_days: int = 30
    api_throttle_rate: int = 50
    api_throttle_burst: int = 100

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
    known = {f.name for f in fields(EnvironmentSettings)} - {"name"}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"cdk.json context {CONTEXT_KEY}.{env_name} has unknown keys: {sorted(unknown)}")
    for key, value in (overrides or {}).items():
        if key in known and value is not None:
            values[key] = _coerce(value, type(values.get(key, value)))
    if values.get("alarm_email") in ("", None):
        values["alarm_email"] = None
    return EnvironmentSettings(name=env_name, **values)


def _coerce(value: Any, target: type) -> Any:
    """``-c key=value`` arrives as a string; give it the type cdk.json uses for that key."""
    if not isinstance(value, str) or target is str:
        return value
    if target is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if target is int:
        return int(value)
    return value
