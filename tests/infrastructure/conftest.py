"""Synthesize each environment once per test session (in-process, placeholder layers, no Docker/AWS).

jsii start-up and a synth cost ~10 s, so every infrastructure test reads the same cloud assemblies;
all tests here share one xdist group so one worker does the synths.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The CDK app (app.py, stacks/, layers/) lives at the repository root, which importlib mode does not
# put on sys.path.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.xdist_group("infrastructure-synth"))


@dataclass
class Synthesized:
    """One environment's cloud assembly: raw templates, assertion Templates, metadata."""

    env: str
    outdir: Path
    templates: dict[str, dict[str, Any]]  # "data" | "storage" | "api" -> template JSON
    stack_names: dict[str, str]  # "data" -> CloudFormation stack name
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def assertions(self, part: str) -> Any:
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[part])

    def resources(self, part: str, cfn_type: str) -> dict[str, dict[str, Any]]:
        res = self.templates[part]["Resources"]
        return {k: v for k, v in res.items() if v["Type"] == cfn_type}

    def all_resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for part in self.templates:
            found.update(self.resources(part, cfn_type))
        return found

    def export_value(self, export_name: str) -> Any:
        """The value behind an Fn::ImportValue: the producing stack's Output with that export name."""
        for template in self.templates.values():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if name == export_name:
                    return output["Value"]
        raise KeyError(export_name)

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def _synthesize(env: str, outdir: Path) -> Synthesized:
    from stacks import build_app

    app = build_app(env, outdir=str(outdir), build_layers=False)
    assembly = app.synth()
    templates, names, metadata = {}, {}, {}
    for artifact in assembly.stacks:
        part = artifact.stack_name.rsplit("-", 1)[-1]
        templates[part] = artifact.template
        names[part] = artifact.stack_name
        meta_file = outdir / f"{artifact.id}.metadata.json"
        metadata[part] = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return Synthesized(env, outdir, templates, names, metadata)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return {env: _synthesize(env, tmp_path_factory.mktemp(f"cdk-{env}")) for env in ("dev", "prod")}


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]


@pytest.fixture(scope="session", params=["dev", "prod"])
def env(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized[request.param]
