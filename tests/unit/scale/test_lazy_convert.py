"""``ridelines convert`` is a short process: it must not import the sync stack or fitdecode.

A file the fast decoder reads is converted without importing requests, pydantic, the sync
pipeline, the other commands or fitdecode (the reference decoder is imported on first use).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RIDE = ROOT / "tests/data/fit/python-fitparse/garmin-edge-820-bike.fit"
HEAVY = (
    "requests",
    "pydantic",
    "boto3",
    "fitdecode",
    "ridelines.pipeline.sync",
    "ridelines_local.commands.sync",
)


def test_convert_imports_nothing_of_the_sync_stack(tmp_path: Path) -> None:
    out = tmp_path / "ride.geojson"
    probe = (
        "import json, sys\n"
        "from ridelines_local.cli import main\n"
        f"code = main(['convert', {str(RIDE)!r}, '-o', {str(out)!r}])\n"
        f"print(json.dumps({{'code': code, 'loaded': [m for m in {HEAVY!r} if m in sys.modules]}}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT / "local")])}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}
    assert json.loads(out.read_text())["geometry"]["type"] in ("LineString", "MultiLineString")


def test_help_still_lists_every_command() -> None:
    from ridelines_local.cli import COMMANDS, build_parser

    text = build_parser().format_help()
    assert all(name in text for name in COMMANDS)
