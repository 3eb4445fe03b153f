from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def fw() -> ModuleType:
    """The test FIT encoder (tests use --import-mode=importlib, so helpers load by path)."""
    spec = importlib.util.spec_from_file_location("ridelines_test_fitwriter", HERE / "fitwriter.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
