"""The stacks' CloudFormation templates, synthesized in-process and cached.

jsii (the bridge to the CDK's JavaScript) takes a while to start, so the templates are cached
under ``.cache/localstack/`` keyed by a hash of everything that shapes them (``stacks/**``,
``app.py``, ``cdk.json`` and the shared settings names). The synth runs in a child Python so the
serving process never hosts a Node runtime.

``python -m ridelines_local.localstack.synth OUT.json [--env dev]`` is that child.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ridelines.errors import ConfigurationError

TEMPLATE_SOURCES = ("stacks", "app.py", "cdk.json", "lambdas/ridelines/settings.py")


def source_hash(repo_root: Path) -> str:
    digest = hashlib.sha256()
    for source in TEMPLATE_SOURCES:
        path = repo_root / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".pyc",) or not file.exists() or "__pycache__" in file.parts:
                continue
            digest.update(file.relative_to(repo_root).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def load_templates(
    repo_root: Path, cache_dir: Path, *, env_name: str = "dev", overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], bool]:
    """``({stack name: template}, came_from_cache)``; ``overrides`` are ``-c key=value`` settings."""
    context = [f"{key}={value}" for key, value in sorted((overrides or {}).items())]
    key = source_hash(repo_root)
    if context:
        key = hashlib.sha256("\0".join([key, *context]).encode()).hexdigest()
    cache_file = cache_dir / f"templates-{env_name}-{key[:20]}.json"
    if cache_file.is_file():
        return json.loads(cache_file.read_text()), True
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ridelines-synth-") as tmp:
        out = Path(tmp) / "templates.json"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
        env.pop("AWS_ENDPOINT_URL", None)
        result = subprocess.run(  # noqa: S603 - our own module, our own interpreter
            [
                sys.executable,
                "-m",
                "ridelines_local.localstack.synth",
                str(out),
                "--env",
                env_name,
                "--cdk-out",
                str(Path(tmp) / "cdk.out"),
                *(arg for pair in context for arg in ("--context", pair)),
            ],
            cwd=repo_root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not out.is_file():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigurationError(f"could not synthesize the stacks for the local stack: {last}")
        text = out.read_text()
    # Atomic and collision-free: two processes may synthesize at once (e.g. parallel test workers).
    with tempfile.NamedTemporaryFile("w", dir=cache_dir, suffix=".tmp", delete=False) as tmp_cache:
        tmp_cache.write(text)
    Path(tmp_cache.name).replace(cache_file)
    if not context:  # other settings' templates are kept: the load test and the demo alternate
        for old in cache_dir.glob(f"templates-{env_name}-*.json"):
            if old != cache_file:
                old.unlink(missing_ok=True)
    return json.loads(text), False


def synthesize(env_name: str, cdk_out: Path, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    import stacks  # the infrastructure package at the repository root (on PYTHONPATH)

    app = stacks.build_app(env_name, outdir=str(cdk_out), build_layers=False, overrides=dict(overrides or {}))
    assembly = app.synth()
    artifacts = getattr(assembly, "stacks_recursively", None) or assembly.stacks
    return {artifact.stack_name: artifact.template for artifact in artifacts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--env", default="dev")
    parser.add_argument("--cdk-out", type=Path, required=True)
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(pair.split("=", 1) for pair in args.context)
    args.out.write_text(json.dumps(synthesize(args.env, args.cdk_out, overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
