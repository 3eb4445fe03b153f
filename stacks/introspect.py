"""Read a synthesized environment the way the local stack needs it: Lambda env var -> resource.

``lambda_environments("dev")`` synthesizes in-process (placeholder layers, ~10 s) and returns, per
function key (``auth``/``user``/``sync``), each environment variable resolved through the cross-stack
exports to either a literal string or ``{"stack": "data", "logical_id": "UsersTable",
"type": "AWS::DynamoDB::Table", "attribute": "Ref"}``; joins keep their parts resolved the same way.
"""

from __future__ import annotations

import tempfile
from typing import Any

Resolved = str | dict[str, Any]


def synthesized_templates(env_name: str = "dev", *, outdir: str | None = None) -> dict[str, dict[str, Any]]:
    """``{"data"|"storage"|"api": template}`` of one environment."""
    from stacks import build_app

    with tempfile.TemporaryDirectory(prefix="ridelines-cdk-") as tmp:
        assembly = build_app(env_name, outdir=outdir or tmp, build_layers=False).synth()
        return {a.stack_name.rsplit("-", 1)[-1]: a.template for a in assembly.stacks}


def _exports(templates: dict[str, dict[str, Any]]) -> dict[str, tuple[str, Any]]:
    found = {}
    for part, template in templates.items():
        for output in template.get("Outputs", {}).values():
            name = output.get("Export", {}).get("Name")
            if isinstance(name, str):
                found[name] = (part, output["Value"])
    return found


def _resolve(
    value: Any, part: str, templates: dict[str, dict[str, Any]], exports: dict[str, tuple[str, Any]]
) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::ImportValue" and isinstance(arg, str) and arg in exports:
            producer, exported = exports[arg]
            return _resolve(exported, producer, templates, exports)
        if fn == "Ref" and arg in templates[part]["Resources"]:
            return {
                "stack": part,
                "logical_id": arg,
                "type": templates[part]["Resources"][arg]["Type"],
                "attribute": "Ref",
            }
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg
            return {
                "stack": part,
                "logical_id": logical_id,
                "type": templates[part]["Resources"][logical_id]["Type"],
                "attribute": attribute,
            }
        if fn == "Fn::Join":
            separator, parts = arg
            return {"join": [_resolve(p, part, templates, exports) for p in parts], "separator": separator}
    return value


def lambda_environments(
    env_name: str = "dev", templates: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Resolved]]:
    templates = templates or synthesized_templates(env_name)
    exports = _exports(templates)
    environments: dict[str, dict[str, Resolved]] = {}
    for resource in templates["api"]["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        key = props["FunctionName"].rsplit("-", 1)[-1]
        variables = props.get("Environment", {}).get("Variables", {})
        environments[key] = {name: _resolve(v, "api", templates, exports) for name, v in variables.items()}
    return environments
