"""The sync Lambda's composition: AWS adapters + Powertools around :func:`ridelines.pipeline.sync.run_leg`.

``lambdas/sync/handler.py`` is a thin wrapper over :func:`handle_sync_event` with
:meth:`SyncDeps.from_environment`; the local stack calls the same two with its own invoker.
Every log line carries ``athlete_id``, ``sync_id`` and ``phase`` (the domain modules' standard
loggers get the Powertools formatter); metrics go out as EMF under ``POWERTOOLS_METRICS_NAMESPACE``
(default ``Ridelines``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from ridelines import settings
from ridelines.erasure import FencedBlobStore, athlete_prefixes
from ridelines.errors import ConfigurationError, RidelinesError, SyncInProgress, UpstreamAuthError
from ridelines.intervals.client import Credentials, IntervalsClient
from ridelines.models import SyncCounts, SyncPhase, SyncRecord, SyncRequest, SyncStatus
from ridelines.pipeline.checkpoint import Checkpoint
from ridelines.pipeline.gave_up import is_gave_up_event, mark_gave_up
from ridelines.pipeline.reporting import LoggingReporter
from ridelines.pipeline.sync import (
    LegResult,
    LegStatus,
    SyncJob,
    SyncLayout,
    SyncSettings,
    published_privacy_version,
    run_leg,
)
from ridelines.ports import (
    ErasableBlobStore,
    SyncInvoker,
    SyncStateRepository,
    TokenCipher,
    UserRepository,
)
from ridelines.privacy import StoredPrivacy, privacy_version
from ridelines.publish import CdnTilesPublisher
from ridelines.tiling import check_tippecanoe, find_tippecanoe

SERVICE = "sync"
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Ridelines"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
)
tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))

# Environment knobs of the sync (all optional)
SYNC_WORKERS = "RIDELINES_SYNC_WORKERS"
SYNC_DOWNLOAD_RESERVE_SECONDS = "RIDELINES_SYNC_DOWNLOAD_RESERVE_SECONDS"
SYNC_PUBLISH_RESERVE_SECONDS = "RIDELINES_SYNC_PUBLISH_RESERVE_SECONDS"
SYNC_LEASE_SECONDS = "RIDELINES_SYNC_LEASE_SECONDS"

_tippecanoe_checked: str | None = None


def _required(name: str) -> str:
    value = settings.env(name)
    if not value:
        raise ConfigurationError(f"the sync Lambda needs the environment variable {name}")
    return value


def settings_from_environment() -> SyncSettings:
    defaults = SyncSettings()
    return SyncSettings(
        workers=int(settings.env(SYNC_WORKERS, str(defaults.workers)) or defaults.workers),
        download_reserve_seconds=float(
            settings.env(SYNC_DOWNLOAD_RESERVE_SECONDS, "") or defaults.download_reserve_seconds
        ),
        publish_reserve_seconds=float(
            settings.env(SYNC_PUBLISH_RESERVE_SECONDS, "") or defaults.publish_reserve_seconds
        ),
        lease_seconds=int(settings.env(SYNC_LEASE_SECONDS, "") or defaults.lease_seconds),
        include_virtual=settings.flag(settings.INCLUDE_VIRTUAL),
    )


@dataclass
class SyncDeps:
    states: SyncStateRepository
    users: UserRepository
    cipher: TokenCipher
    blobs: ErasableBlobStore
    # no CDN invalidator: published keys are content-hashed, so a publish invalidates nothing
    # (ridelines.publish); erasure's one invalidation is the user API's
    invoker: SyncInvoker
    intervals_url: str = field(default_factory=settings.intervals_url)
    sync_settings: SyncSettings = field(default_factory=SyncSettings)
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # tests pass a factory with fast retries; None = the default client
    client_factory: Callable[[Credentials, str], IntervalsClient] | None = None
    check_tippecanoe: bool = True

    @classmethod
    def from_environment(cls, **overrides: Any) -> SyncDeps:
        """Adapters from the variables the stacks set; any field can be overridden (tests, local stack)."""

        def lazy(name: str, build: Callable[[], Any]) -> Any:
            return overrides.pop(name) if name in overrides else build()

        from ridelines.adapters.aws.invoker import LambdaSyncInvoker
        from ridelines.adapters.aws.kms import KmsTokenCipher
        from ridelines.adapters.aws.s3 import S3BlobStore
        from ridelines.adapters.aws.sync_state import DynamoSyncStateRepository
        from ridelines.adapters.aws.users import DynamoUserRepository

        deps = cls(
            states=lazy("states", lambda: DynamoSyncStateRepository(_required(settings.SYNC_TABLE_NAME))),
            users=lazy("users", lambda: DynamoUserRepository(_required(settings.USERS_TABLE_NAME))),
            cipher=lazy("cipher", lambda: KmsTokenCipher(_required(settings.TOKEN_KMS_KEY_ID))),
            blobs=lazy("blobs", lambda: S3BlobStore(_required(settings.S3_BUCKET))),
            invoker=lazy(
                "invoker",
                lambda: LambdaSyncInvoker(
                    settings.env(settings.SYNC_LAMBDA_FUNCTION_NAME) or _required("AWS_LAMBDA_FUNCTION_NAME")
                ),
            ),
            sync_settings=lazy("sync_settings", settings_from_environment),
        )
        return replace(deps, **overrides) if overrides else deps


class PowertoolsReporter(LoggingReporter):
    """Phase into every log line, metrics as EMF."""

    def phase(self, phase: SyncPhase) -> None:
        logger.append_keys(phase=phase.value)
        super().phase(phase)

    def metric(self, name: str, value: float, unit: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


def _remaining_seconds(context: Any) -> Callable[[], float] | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if getter is None:
        return None
    return lambda: float(getter()) / 1000.0


# the domain modules a sync runs through; they log with standard loggers
SYNC_LOGGERS = (
    "ridelines.pipeline",
    "ridelines.intervals",
    "ridelines.archive",
    "ridelines.publish",
    "ridelines.tiling",
    "ridelines.features",
    "ridelines.fit",
)
_logs_routed = False


def _route_domain_logs() -> None:
    """Give the sync's domain loggers the Powertools handler, so their lines are JSON and carry the
    appended keys too (athlete_id, sync_id, phase). Only these loggers: other areas sharing the
    process (the local stack, a test worker) keep their own logging."""
    global _logs_routed
    if _logs_routed:
        return
    logger.append_keys(name="%(name)s")
    for name in SYNC_LOGGERS:
        domain = logging.getLogger(name)
        domain.handlers = list(logger.handlers)
        domain.propagate = False  # Lambda's root handler would print each line twice
        domain.setLevel(logger.log_level)
    _logs_routed = True


def _ensure_tippecanoe() -> None:
    global _tippecanoe_checked
    if _tippecanoe_checked is None:
        _tippecanoe_checked = check_tippecanoe(find_tippecanoe())
        logger.info("tippecanoe available", extra={"tippecanoe": _tippecanoe_checked})


def _fail_before_start(request: SyncRequest, deps: SyncDeps, error: RidelinesError) -> dict[str, Any]:
    """Record a failure that happened before the leg could start (only for our own active sync)."""
    metrics.add_metric(name="sync.failed", unit=MetricUnit.Count, value=1)
    logger.error("sync cannot run", extra={"error": error.message})
    record = deps.states.get(request.athlete_id)
    if record is not None and record.sync_id == request.sync_id and record.status.active:
        now = deps.clock()
        failed: SyncRecord = record.model_copy(
            update={
                "status": SyncStatus.FAILED,
                "error": error.message,
                "finished_at": now,
                "lease_expires_at": now,
                "checkpoint": None,
            }
        )
        with contextlib.suppress(RidelinesError):
            deps.states.save(failed)
    return {"status": LegStatus.FAILED.value, "sync_id": request.sync_id, "error": error.message}


def handle_sync_event(event: Mapping[str, Any] | Any, context: Any, deps: SyncDeps) -> dict[str, Any]:
    _route_domain_logs()
    if is_gave_up_event(event):  # the on-failure destination / dead-letter queue
        marked = mark_gave_up(event, deps.states, deps.clock)
        for sync_id in marked:
            logger.error(
                "sync failed: Lambda gave up on it", extra={"sync_id": sync_id, "sync_failure": True}
            )
            metrics.add_metric(name="sync.failed", unit=MetricUnit.Count, value=1)
        if metrics.metric_set:
            metrics.flush_metrics(raise_on_empty_metrics=False)
        return {"status": "marked_failed", "sync_ids": marked}
    try:
        request = SyncRequest.model_validate(event)
        Checkpoint.from_event(request.checkpoint)  # a malformed checkpoint is a bad event too
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "event" for e in exc.errors()})
        logger.error("rejected an invalid sync event", extra={"invalid_fields": fields})
        return {"status": "rejected", "error": "invalid_input", "message": f"invalid sync event: {fields}"}
    logger.append_keys(athlete_id=request.athlete_id, sync_id=request.sync_id, phase=SyncPhase.QUEUED.value)
    try:
        if deps.check_tippecanoe:
            try:
                _ensure_tippecanoe()
            except ConfigurationError as exc:
                return _fail_before_start(
                    request,
                    deps,
                    ConfigurationError(
                        f"tile builder missing: {exc.message} (is the Tippecanoe layer attached?)"
                    ),
                )
        result = run_leg(_job(request, context, deps))
        logger.info(
            "sync leg ended", extra={"leg_status": result.status.value, "counts": result.counts.model_dump()}
        )
        return {"sync_id": request.sync_id, **result.summary()}
    finally:
        if metrics.metric_set:  # a rejected or skipped event has nothing to report
            metrics.flush_metrics(raise_on_empty_metrics=False)
        logger.remove_keys(["athlete_id", "sync_id", "phase"])


def _job(request: SyncRequest, context: Any, deps: SyncDeps) -> SyncJob:
    athlete_id = request.athlete_id

    def client_factory() -> IntervalsClient:
        user = deps.users.get(athlete_id)
        if user is None or not user.encrypted_token:
            raise UpstreamAuthError("no intervals.icu connection is stored for this athlete")
        credentials = Credentials(bearer_token=deps.cipher.decrypt(user.encrypted_token, athlete_id))
        if deps.client_factory is not None:
            return deps.client_factory(credentials, deps.intervals_url)
        return IntervalsClient(credentials, base_url=deps.intervals_url)

    def alive() -> bool:
        return deps.users.get(athlete_id) is not None

    def erase() -> None:
        # the account is gone (DELETE /api/user ran): remove what this sync wrote, in every version
        for prefix in athlete_prefixes(athlete_id):
            deps.blobs.purge(prefix)
        deps.states.delete(athlete_id)

    # every write of the sync goes through the deletion fence (ridelines.erasure)
    blobs = FencedBlobStore(deps.blobs, alive=alive, erase=erase)
    layout = SyncLayout.for_athlete(athlete_id)

    def privacy() -> StoredPrivacy | None:
        user = deps.users.get(athlete_id)
        return user.privacy if user else None

    def on_finished(record: SyncRecord) -> None:
        user = deps.users.get(athlete_id)
        if user is None:  # the account was deleted meanwhile: never resurrect it
            deps.states.delete(athlete_id)
            return
        deps.users.set_last_sync(
            athlete_id,
            {
                "sync_id": record.sync_id,
                "status": record.status.value,
                "counts": record.counts.model_dump(),
                "finished_at": record.finished_at.isoformat() if record.finished_at else None,
                "error": record.error,
            },
            deps.clock(),
        )
        if record.status is SyncStatus.SUCCEEDED:
            _follow_privacy_change(request, deps, user.privacy, layout)

    return SyncJob(
        request=request,
        client_factory=client_factory,
        blobs=blobs,
        layout=layout,
        publisher=CdnTilesPublisher(athlete_id, blobs=blobs, users=deps.users, clock=deps.clock),
        states=deps.states,
        workdir=deps.workdir,
        intervals_athlete_id=athlete_id,
        invoker=deps.invoker,
        remaining_seconds=_remaining_seconds(context),
        reporter=PowertoolsReporter(),
        settings=deps.sync_settings,
        clock=deps.clock,
        on_finished=on_finished,
        invocation_id=getattr(context, "aws_request_id", None),
        privacy=privacy,
    )


def _follow_privacy_change(
    request: SyncRequest, deps: SyncDeps, current: StoredPrivacy | None, layout: SyncLayout
) -> None:
    """Privacy settings changed after this sync cut its tiles (their ``PUT`` found this sync
    running and left the change to it): queue a re-tiling sync now that the lease is free."""
    if published_privacy_version(deps.blobs, layout) == privacy_version(current):
        return
    sync_id = uuid.uuid4().hex
    try:
        deps.states.acquire(
            request.athlete_id,
            sync_id,
            full=False,
            now=deps.clock(),
            lease_seconds=deps.sync_settings.lease_seconds,
        )
    except SyncInProgress:
        return  # another sync started meanwhile; it cuts with the new settings
    logger.info("privacy changed during the sync; re-tiling", extra={"follow_up_sync_id": sync_id})
    deps.invoker.invoke(
        SyncRequest(athlete_id=request.athlete_id, sync_id=sync_id, retile=True).model_dump(exclude_none=True)
    )


__all__ = ["LegResult", "SyncCounts", "SyncDeps", "handle_sync_event", "logger", "metrics", "tracer"]
