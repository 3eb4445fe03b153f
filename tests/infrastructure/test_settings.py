"""cdk.json context, per-environment settings and the CDK app entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.settings import ENVIRONMENTS, EnvironmentSettings, cdk_json_context, environment_settings

REPO = Path(__file__).resolve().parents[2]


def test_cdk_json_runs_the_app_from_the_project_venv() -> None:
    config = json.loads((REPO / "cdk.json").read_text())
    assert config["app"].endswith("app.py")
    assert config["context"]["env"] == "dev"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_each_environment_has_complete_settings(name: str) -> None:
    settings = environment_settings(name, cdk_json_context())
    assert isinstance(settings, EnvironmentSettings)
    assert settings.frontend_url.startswith(("https://", "http://localhost"))
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
        {"frontend_url": "https://maps.example.org", "jwt_lifetime_seconds": "3600"},
    )
    assert settings.frontend_url == "https://maps.example.org"
    assert settings.jwt_lifetime_seconds == 3600


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        environment_settings("staging", cdk_json_context())


def test_invalid_log_retention_is_refused() -> None:
    settings = environment_settings("dev", cdk_json_context(), {"log_retention_days": "13"})
    with pytest.raises(ValueError, match="CloudWatch accepts"):
        _ = settings.log_retention
