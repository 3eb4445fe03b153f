"""What each Lambda's code asset (``lambdas/`` minus exclusions) really holds, opened from cdk.out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks.settings import FUNCTIONS, LAMBDAS_DIR

MAX_ASSET_BYTES = 1024 * 1024  # ~250 KB today; the dependencies live in the layer
REPO_ROOT = LAMBDAS_DIR.parent


def code_asset(env: Any, key: str) -> Path:
    (fn,) = [
        f
        for f in env.resources("api", "AWS::Lambda::Function").values()
        if f["Properties"]["FunctionName"] == f"ridelines-{env.env}-{key}"
    ]
    asset_hash = fn["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    path = env.outdir / f"asset.{asset_hash}"
    assert path.is_dir(), path
    return path


def shipped(asset: Path) -> list[str]:
    return sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())


def test_every_function_ships_the_same_asset(dev: Any) -> None:
    assets = {code_asset(dev, spec.key) for spec in FUNCTIONS}
    assert len(assets) == 1, assets


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_each_asset_holds_the_handlers_and_the_whole_domain_package(dev: Any, key: str) -> None:
    files = shipped(code_asset(dev, key))
    assert f"{key}/handler.py" in files
    expected = {
        str(p.relative_to(LAMBDAS_DIR))
        for p in (LAMBDAS_DIR / "ridelines").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert expected <= set(files), sorted(expected - set(files))
    assert "ridelines/auth/intervals_oauth.py" in files  # the user Lambda's account deletion needs it


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_assets_leave_out_tests_caches_and_the_laptop_only_package(dev: Any, key: str) -> None:
    asset = code_asset(dev, key)
    files = shipped(asset)
    laptop_only = {str(p.relative_to(REPO_ROOT / "local")) for p in (REPO_ROOT / "local").rglob("*.py")}
    assert laptop_only and not laptop_only & set(files)
    for path in files:
        parts = path.split("/")
        assert "__pycache__" not in parts and not path.endswith(".pyc"), path
        assert "tests" not in parts and not any(p.endswith(".egg-info") for p in parts), path
        assert not path.startswith("ridelines_local"), path
    assert sum((asset / f).stat().st_size for f in files) < MAX_ASSET_BYTES


_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
asset = sys.argv[1]
sys.path.insert(0, asset)
handler = importlib.import_module(sys.argv[2] + ".handler")
assert callable(handler.lambda_handler)
import ridelines
# __main__ is `python -m ridelines`, the laptop's command line: not run by any Lambda.
names = [
    m.name for m in pkgutil.walk_packages(ridelines.__path__, "ridelines.") if m.name != "ridelines.__main__"
]
for name in names:
    importlib.import_module(name)
def where(module):  # handler folders are namespace packages: no __file__, a __path__
    return getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
outside = sorted(
    n for n, m in sys.modules.items()
    if n.split(".")[0] in ("ridelines", sys.argv[2]) and not where(m).startswith(asset)
)
print(json.dumps({"modules": len(names), "outside": outside}))
"""


@pytest.mark.parametrize("key", [spec.key for spec in FUNCTIONS])
def test_the_handler_and_every_shipped_module_import_from_the_asset_alone(dev: Any, key: str) -> None:
    """As Lambda sees it: /var/task is the asset; the Python dependencies come from the layer (the
    venv's here, same pins). A module the asset lacks fails here instead of on the first request."""
    asset = code_asset(dev, key)
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_SERVICE_NAME": key,
        "POWERTOOLS_METRICS_NAMESPACE": "Ridelines",
    }
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, "-B", "-c", _IMPORT_EVERYTHING, str(asset), key],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outside"] == []
    assert report["modules"] > 30
