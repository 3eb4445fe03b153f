"""The site: one distribution per environment (issue 9.1, 9.6, 9.7, 9.10; issue 10.1).

Routes and policies are asserted in the synthesized templates; the CloudFront Function runs in node
against CloudFront's event shape; the dependency graph of the API stack is checked for cycles.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ridelines import settings as names
from ridelines.site.headers import content_security_policy
from stacks.settings import WEB_VENDOR_DIRS, cdk_json_context

REPO = Path(__file__).resolve().parents[2]
SESSION_FUNCTION = REPO / "stacks" / "constructs" / "session_to_authorization.js"
# CloudFront's managed policies (ids are fixed by AWS).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def distribution(env: Any) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = env.resources("api", "AWS::CloudFront::Distribution").items()
    return logical_id, resource["Properties"]["DistributionConfig"]


def behaviours(env: Any) -> dict[str, dict[str, Any]]:
    _, config = distribution(env)
    found = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    found["default"] = config["DefaultCacheBehavior"]
    return found


def origin(env: Any, behaviour: dict[str, Any]) -> dict[str, Any]:
    _, config = distribution(env)
    return next(o for o in config["Origins"] if o["Id"] == behaviour["TargetOriginId"])


def test_one_distribution_per_environment_in_the_api_stack(env: Any) -> None:
    assert len(env.all_resources("AWS::CloudFront::Distribution")) == 1
    assert len(env.resources("api", "AWS::CloudFront::Distribution")) == 1


def test_behaviours_in_precedence_order(env: Any) -> None:
    _, config = distribution(env)
    assert [b["PathPattern"] for b in config["CacheBehaviors"]] == [
        "/auth/.well-known/*",
        "/auth/*",
        "/api/*",
        "/tiles/*",
    ]
    assert config["DefaultRootObject"] == "index.html"


def test_web_app_and_well_known_come_from_the_private_web_bucket_through_oac(env: Any) -> None:
    b = behaviours(env)
    for path in ("default", "/auth/.well-known/*"):
        web = origin(env, b[path])
        assert web["DomainName"] == {"Fn::GetAtt": ["WebBucket", "RegionalDomainName"]}
        oac = env.templates["api"]["Resources"][web["OriginAccessControlId"]["Fn::GetAtt"][0]]
        assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
        assert web["S3OriginConfig"] == {"OriginAccessIdentity": ""}
        assert b[path]["CachePolicyId"] == CACHING_OPTIMIZED
        assert set(b[path]["AllowedMethods"]) == {"GET", "HEAD"}
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in env.resources("api", "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "WebBucket"}
    ]
    (read,) = [s for s in policy if s["Effect"] == "Allow"]
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    logical_id, _ = distribution(env)
    assert logical_id in json.dumps(read["Condition"])


def test_auth_and_api_go_to_the_http_api_uncached_with_cookies_queries_and_authorization(env: Any) -> None:
    """CachingDisabled + AllViewerExceptHostHeader: CloudFront forwards every viewer header including
    Authorization (an origin request policy cannot list Authorization, but with caching disabled the
    AllViewer* managed policies forward it), all cookies and query strings, and not Host (API Gateway
    answers only to its own host name)."""
    (api_id,) = env.resources("api", "AWS::ApiGatewayV2::Api")
    b = behaviours(env)
    for path in ("/auth/*", "/api/*"):
        behaviour = b[path]
        target = origin(env, behaviour)
        assert target["DomainName"]["Fn::Join"][1][0] == {"Ref": api_id}
        assert ".execute-api." in target["DomainName"]["Fn::Join"][1]
        assert target["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
        assert {"POST", "PUT", "DELETE"} <= set(behaviour["AllowedMethods"])
        assert behaviour["ViewerProtocolPolicy"] == "https-only"


def test_only_api_gets_the_cookie_to_authorization_function(env: Any) -> None:
    b = behaviours(env)
    ((fn_id, fn),) = env.resources("api", "AWS::CloudFront::Function").items()
    assert fn["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert fn["Properties"]["FunctionCode"] == SESSION_FUNCTION.read_text()
    assert b["/api/*"]["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": [fn_id, "FunctionARN"]}}
    ]
    for path in ("default", "/auth/.well-known/*", "/auth/*", "/tiles/*"):
        assert "FunctionAssociations" not in b[path], path


def _run_function(request: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node runs the CDK CLI, so it is on every machine that synthesizes"
    script = (
        SESSION_FUNCTION.read_text()
        + "\nprocess.stdout.write(JSON.stringify(handler({request: JSON.parse(process.argv[1])})));\n"
    )
    out = subprocess.run(
        [node, "-e", script, json.dumps(request)], check=True, capture_output=True, text=True, timeout=30
    )
    return json.loads(out.stdout)


def _request(headers: dict[str, Any], cookies: dict[str, Any]) -> dict[str, Any]:
    return {"method": "GET", "uri": "/api/user", "querystring": {}, "headers": headers, "cookies": cookies}


def test_the_session_cookie_becomes_a_bearer_token() -> None:
    out = _run_function(
        _request({}, {"__Host-ridelines-session": {"value": "a.b.c"}, "other": {"value": "x"}})
    )
    assert out["headers"]["authorization"] == {"value": "Bearer a.b.c"}
    assert out["cookies"]["other"] == {"value": "x"}  # everything else reaches the API as it was


def test_an_authorization_header_sent_by_a_script_wins() -> None:
    out = _run_function(
        _request(
            {"authorization": {"value": "Bearer script"}},
            {"__Host-ridelines-session": {"value": "cookie"}},
        )
    )
    assert out["headers"]["authorization"] == {"value": "Bearer script"}


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        {"__Host-ridelines-session": {"value": ""}},
        {"ridelines-session": {"value": "x"}},
        {"__Host-ridelines-session": {"value": "x" * 5000}},
    ],
    ids=["none", "empty", "wrong-name", "over-long"],
)
def test_no_usable_cookie_adds_no_authorization(cookies: dict[str, Any]) -> None:
    assert "authorization" not in _run_function(_request({}, cookies))["headers"]


def test_tiles_only_with_signed_cookies_of_the_kms_key_group_oac_and_ranges(env: Any) -> None:
    """Issue 10.1: the key group on /tiles/* holds the public key registered from the KMS tiles key."""
    api = env.templates["api"]["Resources"]
    tiles = behaviours(env)["/tiles/*"]
    ((group_id, group),) = env.resources("api", "AWS::CloudFront::KeyGroup").items()
    assert tiles["TrustedKeyGroups"] == [{"Ref": group_id}]
    ((key_id, key),) = env.resources("api", "AWS::CloudFront::PublicKey").items()
    assert group["Properties"]["KeyGroupConfig"]["Items"] == [{"Ref": key_id}]
    config = key["Properties"]["PublicKeyConfig"]
    for field in ("Name", "CallerReference"):  # follow the KMS key, so a rotation makes a new key beside it
        separator, parts = config[field]["Fn::Join"]
        assert separator == "-"
        assert parts[0] == f"ridelines-{env.env}-tiles"
        assert env.export_value(parts[1]["Fn::ImportValue"]) == {"Ref": "TilesSigningKey"}
    encoded = config["EncodedKey"]
    custom_resource_id, attribute = encoded["Fn::GetAtt"]
    assert attribute == "PublicKeyPem"
    pem_resource = api[custom_resource_id]
    assert pem_resource["Type"] == "Custom::TilesPublicKey"
    assert pem_resource["Properties"]["Action"] == "TilesPublicKey"
    key_ref = pem_resource["Properties"]["KeyId"]
    assert env.export_value(key_ref["Fn::ImportValue"]) == {"Ref": "TilesSigningKey"}
    target = origin(env, tiles)
    assert env.export_value(target["DomainName"]["Fn::ImportValue"]) == {
        "Fn::GetAtt": ["DataBucket", "RegionalDomainName"]
    }
    oac = api[target["OriginAccessControlId"]["Fn::GetAtt"][0]]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    assert tiles["Compress"] is False  # byte ranges of already-compressed PMTiles
    assert set(tiles["AllowedMethods"]) == {"GET", "HEAD"}
    cache = api[tiles["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 365 * 24 * 3600
    key_params = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key_params["CookiesConfig"]["CookieBehavior"] == "none"  # signed cookies are checked at the edge
    assert key_params["HeadersConfig"]["HeaderBehavior"] == "none"


def test_the_data_bucket_lets_only_this_distribution_read_only_tiles(env: Any) -> None:
    (policy,) = [
        p["Properties"]
        for p in env.resources("api", "AWS::S3::BucketPolicy").values()
        if "Fn::ImportValue" in p["Properties"]["Bucket"]
    ]
    assert env.export_value(policy["Bucket"]["Fn::ImportValue"]) == {"Ref": "DataBucket"}
    assert not env.resources("storage", "AWS::S3::BucketPolicy").keys() & {"DataBucketPolicy"}
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert json.dumps(allow["Resource"]).endswith('/tiles/*"]]}')
    logical_id, _ = distribution(env)
    source = json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert f'"Ref": "{logical_id}"' in source and ":distribution/" in source
    storage_policies = env.resources("storage", "AWS::S3::BucketPolicy").values()
    assert all(p["Properties"]["Bucket"] != {"Ref": "DataBucket"} for p in storage_policies)


def test_security_headers_on_every_behaviour(env: Any) -> None:
    """Issue 9.7: one policy, on every answer; the CSP is ridelines.site.headers' (the local stack's)."""
    ((policy_id, policy),) = env.resources("api", "AWS::CloudFront::ResponseHeadersPolicy").items()
    for path, behaviour in behaviours(env).items():
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": policy_id}, path
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    basemap = cdk_json_context()["ridelines"][env.env]["basemap_style_url"]
    assert security["ContentSecurityPolicy"] == {
        "ContentSecurityPolicy": content_security_policy(basemap),
        "Override": True,
    }
    assert "https://tiles.openfreemap.org" in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    assert security["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}


def test_site_content_custom_resource_writes_the_well_known_documents_for_the_site_issuer(env: Any) -> None:
    """Issue 9.6: the discovery document and JWKS are written at deploy from the JWT key, for the
    issuer the authorizer expects; the web app and its libraries come as zip assets."""
    ((_, content),) = [
        (k, r) for k, r in env.templates["api"]["Resources"].items() if r["Type"] == "Custom::SiteContent"
    ]
    props = content["Properties"]
    logical_id, _ = distribution(env)
    site_url = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [logical_id, "DomainName"]}]]}
    assert props["Action"] == "SiteContent"
    assert props["SiteUrl"] == site_url
    assert props["WebBucket"] == {"Ref": "WebBucket"}
    assert env.export_value(props["JwtKeyId"]["Fn::ImportValue"]) == {"Ref": "JwtSigningKey"}
    assert props["BasemapStyleUrl"] == cdk_json_context()["ridelines"][env.env]["basemap_style_url"]
    assert [s["Prefix"] for s in props["Sources"]] == ["", *(f"vendor/{name}" for name in WEB_VENDOR_DIRS)]
    (authorizer,) = env.resources("api", "AWS::ApiGatewayV2::Authorizer").values()
    issuer = authorizer["Properties"]["JwtConfiguration"]["Issuer"]
    assert issuer == {"Fn::Join": ["", [*site_url["Fn::Join"][1], "/auth"]]}
    # The service token is our ARM64 Python function: no provider framework, no Node.js Lambda.
    token = props["ServiceToken"]["Fn::GetAtt"]
    fn = env.templates["api"]["Resources"][token[0]]["Properties"]
    assert fn["FunctionName"] == f"ridelines-{env.env}-site_content" and fn["Architectures"] == ["arm64"]
    runtimes = {f["Properties"]["Runtime"] for f in env.resources("api", "AWS::Lambda::Function").values()}
    assert len(runtimes) == 1 and runtimes.pop().startswith("python3.")


def test_site_assets_are_the_web_app_and_the_vendor_libraries_without_source_maps(env: Any) -> None:
    manifest = json.loads(
        next(
            env.outdir.glob(
                "RidelinesDevApi.assets.json" if env.env == "dev" else "RidelinesProdApi.assets.json"
            )
        ).read_text()
    )
    staged = {
        f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"
    }
    names_in_assets = {p.name for d in staged for p in (env.outdir / d).rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "maplibre-gl.js", "maplibre-gl.css", "pmtiles.js"} <= names_in_assets
    assert not [n for n in names_in_assets if n.endswith(".map") or n.endswith("-dev.js")]


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _graph(template: dict[str, Any]) -> dict[str, set[str]]:
    resources = template["Resources"]
    graph = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        graph[logical_id] = (_references(resource.get("Properties", {})) | set(depends)) & set(resources)
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_cycle_site_url_derives_from_the_distribution_and_nothing_it_needs_derives_from_it(
    env: Any,
) -> None:
    """Issue 9.1: the Lambdas' SITE_URL, the issuer and the .well-known documents depend on the
    distribution; the distribution depends on none of them (CloudFormation would refuse a cycle)."""
    graph = _graph(env.templates["api"])
    for logical_id in graph:
        assert logical_id not in _reachable(graph, logical_id), f"cycle through {logical_id}"
    dist_id, _ = distribution(env)
    needs = _reachable(graph, dist_id)
    resources = env.templates["api"]["Resources"]
    for logical_id in needs:
        resource = resources[logical_id]
        assert resource["Type"] not in {
            "AWS::ApiGatewayV2::Authorizer",
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Integration",
            "Custom::SiteContent",
        }, logical_id
        if resource["Type"] == "AWS::Lambda::Function":  # only the deploy-time one (the tiles key's PEM)
            assert resource["Properties"]["FunctionName"].endswith("-site_content"), logical_id
    for fn in env.resources("api", "AWS::Lambda::Function"):
        if resources[fn]["Properties"]["FunctionName"].endswith(("-auth", "-user", "-sync")):
            assert dist_id in _reachable(graph, fn)
            variables = resources[fn]["Properties"]["Environment"]["Variables"]
            assert dist_id in json.dumps(variables[names.SITE_URL])


def test_site_url_and_redirect_uri_are_stack_outputs(env: Any) -> None:
    outputs = env.templates["api"]["Outputs"]
    dist_id, _ = distribution(env)
    site_url = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist_id, "DomainName"]}]]}
    assert outputs["SiteUrl"]["Value"] == site_url
    assert outputs["OAuthRedirectUri"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist_id, "DomainName"]}, "/auth/callback"]]
    }


def test_no_waf_by_default_and_the_finding_says_where_the_setting_is(env: Any) -> None:
    _, config = distribution(env)
    assert "WebACLId" not in config
    assert not env.all_resources("AWS::WAFv2::WebACL")


def test_sync_reserved_concurrency_unset_by_default(env: Any) -> None:
    for fn in env.resources("api", "AWS::Lambda::Function").values():
        assert "ReservedConcurrentExecutions" not in fn["Properties"]


def test_prod_without_alarm_email_warns_at_synth(dev: Any, prod: Any) -> None:
    def warnings(env: Any) -> list[str]:
        return [
            str(entry["data"])
            for entries in env.metadata["api"].values()
            for entry in entries
            if entry["type"] == "aws:cdk:warning"
        ]

    assert any("alarm_email is empty" in w for w in warnings(prod))
    assert not any("alarm_email" in w for w in warnings(dev))
