from __future__ import annotations

import json
from pathlib import Path

from ridelines_local.localstack.synth import load_templates, source_hash


def _repo(root: Path) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "stacks" / "api.py").write_text("API = 1\n")
    (root / "app.py").write_text("app\n")
    (root / "cdk.json").write_text("{}\n")
    (root / "lambdas" / "ridelines").mkdir(parents=True)
    (root / "lambdas" / "ridelines" / "settings.py").write_text("X = 1\n")
    return root


def test_the_cache_key_follows_every_file_that_shapes_the_templates(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    first = source_hash(repo)
    assert source_hash(repo) == first
    (repo / "stacks" / "__pycache__").mkdir()
    (repo / "stacks" / "__pycache__" / "api.cpython-311.pyc").write_bytes(b"\0")
    assert source_hash(repo) == first  # bytecode is not a source
    for changed in ("stacks/api.py", "cdk.json", "app.py", "lambdas/ridelines/settings.py"):
        path = repo / changed
        original = path.read_text()
        path.write_text(original + "# changed\n")
        assert source_hash(repo) != first, changed
        path.write_text(original)
    (repo / "stacks" / "new.py").write_text("")
    assert source_hash(repo) != first


def test_a_cached_synth_is_used_without_synthesizing(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    cache.mkdir()
    templates = {"Ridelines-dev-data": {"Resources": {}}}
    (cache / f"templates-dev-{source_hash(repo)[:20]}.json").write_text(json.dumps(templates))
    # The fake repo has no real stacks: a synth attempt would fail, so success proves the cache was used.
    assert load_templates(repo, cache) == (templates, True)
