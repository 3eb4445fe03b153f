"""The GitHub workflow cannot run here: check it is valid YAML doing what the README promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_workflow_is_valid_yaml_with_jobs(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert isinstance(workflow, dict)
    assert workflow["jobs"]
    for job in workflow["jobs"].values():
        assert job["runs-on"]
        assert job["steps"]


def test_triggers_pull_requests_and_main() -> None:
    workflow = load("ci.yml")
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read"}


def test_pull_requests_run_make_test() -> None:
    job = load("ci.yml")["jobs"]["test"]
    assert "make test" in runs(job)
    assert "if" not in job


def test_make_test_runs_on_the_debian_it_is_written_for() -> None:
    """`make system-packages` installs Debian's chromium package, which Ubuntu's runner image cannot
    (Chromium is a snap there): the job runs in a Debian container, like .ci/run's machine."""
    job = load("ci.yml")["jobs"]["test"]
    assert job["container"].startswith("debian:")
    first = runs(job)[0]
    assert first.startswith("apt-get update") and all(
        p in first.split() for p in ("git", "make", "python3-venv")
    )
    assert job["steps"][0].get("run") == first  # git before checkout (else it fetches no .git)


def test_main_deploys_dev_then_prod_with_oidc() -> None:
    jobs = load("ci.yml")["jobs"]
    assert jobs["deploy-dev"]["needs"] == "test"
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    assert "refs/heads/main" in jobs["deploy-dev"]["if"]
    for env in ("dev", "prod"):
        job = jobs[f"deploy-{env}"]
        assert job["permissions"]["id-token"] == "write"
        creds = next(
            s
            for s in job["steps"]
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
        )
        assert creds["with"]["role-to-assume"].startswith("${{ vars.")
        assert "aws-access-key-id" not in creds["with"]  # no long-lived keys
        steps = runs(job)
        assert f"make deploy ENV={env}" in steps
        # The smoke check of the environment follows its deploy in the same job.
        assert steps.index(f"make smoke ENV={env}") == steps.index(f"make deploy ENV={env}") + 1


def test_prod_deploys_only_after_dev_passed_its_smoke_check() -> None:
    jobs = load("ci.yml")["jobs"]
    dev_steps = runs(jobs["deploy-dev"])
    assert dev_steps[-1] == "make smoke ENV=dev"  # a failing smoke fails deploy-dev, which prod needs
    assert jobs["deploy-prod"]["needs"] == "deploy-dev"
    assert "continue-on-error" not in jobs["deploy-dev"]
    assert not [s for s in jobs["deploy-dev"]["steps"] if s.get("continue-on-error")]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses
    for ref in uses:
        action, _, version = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", version), f"{action} is pinned to {version!r}, not a commit"
    text = path.read_text()
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d", line), line  # the tag, for the next update
