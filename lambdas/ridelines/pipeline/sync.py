"""The incremental sync, one *leg* at a time: list, diff, download + convert, archive + tiles + publish.

A leg is one run of :func:`run_leg` (one Lambda invocation; the command line runs one leg that
never runs out of time). The rules it keeps:

* **Single flight.** The user API acquires the athlete's lease; a leg runs only if the stored
  record is its own active sync at this leg, claims the leg with one compare-and-swap (a
  concurrent duplicate delivery is ignored; Lambda's retry of a run that timed out or crashed
  takes the claim over and resumes from staging, see :mod:`ridelines.pipeline.checkpoint`) and
  renews the lease with every progress save. A save rejected because a newer sync
  took over stops the leg without writing anything more.
* **Nothing finished is lost, nothing stored is fetched twice.** Results are committed to
  staging in batches (:mod:`ridelines.pipeline.staging`) while downloading; a later leg or a
  later sync reuses every staged result whose content hash still matches the listing. The index
  only advances in the final merge, after the archive and tiles it describes are stored.
* **Order of the final merge:** archive (rewritten by streaming) -> tiles built and published ->
  index -> staging deleted. A crash between any two steps repeats the merge next time with the
  same inputs (publishing the same bytes is a no-op).
* **One activity failing never aborts the sync.** Transient failures (network, 5xx, 429, a cut
  transfer) are counted ``failed``, stay out of the index and are retried by the next sync; the
  old feature of a changed activity stays until its new one arrives. A file that arrives whole
  but cannot give a track is recorded with its status and reason and not fetched again until
  the activity changes.
* **Auth failures stop everything.** 401/403 from intervals.icu fail the sync with a clear
  error; the stored archive, index and tiles are untouched.
* **Out of time:** when the remaining time drops below the download reserve, the leg commits
  its batch, stores a checkpoint (:mod:`ridelines.pipeline.checkpoint`) and re-invokes itself;
  a leg that reaches publishing without the publish reserve hands publishing to a fresh leg.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from ridelines.archive import rewrite_archive
from ridelines.errors import (
    FitDecodeError,
    NotFound,
    RidelinesError,
    SyncInProgress,
    UpstreamAuthError,
    UpstreamError,
)
from ridelines.features import ActivityMeta
from ridelines.index import ActivityIndex, EntryStatus, IndexCorrupt, IndexEntry, decode_index, encode_index
from ridelines.intervals.batch import BatchPrefetcher, start_batch_prefetch
from ridelines.intervals.client import FileOutcome, IntervalsClient
from ridelines.intervals.models import IntervalsActivity
from ridelines.models import SyncCounts, SyncPhase, SyncRecord, SyncRequest, SyncStatus
from ridelines.pipeline.checkpoint import MAX_FAILED_IDS, Checkpoint
from ridelines.pipeline.convert_pool import ConvertPool
from ridelines.pipeline.early_map import EarlyMaps
from ridelines.pipeline.reporting import LoggingReporter, SyncReporter
from ridelines.pipeline.staging import BatchWriter, StagedResult, read_staged, staged_lines, staging_keys
from ridelines.ports import BlobStore, SyncInvoker, SyncStateRepository
from ridelines.publish import TilesPublisher
from ridelines.tile_parts import PartsIncomplete, build_tiles_in_parts, parts_prefix

log = logging.getLogger(__name__)

NO_GPS_STREAM_REASON = "intervals.icu lists no GPS stream for it"


@dataclass(frozen=True)
class SyncLayout:
    """Where one athlete's sync state lives in the blob store."""

    index_key: str
    archive_key: str
    staging_prefix: str

    @classmethod
    def for_athlete(cls, athlete_id: str) -> SyncLayout:
        base = f"athletes/{athlete_id}/"
        return cls(base + "activities.index", base + "activities.geojson.zst", base + "staging/")

    @classmethod
    def folder(cls) -> SyncLayout:
        """The command line's ``--out DIR``: files at the top of the folder."""
        return cls("activities.index", "activities.geojson.zst", ".staging/")


@dataclass(frozen=True)
class SyncSettings:
    workers: int = 4  # concurrent downloads (the shared rate limiter is the real bound)
    batch_size: int = 50  # results per staging batch...
    batch_seconds: float = 20.0  # ...or this old (bounds what a crash can lose)...
    batch_bytes: int = 32 * 1024 * 1024  # ...or this many bytes of features
    lease_seconds: int = 600  # renewed with every progress save
    download_reserve_seconds: float = 60.0  # stop downloading below this much Lambda time
    publish_reserve_seconds: float = 180.0  # hand publishing to a fresh leg below this
    max_legs: int = 50
    include_virtual: bool = False
    convert_processes: int = 0  # >1: convert in that many processes (ridelines.pipeline.convert_pool)
    # issue 12, off by default until the Lambda tests that pin one publish per sync and per-file
    # requests are updated (the command line and the benchmarks turn them on):
    batch_downloads: bool = False  # download-fit-files batches ahead of the converters
    early_maps: bool = False  # a first sync publishes its newest rides early
    progress_interval_seconds: float = 2.0


class LegStatus(StrEnum):
    SUCCEEDED = "succeeded"
    CONTINUED = "continued"  # checkpointed; the next leg was invoked
    FAILED = "failed"
    SKIPPED = "skipped"  # not this leg's sync (superseded, duplicate, finished)


@dataclass
class LegResult:
    status: LegStatus
    counts: SyncCounts
    error: RidelinesError | None = None
    checkpoint: dict[str, Any] | None = None
    tiles_key: str | None = None
    published: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "counts": self.counts.model_dump(),
            "error": self.error.message if self.error else None,
        }


@dataclass
class SyncJob:
    """Everything one leg needs (built by the Lambda composition or the CLI)."""

    request: SyncRequest
    client_factory: Callable[[], IntervalsClient]
    blobs: BlobStore
    layout: SyncLayout
    publisher: TilesPublisher
    states: SyncStateRepository
    workdir: Path
    intervals_athlete_id: str = "0"
    invoker: SyncInvoker | None = None
    remaining_seconds: Callable[[], float] | None = None
    reporter: SyncReporter = field(default_factory=LoggingReporter)
    settings: SyncSettings = field(default_factory=SyncSettings)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_finished: Callable[[SyncRecord], None] | None = None
    invocation_id: str | None = None  # the Lambda request id (the same in Lambda's retries of it)


@dataclass(frozen=True, slots=True)
class _Outcome:
    activity_id: str
    content_hash: bytes
    failed: bool = False
    status: EntryStatus = EntryStatus.TRACK
    reason: str = ""
    feature: dict[str, Any] | None = None
    downloaded: bool = False


class _Superseded(Exception):
    """The stored record belongs to another sync now: stop without writing."""


CLAIM_SLACK_SECONDS = 30.0  # clock skew between the claiming run and a later delivery


def run_leg(job: SyncJob) -> LegResult:
    request = job.request
    event_leg = Checkpoint.from_event(request.checkpoint).leg
    record = job.states.get(request.athlete_id)
    if record is None or record.sync_id != request.sync_id or not record.status.active:
        log.warning("sync %s is not this athlete's active sync; nothing to do", request.sync_id)
        return LegResult(LegStatus.SKIPPED, record.counts if record else SyncCounts())
    # the stored checkpoint is the truth for this leg (it also holds what a dead run committed)
    stored = Checkpoint.from_event(record.checkpoint)
    if stored.leg != event_leg:
        log.warning(
            "event for leg %d of sync %s, which is at leg %d; stale event ignored",
            event_leg,
            request.sync_id,
            stored.leg,
        )
        return LegResult(LegStatus.SKIPPED, record.counts)
    now = job.clock()
    if stored.claimed:
        if job.invocation_id and stored.claim_id == job.invocation_id:
            log.warning(
                "leg %d was retried by Lambda after its run failed; resuming from staging", stored.leg
            )
        elif stored.claimed_until is not None and stored.claimed_until <= now.timestamp():
            log.warning(
                "leg %d's run is past its deadline without finishing; resuming from staging", stored.leg
            )
        else:
            log.warning(
                "leg %d of sync %s is already running; duplicate event ignored", stored.leg, request.sync_id
            )
            return LegResult(LegStatus.SKIPPED, record.counts)
    remaining = job.remaining_seconds() if job.remaining_seconds else float(job.settings.lease_seconds)
    claimed = stored.model_copy(
        update={
            "claimed": True,
            "claim_id": job.invocation_id,
            "claimed_until": now.timestamp() + remaining + CLAIM_SLACK_SECONDS,
        }
    )
    claim = record.model_copy(
        update={
            "status": SyncStatus.RUNNING,
            "checkpoint": claimed.to_dict(),
            "lease_expires_at": now + timedelta(seconds=job.settings.lease_seconds),
        }
    )
    try:
        won = job.states.save_if_unchanged(claim, expected=record)
    except RidelinesError:
        won = False
    if not won:
        log.warning("another delivery claimed leg %d of sync %s first; ignored", stored.leg, request.sync_id)
        return LegResult(LegStatus.SKIPPED, record.counts)
    return _Leg(job, claim, claimed).run()


class _Leg:
    def __init__(self, job: SyncJob, record: SyncRecord, checkpoint: Checkpoint) -> None:
        self.job = job
        self.settings = job.settings
        self.record = record
        self.checkpoint = checkpoint  # claimed by run_leg
        self.counts = SyncCounts()
        self.downloaded = checkpoint.downloaded
        self.download_skips = checkpoint.download_skips
        self.failed = checkpoint.failed
        self.failed_ids: list[str] = list(checkpoint.failed_ids)
        self.listing_skips = 0
        self.leg_downloaded = 0
        self.leg_processed = 0
        self._prefetch: BatchPrefetcher | None = None  # batch downloads ahead of the converters
        self._early: EarlyMaps | None = None  # first sync: publish the newest rides early
        self._converter = ConvertPool(0)  # replaced for the download phase (convert_processes)
        self.last_save = 0.0
        self.started = time.perf_counter()

    # -- bookkeeping ------------------------------------------------------------------------------

    def _refresh_counts(self) -> None:
        self.counts.downloaded = self.downloaded
        self.counts.failed = self.failed
        self.counts.skipped = self.listing_skips + self.download_skips

    def _save(
        self,
        *,
        phase: SyncPhase | None = None,
        status: SyncStatus = SyncStatus.RUNNING,
        checkpoint: Checkpoint | None = None,
        error: str | None = None,
        finished: bool = False,
    ) -> None:
        self._refresh_counts()
        now = self.job.clock()
        update: dict[str, Any] = {
            "status": status,
            "counts": self.counts.model_copy(),
            "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds),
            "checkpoint": (checkpoint or self.checkpoint).to_dict() if not finished else None,
            "error": error,
        }
        if phase is not None:
            update["phase"] = phase
        if finished:
            update["finished_at"] = now
        candidate = self.record.model_copy(update=update)
        try:
            self.job.states.save(candidate)
        except (SyncInProgress, NotFound) as exc:
            raise _Superseded(str(exc)) from None
        self.record = candidate
        self.last_save = time.monotonic()

    def _phase(self, phase: SyncPhase) -> None:
        self.job.reporter.phase(phase)
        self._save(phase=phase)

    def _time_short(self, reserve: float) -> bool:
        remaining = self.job.remaining_seconds
        return remaining is not None and remaining() < reserve

    # -- the leg ----------------------------------------------------------------------------------

    def run(self) -> LegResult:
        request = self.job.request
        if self.checkpoint.leg >= self.settings.max_legs:
            return self._fail(RidelinesError(f"the sync did not finish within {self.settings.max_legs} runs"))
        try:
            self._phase(SyncPhase.LIST)
            client = self.job.client_factory()
            try:
                return self._run(client)
            finally:
                client.close()
        except _Superseded as exc:
            log.warning("sync %s was superseded (%s); stopping", request.sync_id, exc)
            return LegResult(LegStatus.SKIPPED, self.counts)
        except UpstreamAuthError as exc:
            return self._fail(
                UpstreamAuthError(
                    "intervals.icu refused the stored credentials; log in again to reconnect",
                    status=exc.status,
                )
            )
        except RidelinesError as exc:
            return self._fail(exc)
        except Exception as exc:  # a bug must still end the sync cleanly, never hold the lease
            log.exception("sync %s failed unexpectedly", request.sync_id)
            return self._fail(
                RidelinesError(f"the sync failed unexpectedly ({type(exc).__name__})", code="internal_error")
            )

    def _fail(self, error: RidelinesError) -> LegResult:
        log.error("sync failed: %s", error.message, extra={"sync_failure": True})
        self.job.reporter.metric("sync.failed", 1, "Count")
        try:
            self._save(status=SyncStatus.FAILED, error=error.message, finished=True)
        except _Superseded:
            return LegResult(LegStatus.SKIPPED, self.counts, error=error)
        self._finished()
        return LegResult(LegStatus.FAILED, self.counts, error=error)

    def _finished(self) -> None:
        if self.job.on_finished is not None:
            try:
                self.job.on_finished(self.record)
            except Exception as exc:  # e.g. the account was deleted meanwhile; the sync itself is done
                log.warning("could not record the sync summary (%s)", type(exc).__name__)

    def _run(self, client: IntervalsClient) -> LegResult:
        job = self.job
        index, index_trusted, index_found = self._load_index()
        full = job.request.full or not index_trusted
        activities = list(client.list_activities(job.intervals_athlete_id))
        self.counts.listed = len(activities)

        self._phase(SyncPhase.DIFF)
        listed: dict[str, tuple[IntervalsActivity, bytes]] = {}
        for activity in activities:
            if activity.has_no_file:
                self.listing_skips += 1
            else:
                listed[activity.id] = (activity, activity.content_hash())
        del activities
        staged = read_staged(job.blobs, job.layout.staging_prefix)
        to_fetch: list[tuple[IntervalsActivity, bytes]] = []
        decided: dict[str, IndexEntry] = {}
        failed_before = set(self.failed_ids)
        for activity_id, (activity, content_hash) in listed.items():
            old = None if full else index.get(activity_id)
            if old is None:
                self.counts.new += 1
            elif old.hash != content_hash:
                self.counts.changed += 1
            else:
                self.counts.unchanged += 1
                continue
            done = staged.get(activity_id)
            if done is not None and done.hash == content_hash:
                continue
            if activity.known_without_gps:
                decided[activity_id] = IndexEntry(
                    activity_id, content_hash, EntryStatus.NO_TRACK, NO_GPS_STREAM_REASON
                )
                self.listing_skips += 1
                continue
            if activity_id not in failed_before:
                to_fetch.append((activity, content_hash))
        deleted = [e.id for e in index if e.id not in listed] if index_trusted else []
        self.counts.deleted = len(deleted)

        self._phase(SyncPhase.DOWNLOAD)
        job.reporter.planned(len(to_fetch))
        finished_downloads = self._download(client, to_fetch)
        job.reporter.metric("sync.activities.downloaded", self.leg_downloaded, "Count")
        job.reporter.metric("sync.activities.processed", self.leg_processed, "Count")
        if not finished_downloads:
            return self._hand_off("download")
        if self.leg_processed and self._time_short(self.settings.publish_reserve_seconds):
            return self._hand_off("publish")

        self._phase(SyncPhase.PUBLISH)
        try:
            return self._merge_and_publish(
                index if index_trusted else ActivityIndex(),
                index_found and index_trusted,
                listed,
                decided,
                deleted,
                full,
            )
        except PartsIncomplete:  # the parts tiled so far are stored: a fresh leg tiles the rest
            return self._hand_off("publish")

    def _load_index(self) -> tuple[ActivityIndex, bool, bool]:
        raw = self.job.blobs.get_bytes(self.job.layout.index_key)
        if raw is None:
            return ActivityIndex(), True, False
        try:
            return decode_index(raw), True, True
        except IndexCorrupt as exc:
            log.warning("the stored activity index is unusable (%s); running a full sync", exc)
            return ActivityIndex(), False, True

    # -- download + convert -----------------------------------------------------------------------

    def _download(self, client: IntervalsClient, to_fetch: list[tuple[IntervalsActivity, bytes]]) -> bool:
        """Fetch and convert with a small pool; commit staging batches as they fill.
        Returns False when it stopped early for lack of time."""
        settings = self.settings
        batch = BatchWriter(self.job.blobs, self.job.layout.staging_prefix, self.job.workdir)
        pending: dict[Future[_Outcome], str] = {}
        queue = iter(to_fetch)
        exhausted = not to_fetch
        submitted = 0
        pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="sync-download")
        if settings.batch_downloads:
            self._prefetch = start_batch_prefetch(client, self.job.intervals_athlete_id, to_fetch)
        self._converter = ConvertPool(settings.convert_processes if len(to_fetch) > settings.workers else 0)
        if settings.early_maps and to_fetch and self.job.publisher.current_key() is None:  # a first sync
            self._early = EarlyMaps(
                self.job.blobs,
                self.job.layout.staging_prefix,
                self._build_tiles,
                self.job.publisher,
                self.job.workdir,
            )
        try:
            while True:
                while not exhausted and len(pending) < settings.workers * 2:
                    if submitted >= settings.workers and self._time_short(settings.download_reserve_seconds):
                        break
                    item = next(queue, None)
                    if item is None:
                        exhausted = True
                        break
                    pending[pool.submit(self._fetch_one, client, *item)] = item[0].id
                    submitted += 1
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.pop(future)
                    self._record(batch, future.result())  # only auth errors propagate
                if self._batch_due(batch):
                    self._commit(batch)
                elif time.monotonic() - self.last_save >= settings.progress_interval_seconds:
                    self._save(phase=SyncPhase.DOWNLOAD)
            self._commit(batch)
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for future in pending:  # keep what finished meanwhile
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._record(batch, future.result())
            try:
                self._commit(batch)
            except Exception:
                log.exception("could not commit the last staging batch")
                batch.discard()
            raise
        finally:
            pool.shutdown(wait=True)
            if self._prefetch is not None:
                self._prefetch.close()
            self._converter.close()
        return exhausted

    def _batch_due(self, batch: BatchWriter) -> bool:
        s = self.settings
        return len(batch) > 0 and (
            len(batch) >= s.batch_size
            or batch.feature_bytes >= s.batch_bytes
            or time.monotonic() - batch.started >= s.batch_seconds
        )

    def _commit(self, batch: BatchWriter) -> None:
        if batch.commit():
            self.checkpoint = self.checkpoint.model_copy(
                update={
                    "staged_batches": self.checkpoint.staged_batches + 1,
                    "downloaded": self.downloaded,
                    "download_skips": self.download_skips,
                    "failed": self.failed,
                    "failed_ids": self.failed_ids[:MAX_FAILED_IDS],
                }
            )
            self._save(phase=SyncPhase.DOWNLOAD)
            if self._early is not None:
                self._early.after_commit()

    def _record(self, batch: BatchWriter, outcome: _Outcome) -> None:
        self.leg_processed += 1
        if outcome.downloaded:
            self.downloaded += 1
            self.leg_downloaded += 1
        if outcome.failed:
            self.failed += 1
            if len(self.failed_ids) < MAX_FAILED_IDS:
                self.failed_ids.append(outcome.activity_id)
            log.warning(
                "activity %s failed for now (%s); it will be retried next sync",
                outcome.activity_id,
                outcome.reason,
            )
        else:
            if outcome.status is not EntryStatus.TRACK:
                self.download_skips += 1
                log.info("activity %s has no track: %s", outcome.activity_id, outcome.reason)
            batch.add(
                outcome.activity_id, outcome.content_hash, outcome.status, outcome.reason, outcome.feature
            )
        self._refresh_counts()
        self.job.reporter.progress(self.counts)

    def _fetch_one(
        self, client: IntervalsClient, activity: IntervalsActivity, content_hash: bytes
    ) -> _Outcome:
        try:
            file = (self._prefetch and self._prefetch.take(activity.id)) or client.download_file(activity.id)
        except UpstreamAuthError:
            raise
        except (UpstreamError, OSError) as exc:
            return _Outcome(activity.id, content_hash, failed=True, reason=str(exc)[:200])
        except Exception as exc:
            return _Outcome(activity.id, content_hash, failed=True, reason=type(exc).__name__)
        if file.outcome is FileOutcome.NO_FILE:
            return _Outcome(activity.id, content_hash, status=EntryStatus.NO_FILE, reason=file.reason)
        if file.outcome is FileOutcome.NOT_FIT or file.fit is None:
            return _Outcome(
                activity.id, content_hash, status=EntryStatus.NOT_FIT, reason=file.reason, downloaded=True
            )
        meta = ActivityMeta(
            id=activity.id,
            name=activity.name,
            type=activity.type,
            start=activity.start,
            distance_m=activity.distance,
            moving_s=activity.moving_time,
            elevation_gain_m=activity.total_elevation_gain,
            trainer=bool(activity.trainer),
            virtual=True if activity.is_virtual else None,
        )
        try:
            feature = self._converter.convert(file.fit, meta, f"activity {activity.id}")
        except FitDecodeError as exc:
            return _Outcome(
                activity.id,
                content_hash,
                status=EntryStatus.UNDECODABLE,
                reason=exc.message[:300],
                downloaded=True,
            )
        except Exception as exc:
            log.exception("converter failed on activity %s", activity.id)
            return _Outcome(
                activity.id,
                content_hash,
                status=EntryStatus.UNDECODABLE,
                reason=f"converter error ({type(exc).__name__})",
                downloaded=True,
            )
        if feature is None:
            return _Outcome(
                activity.id, content_hash, status=EntryStatus.NO_TRACK, reason="no GPS track", downloaded=True
            )
        return _Outcome(activity.id, content_hash, feature=feature, downloaded=True)

    # -- checkpoint + hand-off --------------------------------------------------------------------

    def _hand_off(self, phase: str) -> LegResult:
        request = self.job.request
        next_checkpoint = Checkpoint(
            leg=self.checkpoint.leg + 1,
            phase=phase,
            downloaded=self.downloaded,
            download_skips=self.download_skips,
            failed=self.failed,
            failed_ids=self.failed_ids[:MAX_FAILED_IDS],
            staged_batches=self.checkpoint.staged_batches,
            claimed=False,
        )
        self._save(checkpoint=next_checkpoint)
        payload: dict[str, Any] = {
            "athlete_id": request.athlete_id,
            "sync_id": request.sync_id,
            "full": request.full,
            "checkpoint": next_checkpoint.to_dict(),
        }
        log.info("out of time: checkpoint saved, continuing in leg %d (%s)", next_checkpoint.leg, phase)
        if self.job.invoker is not None:
            self.job.invoker.invoke(payload)
        return LegResult(LegStatus.CONTINUED, self.counts, checkpoint=payload["checkpoint"])

    # -- merge + publish --------------------------------------------------------------------------

    def _merge_and_publish(
        self,
        index: ActivityIndex,
        index_usable: bool,
        listed: dict[str, tuple[IntervalsActivity, bytes]],
        decided: dict[str, IndexEntry],
        deleted: list[str],
        full: bool,
    ) -> LegResult:
        job = self.job
        keys_before = staging_keys(job.blobs, job.layout.staging_prefix)
        staged = read_staged(job.blobs, job.layout.staging_prefix)
        final: dict[str, IndexEntry] = {}
        from_staging: dict[str, StagedResult] = {}
        for activity_id, (_activity, content_hash) in listed.items():
            old = index.get(activity_id)
            done = staged.get(activity_id)
            if done is not None and done.hash == content_hash:
                if old is not None and not full and old.hash == done.hash and old.status is done.status:
                    final[activity_id] = old  # merged already (a crash after the index write)
                else:
                    final[activity_id] = IndexEntry(activity_id, done.hash, done.status, done.reason)
                    from_staging[activity_id] = done
            elif activity_id in decided:
                final[activity_id] = decided[activity_id]
            elif old is not None:
                final[activity_id] = old  # unchanged, or changed but not fetched yet: keep the old one
        current_tiles = job.publisher.current_key()
        changed = bool(
            from_staging or decided or deleted or full or not index_usable or current_tiles is None
        )
        if not changed:
            self._delete_keys(keys_before)
            return self._succeed(published=False, tiles_key=current_tiles)

        workdir = Path(tempfile.mkdtemp(prefix="merge-", dir=job.workdir))
        try:
            old_archive = workdir / "old.geojson.zst"
            have_old = index_usable and job.blobs.download_file(job.layout.archive_key, old_archive)
            new_archive = workdir / "activities.geojson.zst"
            written = rewrite_archive(
                old_archive if have_old else None,
                new_archive,
                keep=lambda i: i in final and i not in from_staging and final[i].has_track,
                additions=staged_lines(job.blobs, from_staging, workdir),
            )
            for activity_id in [i for i, e in final.items() if e.has_track and i not in written]:
                log.warning(
                    "activity %s has no feature in the archive; it will be fetched again", activity_id
                )
                del final[activity_id]
            started = time.perf_counter()
            job.blobs.put_file(job.layout.archive_key, new_archive, content_type="application/zstd")
            archive_upload = time.perf_counter() - started
            old_archive.unlink(missing_ok=True)

            pmtiles = workdir / "activities.pmtiles"
            self._build_tiles(new_archive, pmtiles, workdir)
            result = job.publisher.publish(pmtiles)
            job.reporter.metric(
                "sync.s3.upload.duration", (archive_upload + result.upload_seconds) * 1000, "Milliseconds"
            )
            if result.previous_key and result.changed:
                job.reporter.metric(
                    "cloudfront.invalidation.duration", result.invalidation_seconds * 1000, "Milliseconds"
                )
            job.blobs.put_bytes(
                job.layout.index_key,
                encode_index(ActivityIndex(final.values())),
                content_type="application/octet-stream",
            )
        finally:
            for path in sorted(workdir.glob("*")):
                path.unlink(missing_ok=True)
            workdir.rmdir()
        self._delete_keys(keys_before)
        return self._succeed(published=result.changed, tiles_key=result.key)

    def _build_tiles(self, archive: Path, pmtiles: Path, workdir: Path) -> None:
        """The map from the archive, by parts: only the parts whose content changed are re-tiled
        (:mod:`ridelines.tile_parts`), then merged into the one published file. The single point
        where the sync's features go into Tippecanoe (early maps too): privacy belongs here, as
        ``transform=`` with its settings in ``transform_key``."""
        built = build_tiles_in_parts(
            archive,
            pmtiles,
            blobs=self.job.blobs,
            prefix=parts_prefix(self.job.layout.archive_key),
            workdir=workdir,
            include_virtual=self.settings.include_virtual,
            out_of_time=lambda: self._time_short(self.settings.publish_reserve_seconds / 2),
        )
        self.job.reporter.metric("sync.tiles.generated", 1, "Count")
        self.job.reporter.metric("sync.tiles.parts_tiled", built.tippecanoe_runs, "Count")

    def _delete_keys(self, keys: list[str]) -> None:
        for key in keys:
            self.job.blobs.delete(key)

    def _succeed(self, *, published: bool, tiles_key: str | None) -> LegResult:
        self._save(phase=SyncPhase.DONE, status=SyncStatus.SUCCEEDED, finished=True)
        elapsed = (self.job.clock() - self.record.started_at).total_seconds()
        self.job.reporter.metric("sync.duration.total", max(elapsed, 0.0) * 1000, "Milliseconds")
        self._finished()
        log.info("sync finished: %s", self.counts.model_dump())
        return LegResult(LegStatus.SUCCEEDED, self.counts, tiles_key=tiles_key, published=published)
