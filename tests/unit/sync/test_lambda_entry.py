"""The sync Lambda's edge: event validation, tippecanoe check, the thin handler module."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ridelines.adapters.memory import (
    MemoryBlobStore,
    MemorySyncStateRepository,
    MemoryUserRepository,
    RecordingInvoker,
)
from ridelines.errors import ConfigurationError
from ridelines.models import SyncStatus
from ridelines.pipeline import lambda_entry
from ridelines.pipeline.lambda_entry import SyncDeps, handle_sync_event

NOW = datetime(2026, 11, 28, tzinfo=UTC)


class FakeCipher:
    def encrypt(self, plaintext: str, athlete_id: str) -> bytes:
        return f"{athlete_id}:{plaintext}".encode()

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str:
        prefix, _, token = ciphertext.decode().partition(":")
        assert prefix == athlete_id
        return token


def deps() -> SyncDeps:
    return SyncDeps(
        states=MemorySyncStateRepository(),
        users=MemoryUserRepository(),
        cipher=FakeCipher(),
        blobs=MemoryBlobStore(),
        invoker=RecordingInvoker(),
        intervals_url="http://127.0.0.1:9",
        clock=lambda: NOW,
    )


def test_bad_event_is_rejected_with_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    d = deps()
    result = handle_sync_event({"athlete_id": "a/b", "sync_id": ""}, None, d)
    assert result["status"] == "rejected" and "athlete_id" in result["message"]
    assert d.states.get("a/b") is None  # type: ignore[attr-defined]
    assert any(
        r.getMessage() == "rejected an invalid sync event" and r.levelname == "ERROR" for r in caplog.records
    )


def test_missing_tippecanoe_fails_the_sync_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    d = deps()
    d.states.acquire("7", "s1", full=False, now=NOW, lease_seconds=60)

    def missing() -> str:
        raise ConfigurationError("tippecanoe not found")

    monkeypatch.setattr(lambda_entry, "_tippecanoe_checked", None)
    monkeypatch.setattr(lambda_entry, "find_tippecanoe", missing)
    result = handle_sync_event({"athlete_id": "7", "sync_id": "s1"}, None, d)
    assert result["status"] == "failed" and "Tippecanoe layer" in result["error"]
    record = d.states.get("7")
    assert record is not None and record.status is SyncStatus.FAILED and "tippecanoe" in (record.error or "")


def test_missing_token_fails_without_touching_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    d = deps()
    d.states.acquire("7", "s1", full=False, now=NOW, lease_seconds=60)
    monkeypatch.setattr(lambda_entry, "_tippecanoe_checked", "tippecanoe v2")
    result = handle_sync_event({"athlete_id": "7", "sync_id": "s1"}, None, d)
    assert result["status"] == "failed" and "log in again" in result["error"]
    assert d.blobs.objects == {}  # type: ignore[attr-defined]


def test_handler_module_imports_without_environment() -> None:
    path = Path(__file__).resolve().parents[3] / "lambdas" / "sync" / "handler.py"
    spec = importlib.util.spec_from_file_location("_sync_handler_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.lambda_handler)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIDELINES_SYNC_WORKERS", "2")
    monkeypatch.setenv("RIDELINES_SYNC_PUBLISH_RESERVE_SECONDS", "99")
    monkeypatch.setenv("RIDELINES_INCLUDE_VIRTUAL", "true")
    s = lambda_entry.settings_from_environment()
    assert s.workers == 2 and s.publish_reserve_seconds == 99 and s.include_virtual


def test_handler_rejects_a_bad_event_through_the_powertools_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(__file__).resolve().parents[3] / "lambdas" / "sync" / "handler.py"
    spec = importlib.util.spec_from_file_location("_sync_handler_bad_event", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "_deps", deps())

    class Context:
        function_name = "sync"
        memory_limit_in_mb = 1024
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:sync"
        aws_request_id = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    result = module.lambda_handler({"nope": True}, Context())
    assert result["status"] == "rejected" and result["error"] == "invalid_input"
