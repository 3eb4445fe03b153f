"""cdk-nag (AwsSolutions, v3 Validations API) on every synth: no findings left, every one explained."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.nag import acknowledge


def test_synth_has_no_unacknowledged_findings(env: Any) -> None:
    report = env.validation_report()
    violations = [
        (v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for c in v["violatingConstructs"]
    ]
    assert violations == []


def _acknowledgements(env: Any) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for metadata in env.metadata.values():
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.setdefault(path, {}).update(entry["data"])
    return found


def test_every_acknowledgement_is_nag_and_says_why(env: Any) -> None:
    acks = _acknowledgements(env)
    assert acks, "expected the acknowledgements in the assembly metadata"
    for path, rules in acks.items():
        for rule, reason in rules.items():
            assert rule.startswith("Annotation::AwsSolutions-"), (path, rule)
            assert len(reason) >= 60, (path, rule, reason)


def test_acknowledged_rules_are_the_reviewed_set(env: Any) -> None:
    rules = {
        rule.removeprefix("Annotation::AwsSolutions-") for r in _acknowledgements(env).values() for rule in r
    }
    bucket_export = f"Ridelines-{env.env}-storage-DataBucketArn"
    assert rules == {
        "SMG4",  # OAuth client issued by intervals.icu: not rotatable by a Lambda
        "SQS3",  # the DLQ itself
        "CFR1",
        "CFR2",  # WAF is a setting, off by default
        "CFR4",  # default CloudFront certificate (no custom domain configured)
        "CFR7",  # the HTTP API origin (OAC is for S3 origins)
        "S1",  # the web bucket: CloudFront's logs cover it
        "S10",  # the data bucket's TLS-only policy is written in the API stack
        "APIG4",  # the public /auth routes
        "IAM5[Resource::*]",  # X-Ray only
        f"IAM5[Resource::{bucket_export}/athletes/*]",
        f"IAM5[Resource::{bucket_export}/tiles/*]",
        "IAM5[Resource::<WebBucket.Arn>/*]",  # the deploy rewrites the whole site bucket
        f"IAM5[Resource::{bucket_export}/athletes/*/explorer.json]",  # user reads the explorer layer
    }


def test_public_route_acknowledgements_are_only_on_auth_routes(env: Any) -> None:
    for path, rules in _acknowledgements(env).items():
        if "Annotation::AwsSolutions-APIG4" in rules:
            assert "--auth--" in path and "--api--" not in path, path


def test_a_vague_reason_is_refused() -> None:
    import aws_cdk as cdk

    with pytest.raises(ValueError, match="specific reason"):
        acknowledge(cdk.App(), "S1", "not needed")
