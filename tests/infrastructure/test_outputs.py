"""`make smoke` finds the site through the API stack's SiteUrl output (issue 9.9)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stacks.outputs import main, stack_output

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("cloudformation")


def _deploy(client: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    client.create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_reads_the_site_url_of_the_environment(
    cloudformation: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _deploy(cloudformation, "Ridelines-dev-api", {"SiteUrl": "https://d1.cloudfront.net"})
    _deploy(cloudformation, "Ridelines-prod-api", {"SiteUrl": "https://maps.ridelines.app"})
    assert stack_output("dev") == "https://d1.cloudfront.net"
    assert main(["prod"]) == 0
    assert capsys.readouterr().out == "https://maps.ridelines.app\n"


def test_an_undeployed_environment_is_one_clear_line(
    cloudformation: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ridelines: cannot read stack Ridelines-dev-api") and err.count("\n") == 1
    _deploy(cloudformation, "Ridelines-dev-api", {"Other": "x"})
    assert main(["dev"]) == 1
    assert "deploy it first (make deploy ENV=dev)" in capsys.readouterr().err


def test_make_smoke_passes_the_stack_s_url_to_the_smoke_checker() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^smoke:.*?(?=^\S)", makefile, re.S | re.M)
    assert recipe, "make smoke exists"
    text = recipe.group(0)
    assert "-m stacks.outputs $(ENV) SiteUrl" in text
    assert "-m ridelines_local.smoke --url" in text
