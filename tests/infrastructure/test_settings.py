"""cdk.json context, per-environment settings and the CDK app entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.settings import (
    ENVIRONMENTS,
    EnvironmentSettings,
    SettingsError,
    cdk_json_context,
    environment_settings,
)

REPO = Path(__file__).resolve().parents[2]


def test_cdk_json_runs_the_app_from_the_project_venv() -> None:
    config = json.loads((REPO / "cdk.json").read_text())
    assert config["app"].endswith("app.py")
    assert config["context"]["env"] == "dev"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_each_environment_has_complete_settings(name: str) -> None:
    settings = environment_settings(name, cdk_json_context())
    assert isinstance(settings, EnvironmentSettings)
    assert settings.domain_name == settings.certificate_arn == ""  # the CloudFront domain by default
    assert settings.basemap_style_url == "https://tiles.openfreemap.org/styles/liberty"
    assert settings.jwt_lifetime_seconds == 12 * 3600
    _ = settings.log_retention  # a value CloudWatch accepts


def test_prod_retains_dev_does_not() -> None:
    context = cdk_json_context()
    assert environment_settings("prod", context).retain_data is True
    assert environment_settings("dev", context).retain_data is False


def test_command_line_overrides_one_setting() -> None:
    settings = environment_settings(
        "prod",
        cdk_json_context(),
        {"domain_name": "maps.ridelines.app", "certificate_arn": CERT, "jwt_lifetime_seconds": "3600"},
    )
    assert settings.site_domain == "maps.ridelines.app"
    assert settings.jwt_lifetime_seconds == 3600
    reserved = environment_settings("prod", cdk_json_context(), {"sync_reserved_concurrency": "5"})
    assert reserved.sync_reserved_concurrency == 5


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        environment_settings("staging", cdk_json_context())


def test_invalid_log_retention_is_refused() -> None:
    settings = environment_settings("dev", cdk_json_context(), {"log_retention_days": "13"})
    with pytest.raises(ValueError, match="CloudWatch accepts"):
        _ = settings.log_retention


CERT = "arn:aws:acm:us-east-1:210987654321:certificate/0f2c7a3e-5b1d-4c8e-9a6f-3d2e1b0c9a8f"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"domain_name": "ridelines.example.com", "certificate_arn": CERT}, "placeholder"),
        ({"domain_name": "maps.ridelines.app"}, "set both domain_name and certificate_arn"),
        ({"certificate_arn": CERT}, "set both domain_name and certificate_arn"),
        (
            {"domain_name": "maps.ridelines.app", "certificate_arn": CERT.replace("us-east-1", "eu-west-1")},
            "us-east-1",
        ),
        (
            {
                "domain_name": "maps.ridelines.app",
                "certificate_arn": CERT.replace("210987654321", "123456789012"),
            },
            "not a real ACM certificate",
        ),
        ({"frontend_url": "https://ridelines.example.com"}, "frontend_url is no longer used"),
        ({"basemap_style_url": "http://tiles.example/style.json"}, "https://"),
        ({"sync_reserved_concurrency": "0"}, "0 would stop every sync"),
        ({"waf_rate_limit": "5"}, "waf_rate_limit"),
        ({"waf_web_acl_arn": "arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/x/y"}, "CLOUDFRONT"),
    ],
)
def test_unusable_settings_fail_with_one_clear_line(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        environment_settings("prod", cdk_json_context(), overrides)
    assert "\n" not in str(raised.value)


def test_the_old_cdk_json_with_the_example_domain_fails_one_line() -> None:
    context = cdk_json_context()
    context["ridelines"]["prod"]["frontend_url"] = "https://ridelines.example.com"
    with pytest.raises(SettingsError, match="frontend_url is no longer used"):
        environment_settings("prod", context)


def test_prod_synth_with_a_placeholder_domain_exits_with_one_line(tmp_path: Path) -> None:
    """What `make deploy ENV=prod` would print: one line on stderr, no traceback, exit 1."""
    import os
    import subprocess
    import sys

    context = {"env": "prod", "domain_name": "ridelines.example.com", "certificate_arn": CERT}
    result = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridelines:")]
    assert len(lines) == 1 and "placeholder" in lines[0]
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))
