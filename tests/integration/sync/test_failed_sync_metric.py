"""The failed-sync alarm (stacks/constructs/alarms.py) watches Ridelines / sync.failed / service=sync.

CloudWatch matches an alarm to a metric by namespace, name and the *exact* dimension set, so the EMF
the sync Lambda prints must carry exactly that: one dimension ``service`` (Powertools adds it from
``POWERTOOLS_SERVICE_NAME``, which the stack sets to the function key) and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ridelines.errors import ConfigurationError
from ridelines.pipeline import lambda_entry

from .conftest import SyncWorld

# What the alarm watches: tests/infrastructure/test_stacks.py asserts these same values in the
# synthesized template (stacks.settings is not imported here: it would start jsii for three strings).
METRICS_NAMESPACE = "Ridelines"
SYNC_FAILED_METRIC = "sync.failed"
SYNC_SERVICE = "sync"


def failed_sync_metrics(out: str) -> list[dict[str, Any]]:
    """Every EMF blob on stdout that reports sync.failed, as (namespace, dimension sets, values)."""
    found = []
    for line in out.splitlines():
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == SYNC_FAILED_METRIC for m in directive["Metrics"]):
                dimension_sets = directive["Dimensions"]
                found.append(
                    {
                        "namespace": directive["Namespace"],
                        "dimensions": dimension_sets,
                        "values": {d: blob[d] for dims in dimension_sets for d in dims},
                        "value": blob[SYNC_FAILED_METRIC],
                    }
                )
    return found


def assert_alarm_sees(metrics: list[dict[str, Any]]) -> None:
    assert len(metrics) == 1, metrics
    (metric,) = metrics
    assert metric["namespace"] == METRICS_NAMESPACE
    assert metric["dimensions"] == [["service"]]  # exactly the alarm's dimension set
    assert metric["values"] == {"service": SYNC_SERVICE}
    assert metric["value"] in (1, 1.0, [1], [1.0])


def test_a_failed_sync_emits_the_metric_the_alarm_watches(
    world: SyncWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.standin.faults.inject(r"/api/v1/athlete/.*/activities", "401", times=1)
    capsys.readouterr()
    assert world.trigger()["status"] == "failed"
    assert_alarm_sees(failed_sync_metrics(capsys.readouterr().out))


def test_a_sync_that_cannot_start_emits_it_too(
    world: SyncWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> str:
        raise ConfigurationError("tippecanoe not found")

    monkeypatch.setattr(lambda_entry, "_tippecanoe_checked", None)
    monkeypatch.setattr(lambda_entry, "find_tippecanoe", missing)
    world.deps.check_tippecanoe = True
    capsys.readouterr()
    assert world.trigger()["status"] == "failed"
    assert_alarm_sees(failed_sync_metrics(capsys.readouterr().out))


def test_a_successful_sync_emits_no_failure(world: SyncWorld, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert world.trigger()["status"] == "succeeded"
    assert failed_sync_metrics(capsys.readouterr().out) == []
