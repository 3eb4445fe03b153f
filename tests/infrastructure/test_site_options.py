"""Per-environment site options in one synth: a custom domain, the per-IP WAF rule, the sync's
reserved concurrency and an alarm email (issue 9.1 custom domain, 9.10 operations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ridelines import settings as names

CERT = "arn:aws:acm:us-east-1:210987654321:certificate/0f2c7a3e-5b1d-4c8e-9a6f-3d2e1b0c9a8f"
DOMAIN = "maps.ridelines.app"


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from stacks import build_app

    outdir: Path = tmp_path_factory.mktemp("cdk-options")
    app = build_app(
        "prod",
        outdir=str(outdir),
        build_layers=False,
        overrides={
            "domain_name": DOMAIN,
            "certificate_arn": CERT,
            "waf_rate_limit": "500",
            "sync_reserved_concurrency": "5",
            "alarm_email": "ops@ridelines.app",
        },
    )
    assembly = app.synth()  # cdk-nag runs here: CFR2/CFR4 are satisfied, not acknowledged
    api = next(a for a in assembly.stacks if a.stack_name.endswith("-api"))
    report = json.loads((outdir / "validation-report.json").read_text())
    return {"template": api.template, "report": report, "metadata": api.find_metadata_by_type}


def _resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def test_custom_domain_is_the_site_url_with_its_certificate(options: dict[str, Any]) -> None:
    template = options["template"]
    (dist,) = _resources(template, "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    assert config["Aliases"] == [DOMAIN]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERT,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    for fn in _resources(template, "AWS::Lambda::Function").values():
        variables = fn["Properties"].get("Environment", {}).get("Variables", {})
        if names.SITE_URL in variables:
            assert variables[names.SITE_URL] == f"https://{DOMAIN}"
    (authorizer,) = _resources(template, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["JwtConfiguration"]["Issuer"] == f"https://{DOMAIN}/auth"
    (content,) = _resources(template, "Custom::SiteContent").values()
    assert content["Properties"]["SiteUrl"] == f"https://{DOMAIN}"
    assert template["Outputs"]["SiteUrl"]["Value"] == f"https://{DOMAIN}"
    assert template["Outputs"]["OAuthRedirectUri"]["Value"] == f"https://{DOMAIN}/auth/callback"


def test_per_ip_rate_rule_on_the_distribution_and_us_east_1_enforced(options: dict[str, Any]) -> None:
    template = options["template"]
    ((acl_id, acl),) = _resources(template, "AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "CLOUDFRONT"
    (rule,) = props["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
        "Limit": 500,
    }
    (dist,) = _resources(template, "AWS::CloudFront::Distribution").values()
    assert dist["Properties"]["DistributionConfig"]["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (assertion,) = next(iter(template["Rules"].values()))["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert "waf_web_acl_arn" in assertion["AssertDescription"]


def test_sync_reserved_concurrency_is_set_only_on_sync(options: dict[str, Any]) -> None:
    for fn in _resources(options["template"], "AWS::Lambda::Function").values():
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        assert reserved == (5 if fn["Properties"]["FunctionName"].endswith("-sync") else None)


def test_alarm_email_subscribes_and_silences_the_warning(options: dict[str, Any]) -> None:
    (subscription,) = _resources(options["template"], "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == "ops@ridelines.app"
    warnings = [str(m.data) for m in options["metadata"]("aws:cdk:warning")]
    assert not any("alarm_email" in w for w in warnings)


def test_nag_clean_without_the_certificate_and_waf_acknowledgements(options: dict[str, Any]) -> None:
    violations = [v for plugin in options["report"]["pluginReports"] for v in plugin["violations"]]
    assert violations == []


def test_a_given_web_acl_arn_is_used_instead_of_creating_one() -> None:
    """Outside us-east-1 the ACL is made there by hand and named here: nothing is created."""
    from stacks.constructs.site_cdn import SiteDistribution
    from stacks.settings import cdk_json_context, environment_settings

    arn = "arn:aws:wafv2:us-east-1:210987654321:global/webacl/ridelines/0f2c7a3e-5b1d-4c8e-9a6f-3d2e1b0c9a8f"
    settings = environment_settings(
        "dev", cdk_json_context(), {"waf_web_acl_arn": arn, "waf_rate_limit": "500"}
    )
    # The method returns before touching the construct when an ARN is given.
    assert SiteDistribution._web_acl_arn(None, settings) == arn  # type: ignore[arg-type]
