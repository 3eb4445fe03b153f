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
  The intervals.icu client gets the leg's budget (remaining time minus
  :data:`CHECKPOINT_RESERVE_SECONDS`): no request, back-off or Retry-After pause runs past it,
  so a 429 storm ends in a checkpoint, never in a killed run.
* **A bad listing entry is one bad entry** (:mod:`ridelines.intervals.listing`): it is counted
  ``skipped`` and its stored ride is kept; an entry whose id cannot be read holds back every
  deletion of this sync. A listing that would delete more than :data:`MASS_DELETE_SHARE` of an
  archive of at least :data:`MASS_DELETE_MIN_INDEX` rides is confirmed by a second listing.
* **Metadata alone** (name, type, trainer, moving time, elevation gain: the meta hash) rewrites
  the feature's properties from the listing, downloading nothing; a new file hash (re-upload,
  crop) downloads again. Version-1 index entries migrate by comparing the legacy hash.
* **Short files** (shorter than their FIT header says) fail for now and are fetched again; the
  third short arrival in a row of the same file is accepted (:mod:`.short_downloads`).
* **Liveness:** a heartbeat thread renews the claim and the lease every
  :data:`HEARTBEAT_SECONDS` while the leg runs (Tippecanoe included), so ``GET /api/sync`` never
  sees an expired lease on a live sync and a killed leg is recognised by its stale heartbeat.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from ridelines.archive import encode_feature, iter_lines, line_activity_id, rewrite_archive
from ridelines.data_products import RideProducts, products_for_publish
from ridelines.erasure import AccountDeleted
from ridelines.errors import (
    NotFound,
    RidelinesError,
    SyncInProgress,
    UpstreamAuthError,
    UpstreamError,
)
from ridelines.features import ActivityMeta, listing_properties
from ridelines.index import ActivityIndex, EntryStatus, IndexCorrupt, IndexEntry, decode_index, encode_index
from ridelines.intervals.batch import BatchPrefetcher, start_batch_prefetch
from ridelines.intervals.client import FileOutcome, IntervalsClient, OutOfTime
from ridelines.intervals.listing import Listing
from ridelines.intervals.models import IntervalsActivity
from ridelines.models import SyncCounts, SyncPhase, SyncRecord, SyncRequest, SyncStatus
from ridelines.pipeline.checkpoint import MAX_FAILED_IDS, Checkpoint
from ridelines.pipeline.convert_pool import Converter, ConvertRequest, FileKind, convert
from ridelines.pipeline.early_map import FIRST_MAP_RIDES, EarlyMaps
from ridelines.pipeline.reporting import LoggingReporter, SyncReporter
from ridelines.pipeline.short_downloads import ACCEPT_AFTER, ShortDownloads
from ridelines.pipeline.staging import (
    BatchWriter,
    StagedResult,
    delete_staging,
    read_staged,
    staged_lines,
    staging_keys,
)
from ridelines.pipeline.workdir import LegScratch
from ridelines.ports import BlobStore, SyncInvoker, SyncStateRepository
from ridelines.privacy import NO_PRIVACY_VERSION, StoredPrivacy, privacy_transform, privacy_version
from ridelines.publish import PublishResult, TilesPublisher
from ridelines.selection import ActivityWindow
from ridelines.tile_parts import PartsIncomplete, TileLines, build_tiles_in_parts, parts_prefix

log = logging.getLogger(__name__)

NO_GPS_STREAM_REASON = "intervals.icu lists no GPS stream for it"
CHECKPOINT_RESERVE_SECONDS = 20.0  # what a leg keeps back from its requests to save and hand off
HEARTBEAT_SECONDS = 10.0
HEARTBEAT_STALE_SECONDS = 45.0  # no heartbeat for this long: the claiming run is dead
MASS_DELETE_SHARE = 0.2
MASS_DELETE_MIN_INDEX = 20


@dataclass(frozen=True)
class SyncLayout:
    """Where one athlete's sync state lives in the blob store."""

    index_key: str
    archive_key: str
    staging_prefix: str
    short_key: str = ".short-downloads.json"
    privacy_key: str = ".tiles.privacy"  # the privacy settings version the published tiles were cut with

    @classmethod
    def for_athlete(cls, athlete_id: str) -> SyncLayout:
        base = f"athletes/{athlete_id}/"
        return cls(
            base + "activities.index",
            base + "activities.geojson.zst",
            base + "staging/",
            base + "short-downloads.json",
            base + "tiles.privacy",
        )

    @classmethod
    def folder(cls) -> SyncLayout:
        """The command line's ``--out DIR``: files at the top of the folder."""
        return cls(
            "activities.index",
            "activities.geojson.zst",
            ".staging/",
            ".short-downloads.json",
            ".tiles.privacy",
        )


def published_privacy_version(blobs: BlobStore, layout: SyncLayout) -> str:
    """Which privacy settings the published tiles show (:func:`ridelines.privacy.privacy_version`)."""
    raw = blobs.get_bytes(layout.privacy_key)
    return raw.decode(errors="replace").strip() if raw else NO_PRIVACY_VERSION


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
    batch_downloads: bool = True  # download-fit-files batches ahead of the converters (issue 12)
    early_maps: bool = True  # a first sync publishes its newest rides early (issue 12)
    progress_interval_seconds: float = 2.0
    # conversion processes (:mod:`.convert_pool`); 1 converts in the download threads. Not in
    # Lambda (no /dev/shm for the pool's semaphores): the command line and benchmarks use
    # ``convert_pool.usable_cpus()``
    convert_processes: int = 1
    # memory for the converted rides' Tippecanoe lines (~15 KB a ride); past it, parsed as before
    tile_lines_budget_mb: int = 128


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
    # the rider's privacy settings, read when the tiles are cut (a change made meanwhile is seen)
    privacy: Callable[[], StoredPrivacy | None] = lambda: None


@dataclass(frozen=True, slots=True)
class _Outcome:
    activity_id: str
    content_hash: bytes
    failed: bool = False
    status: EntryStatus = EntryStatus.TRACK
    reason: str = ""
    line: bytes | None = None  # the archive line of its track
    products: tuple[bytes, RideProducts] | None = None  # (line hash, the ride's data products)
    tile_line: bytes | None = None  # its line for Tippecanoe (b"": not drawn)
    downloaded: bool = False
    meta: bytes = b""
    deferred: bool = False  # out of time before it finished: neither done nor failed
    short: bool = False  # arrived shorter than its header says (counted in ShortDownloads)


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
        beat = stored.heartbeat_at
        if stored.claimed_until is not None and stored.claimed_until <= now.timestamp():
            log.warning(
                "leg %d's run is past its deadline without finishing; resuming from staging", stored.leg
            )
        elif beat is not None and beat + HEARTBEAT_STALE_SECONDS <= now.timestamp():
            log.warning("leg %d's run stopped beating (killed); resuming from staging", stored.leg)
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
            "heartbeat_at": now.timestamp(),
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
        self._year_of: dict[str, str] = {}  # activity id -> the year its part is named after
        self._staged_years: set[str] = set()  # years of the rides staged so far (early maps)
        self._staged_tracks = 0  # tracks staged by this sync so far (early maps)
        self._converter: Converter | None = None  # conversion in worker processes (or threads)
        # the data products of the rides this leg converted, by line hash: the final merge reuses
        # them instead of parsing every new line again (a later leg recomputes what it lacks)
        self._products: dict[bytes, RideProducts] = {}
        # and their Tippecanoe lines: every part tiled from them (early maps, the final map)
        # writes these instead of parsing and thinning each archive line again
        self._tile_lines = TileLines(self.settings.tile_lines_budget_mb * 1024 * 1024)
        self.last_save = 0.0
        self.started = time.perf_counter()
        self.out_of_time = False
        self.shorts = ShortDownloads()
        self.workdir = job.workdir
        self._save_lock = threading.Lock()
        self._stopped = False  # set by the last save of the leg: the heartbeat must not follow it

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
        with self._save_lock:
            if self._stopped:
                return
            self._refresh_counts()
            now = self.job.clock()
            current = checkpoint or self.checkpoint
            if current.claimed:
                current = current.model_copy(update={"heartbeat_at": now.timestamp()})
            update: dict[str, Any] = {
                "status": status,
                "counts": self.counts.model_copy(),
                "lease_expires_at": now + timedelta(seconds=self.settings.lease_seconds),
                "checkpoint": current.to_dict() if not finished else None,
                "error": error,
            }
            if phase is not None:
                update["phase"] = phase
            if finished:
                update["finished_at"] = now
            final = finished or checkpoint is not None or status is not SyncStatus.RUNNING
            candidate = self.record.model_copy(update=update)
            try:
                self.job.states.save(candidate)
            except (SyncInProgress, NotFound) as exc:
                self._stopped = True
                raise _Superseded(str(exc)) from None
            self.record = candidate
            self.last_save = time.monotonic()
            if final:
                self._stopped = True

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self._save()
            except _Superseded:
                return
            except Exception as exc:  # a failed beat is retried at the next one
                log.warning("heartbeat save failed (%s)", type(exc).__name__)

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
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), name="sync-heartbeat", daemon=True)
        try:
            with LegScratch(self.job.workdir) as scratch:
                self.workdir = scratch
                beat.start()
                if request.retile:
                    return self._retile()
                self._phase(SyncPhase.LIST)
                client = self.job.client_factory()
                if self.job.remaining_seconds is not None:
                    remaining = self.job.remaining_seconds
                    client.time_left = lambda: remaining() - CHECKPOINT_RESERVE_SECONDS
                try:
                    return self._run(client)
                except OutOfTime:
                    return self._hand_off("download")
                finally:
                    client.close()
        except _Superseded as exc:
            log.warning("sync %s was superseded (%s); stopping", request.sync_id, exc)
            return LegResult(LegStatus.SKIPPED, self.counts)
        except AccountDeleted:
            log.warning("the account was deleted during sync %s; its writes were erased", request.sync_id)
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
        finally:
            self._join_early_maps()  # a leg that hands off or fails leaves no map being built
            stop.set()

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
        listing = client.listing(job.intervals_athlete_id)
        self.counts.listed = len(listing.activities) + len(listing.skipped)
        self.listing_skips += len(listing.skipped)
        self.shorts = ShortDownloads.load(job.blobs, job.layout.short_key)

        self._phase(SyncPhase.DIFF)
        listed: dict[str, tuple[IntervalsActivity, bytes]] = {}
        for activity in listing.activities:
            if activity.has_no_file:
                self.listing_skips += 1
            else:
                listed[activity.id] = (activity, activity.file_hash())
        staged = read_staged(job.blobs, job.layout.staging_prefix)
        to_fetch: list[tuple[IntervalsActivity, bytes]] = []
        decided: dict[str, IndexEntry] = {}
        restyle: dict[str, IntervalsActivity] = {}  # metadata-only changes: no download
        failed_before = set(self.failed_ids)
        for activity_id, (activity, file_hash) in listed.items():
            old = None if full else index.get(activity_id)
            meta_hash = activity.meta_hash()
            if old is not None and old.legacy and old.hash == activity.content_hash():
                old = IndexEntry(old.id, file_hash, old.status, old.reason, meta_hash)  # migrated
                decided[activity_id] = old
            if old is None:
                self.counts.new += 1
            elif old.hash != file_hash or (old.status is EntryStatus.UNAVAILABLE and old.meta != meta_hash):
                self.counts.changed += 1
            elif old.meta != meta_hash:
                self.counts.changed += 1
                decided[activity_id] = IndexEntry(old.id, old.hash, old.status, old.reason, meta_hash)
                if old.has_track:
                    restyle[activity_id] = activity
                continue
            else:
                self.counts.unchanged += 1
                continue
            done = staged.get(activity_id)
            if done is not None and done.hash == file_hash:
                continue
            if activity.known_without_gps:
                decided[activity_id] = IndexEntry(
                    activity_id, file_hash, EntryStatus.NO_TRACK, NO_GPS_STREAM_REASON, meta_hash
                )
                self.listing_skips += 1
                continue
            if activity_id not in failed_before:
                to_fetch.append((activity, file_hash))
        deleted = self._deletions(client, index, index_trusted, listed, listing)
        self.counts.deleted = len(deleted)

        self._phase(SyncPhase.DOWNLOAD)
        job.reporter.planned(len(to_fetch))
        finished_downloads = self._download(client, to_fetch)
        self.shorts.save(job.blobs, job.layout.short_key)
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
                restyle,
            )
        except PartsIncomplete:  # the parts tiled so far are stored: a fresh leg tiles the rest
            return self._hand_off("publish")

    def _deletions(
        self,
        client: IntervalsClient,
        index: ActivityIndex,
        index_trusted: bool,
        listed: dict[str, tuple[IntervalsActivity, bytes]],
        listing: Listing,
    ) -> list[str]:
        """Stored rides the listing no longer has. Never one a skipped entry may still be; none at
        all when a skipped entry's id is unreadable; a large share only if a second listing agrees."""
        if not index_trusted:
            return []
        gone = [e.id for e in index if e.id not in listed and e.id not in listing.protected_ids]
        if not gone:
            return []
        if listing.unidentified_skips:
            log.warning(
                "%d listing entries could not be identified; deleting none of %d rides this sync",
                listing.unidentified_skips,
                len(gone),
            )
            return []
        if len(index) >= MASS_DELETE_MIN_INDEX and len(gone) > MASS_DELETE_SHARE * len(index):
            log.warning(
                "the listing would delete %d of %d rides; listing again to confirm", len(gone), len(index)
            )
            second = client.listing(self.job.intervals_athlete_id)
            if second.unidentified_skips:
                return []
            still_there = {a.id for a in second.activities} | second.protected_ids
            confirmed = [i for i in gone if i not in still_there]
            if len(confirmed) < len(gone):
                log.warning("the second listing still has %d of them; kept", len(gone) - len(confirmed))
            return confirmed
        return gone

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
        batch = BatchWriter(self.job.blobs, self.job.layout.staging_prefix, self.workdir)
        pending: dict[Future[_Outcome], str] = {}
        queue = iter(to_fetch)
        exhausted = not to_fetch
        submitted = 0
        pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="sync-download")
        if settings.convert_processes > 1 and len(to_fetch) > 1:
            self._converter = Converter(settings.convert_processes)
        if settings.batch_downloads:
            self._prefetch = start_batch_prefetch(client, self.job.intervals_athlete_id, to_fetch)
        if settings.early_maps and to_fetch and self.job.publisher.current_key() is None:  # a first sync
            if self.checkpoint.staged_batches:  # a later leg: its first map is not the first map
                staged = read_staged(self.job.blobs, self.job.layout.staging_prefix)
                self._staged_tracks = sum(r.status is EntryStatus.TRACK for r in staged.values())
            self._early = EarlyMaps(
                self.job.blobs,
                self.job.layout.staging_prefix,
                self._build_early_tiles,
                self.job.publisher,
                self.job.workdir,
                published_rides=self._staged_tracks,
                expected_tracks=self._staged_tracks + len(to_fetch),  # some may have no track
            )
            # the UTC year names the ride's tiles part (tile_parts.part_of); a year is complete
            # once an older one is being staged, since downloads follow the listing newest first
            self._year_of = {a.id: f"{a.start_date.year:04d}" for a, _h in to_fetch if a.start_date}
        try:
            while True:
                while not exhausted and len(pending) < settings.workers * 2:
                    if self.out_of_time:
                        break
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
            self._commit(batch, last=True)
            if self.out_of_time:
                exhausted = False
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for future in pending:  # keep what finished meanwhile
                if future.done() and not future.cancelled() and future.exception() is None:
                    self._record(batch, future.result())
            try:
                self._commit(batch, last=True)
            except Exception:
                log.exception("could not commit the last staging batch")
                batch.discard()
            raise
        finally:
            pool.shutdown(wait=True)
            if self._prefetch is not None:
                self._prefetch.close()
            if self._converter is not None:
                self._converter.close()
            if self._early is not None:
                # no early map from now on; the one being built finishes its part while the
                # final merge rewrites the archive, and is joined before the final map is tiled
                self._early.close()
        return exhausted

    def _batch_due(self, batch: BatchWriter) -> bool:
        s = self.settings
        first_map = self._early is not None and not self._early.started
        return len(batch) > 0 and (
            len(batch) >= (min(s.batch_size, FIRST_MAP_RIDES) if first_map else s.batch_size)
            or batch.feature_bytes >= s.batch_bytes
            or time.monotonic() - batch.started >= s.batch_seconds
        )

    def _commit(self, batch: BatchWriter, *, last: bool = False) -> None:
        """``last``: the leg's downloads are over, so no early map is started from this commit
        (the final merge, or the next leg, follows at once and would only stop it)."""
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
            if self._early is not None and not last:
                self._early.after_commit(self._staged_years, self._staged_tracks)

    def _record(self, batch: BatchWriter, outcome: _Outcome) -> None:
        if outcome.deferred:  # out of time: the next leg takes it, nothing is counted
            self.out_of_time = True
            return
        if outcome.short and outcome.failed:
            count = self.shorts.arrived_short(outcome.activity_id, outcome.content_hash)
            log.warning("activity %s arrived short (%d in a row)", outcome.activity_id, count)
        elif outcome.downloaded:
            self.shorts.arrived_whole(outcome.activity_id)
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
            if (year := self._year_of.get(outcome.activity_id)) is not None:
                self._staged_years.add(year)
            if outcome.status is EntryStatus.TRACK:
                self._staged_tracks += 1
            else:
                self.download_skips += 1
                log.info("activity %s has no track: %s", outcome.activity_id, outcome.reason)
            batch.add(
                outcome.activity_id,
                outcome.content_hash,
                outcome.status,
                outcome.reason,
                outcome.line,
                meta=outcome.meta,
            )
            if outcome.products is not None:
                digest, products = outcome.products
                self._products[digest] = products
                if outcome.tile_line is not None:
                    self._tile_lines.add(digest, outcome.tile_line)
        self._refresh_counts()
        self.job.reporter.progress(self.counts)

    def _fetch_one(self, client: IntervalsClient, activity: IntervalsActivity, file_hash: bytes) -> _Outcome:
        meta_hash = activity.meta_hash()

        def outcome(**kwargs: Any) -> _Outcome:
            return _Outcome(activity.id, file_hash, meta=meta_hash, **kwargs)

        try:
            file = (self._prefetch and self._prefetch.take(activity.id)) or client.download_file(activity.id)
        except UpstreamAuthError:
            raise
        except OutOfTime:
            return outcome(deferred=True)
        except (UpstreamError, OSError) as exc:
            return outcome(failed=True, reason=str(exc)[:200])
        except Exception as exc:
            return outcome(failed=True, reason=type(exc).__name__)
        if file.outcome is FileOutcome.NO_FILE:
            return outcome(status=EntryStatus.NO_FILE, reason=file.reason)
        if file.outcome is FileOutcome.UNAVAILABLE:
            return outcome(status=EntryStatus.UNAVAILABLE, reason=file.reason)
        if file.outcome is FileOutcome.NOT_FIT or file.fit is None:
            if file.data is None or not ("GPX" in file.reason or "TCX" in file.reason):
                return outcome(status=EntryStatus.NOT_FIT, reason=file.reason, downloaded=True)
            kind, data = FileKind.TRACK_FILE, file.data
        else:
            kind, data = FileKind.FIT, file.fit
        request = ConvertRequest(
            kind,
            data,
            f"activity {activity.id}",
            ActivityWindow(activity.start, activity.elapsed_time, activity.file_sport_index),
            _listing_meta(activity),
            activity.id,
            self.settings.include_virtual,
        )
        converted = self._converter.convert(request) if self._converter is not None else convert(request)
        cut = converted.truncated
        if cut is not None:  # the short-download rule needs this sync's counts: decided here
            times = self.shorts.files.get(activity.id)
            before = times[1] if times is not None and times[0] == file_hash.hex() else 0
            if before + 1 < ACCEPT_AFTER:
                return outcome(
                    failed=True, short=True, downloaded=True, reason=f"file arrived short ({cut})"[:200]
                )
            log.warning(
                "activity %s arrived short %d times in a row; keeping the part", activity.id, before + 1
            )
        if converted.error is not None:
            return outcome(
                status=EntryStatus.UNDECODABLE, reason=converted.error_reason[:300], downloaded=True
            )
        if converted.line is None:
            return outcome(status=EntryStatus.NO_TRACK, reason=converted.no_track_reason, downloaded=True)
        if cut is not None:
            return outcome(
                line=converted.line,
                products=converted.products,
                tile_line=converted.tile_line,
                downloaded=True,
                reason=f"partial file accepted after {ACCEPT_AFTER} short downloads ({cut})"[:300],
            )
        return outcome(
            line=converted.line, products=converted.products, tile_line=converted.tile_line, downloaded=True
        )

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
        restyle: dict[str, IntervalsActivity] | None = None,
    ) -> LegResult:
        job = self.job
        restyle = dict(restyle or {})
        keys_before = staging_keys(job.blobs, job.layout.staging_prefix)
        staged = read_staged(job.blobs, job.layout.staging_prefix)
        final: dict[str, IndexEntry] = {}
        from_staging: dict[str, StagedResult] = {}
        gone = set(deleted)
        for entry in index:  # kept though not listed: a skipped entry's ride, or deletions held back
            if entry.id not in listed and entry.id not in gone:
                final[entry.id] = entry
        for activity_id, (activity, file_hash) in listed.items():
            old = index.get(activity_id)
            done = staged.get(activity_id)
            meta_hash = activity.meta_hash()
            if done is not None and done.hash == file_hash:
                if (
                    old is not None
                    and not full
                    and old.hash == done.hash
                    and old.status is done.status
                    and old.meta == meta_hash
                ):
                    final[activity_id] = old  # merged already (a crash after the index write)
                else:
                    final[activity_id] = IndexEntry(
                        activity_id, done.hash, done.status, done.reason, meta_hash
                    )
                    from_staging[activity_id] = done
                    if done.meta != meta_hash and done.status is EntryStatus.TRACK:
                        restyle[activity_id] = activity  # renamed while its file was being fetched
            elif activity_id in decided:
                final[activity_id] = decided[activity_id]
            elif old is not None:
                final[activity_id] = old  # unchanged, or changed but not fetched yet: keep the old one
        current_tiles = job.publisher.current_key()
        track_flips = any(
            (index.get(i) is None or index.get(i).has_track != e.has_track)  # type: ignore[union-attr]
            for i, e in decided.items()
        )
        archive_changed = bool(
            from_staging
            or restyle
            or track_flips
            or deleted
            or full
            or not index_usable
            or current_tiles is None
        )
        if not archive_changed:
            if ActivityIndex(final.values()) != index:  # migrated or re-described entries only
                job.blobs.put_bytes(
                    job.layout.index_key,
                    encode_index(ActivityIndex(final.values())),
                    content_type="application/octet-stream",
                )
            delete_staging(job.blobs, keys_before)
            if self._privacy_stale():
                return self._retile()  # only the privacy settings changed: no archive rewrite
            return self._succeed(published=False, tiles_key=current_tiles)

        workdir = Path(tempfile.mkdtemp(prefix="merge-", dir=self.workdir))
        try:
            old_archive = workdir / "old.geojson.zst"
            have_old = index_usable and job.blobs.download_file(job.layout.archive_key, old_archive)
            new_archive = workdir / "activities.geojson.zst"

            def restyled(lines: Any) -> Any:
                for line in lines:
                    activity = restyle.get(line_activity_id(line))
                    yield line if activity is None else _restyle_line(line, activity)

            def additions() -> Any:
                yield from restyled(staged_lines(job.blobs, from_staging, workdir))
                if have_old:  # features whose listing alone changed, from the old archive
                    yield from restyled(_lines_of(old_archive, set(restyle) - set(from_staging)))

            written = rewrite_archive(
                old_archive if have_old else None,
                new_archive,
                keep=lambda i: (
                    i in final and i not in from_staging and i not in restyle and final[i].has_track
                ),
                additions=additions(),
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

            result = self._tile_and_publish(new_archive, workdir)
            job.reporter.metric(
                "sync.s3.upload.duration", (archive_upload + result.upload_seconds) * 1000, "Milliseconds"
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
        delete_staging(job.blobs, keys_before)
        return self._succeed(published=result.changed, tiles_key=result.key)

    def _tile_and_publish(self, archive: Path, workdir: Path) -> PublishResult:
        """Tiles cut with the privacy settings read now, published; then record which settings
        the published map shows (a crash in between only makes the next sync re-tile)."""
        job = self.job
        self._join_early_maps()  # an early map must never land after this one, nor tile beside it
        privacy = job.privacy()
        pmtiles = workdir / "activities.pmtiles"
        # rides list, explorer layer and export: from the archive's true tracks, one pass; in a
        # thread while Tippecanoe (other processes) tiles, so the two overlap instead of adding up
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-products") as pool:
            products_built = pool.submit(
                products_for_publish,
                job.blobs,
                job.layout.archive_key,
                archive,
                workdir,
                include_virtual=self.settings.include_virtual,
                known=self._products,
            )
            self._build_tiles(archive, pmtiles, workdir, privacy)
            products = products_built.result()
        result = job.publisher.publish(pmtiles, products)
        version = privacy_version(privacy)
        if version != published_privacy_version(job.blobs, job.layout):
            if version == NO_PRIVACY_VERSION:
                job.blobs.delete(job.layout.privacy_key)  # no marker means no privacy cut
            else:
                job.blobs.put_bytes(job.layout.privacy_key, version.encode(), content_type="text/plain")
        return result

    def _join_early_maps(self) -> None:
        if self._early is not None:
            self._early.wait()

    def _privacy_stale(self) -> bool:
        return published_privacy_version(self.job.blobs, self.job.layout) != privacy_version(
            self.job.privacy()
        )

    def _retile(self) -> LegResult:
        """Republish the map from the stored archive with the current privacy settings: nothing is
        listed or downloaded (a privacy change)."""
        job = self.job
        self._phase(SyncPhase.PUBLISH)
        workdir = Path(tempfile.mkdtemp(prefix="retile-", dir=self.workdir))
        try:
            archive = workdir / "activities.geojson.zst"
            if not job.blobs.download_file(job.layout.archive_key, archive):
                return self._succeed(published=False, tiles_key=job.publisher.current_key())
            result = self._tile_and_publish(archive, workdir)
        finally:
            for path in sorted(workdir.glob("*")):
                path.unlink(missing_ok=True)
            workdir.rmdir()
        return self._succeed(published=result.changed, tiles_key=result.key)

    def _build_early_tiles(
        self, archive: Path, pmtiles: Path, workdir: Path, stop: Callable[[], bool], merge: bool = True
    ) -> None:
        self._build_tiles(archive, pmtiles, workdir, stop=stop, merge=merge)

    def _build_tiles(
        self,
        archive: Path,
        pmtiles: Path,
        workdir: Path,
        privacy: StoredPrivacy | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        merge: bool = True,
    ) -> None:
        """The map from the archive, by parts: only the parts whose content (or privacy settings)
        changed are re-tiled (:mod:`ridelines.tile_parts`), then merged into the one published file
        (``merge=False``: only tiled into the parts cache, for a later merge).
        The single point where the sync's features go into Tippecanoe (early maps too), so the
        privacy cut applies to every map published."""
        if privacy is None:
            privacy = self.job.privacy()
        built = build_tiles_in_parts(
            archive,
            pmtiles,
            blobs=self.job.blobs,
            prefix=parts_prefix(self.job.layout.archive_key),
            workdir=workdir,
            include_virtual=self.settings.include_virtual,
            transform=privacy_transform(privacy),  # None without a cut: the converters' lines serve
            transform_key=privacy_version(privacy),
            tile_lines=self._tile_lines,
            out_of_time=lambda: (
                self._time_short(self.settings.publish_reserve_seconds / 2) or (stop is not None and stop())
            ),
            merge=merge,
        )
        self.job.reporter.metric("sync.tiles.generated", 1, "Count")
        self.job.reporter.metric("sync.tiles.parts_tiled", built.tippecanoe_runs, "Count")

    def _succeed(self, *, published: bool, tiles_key: str | None) -> LegResult:
        self._save(phase=SyncPhase.DONE, status=SyncStatus.SUCCEEDED, finished=True)
        elapsed = (self.job.clock() - self.record.started_at).total_seconds()
        self.job.reporter.metric("sync.duration.total", max(elapsed, 0.0) * 1000, "Milliseconds")
        self._finished()
        log.info("sync finished: %s", self.counts.model_dump())
        return LegResult(LegStatus.SUCCEEDED, self.counts, tiles_key=tiles_key, published=published)


def _listing_meta(activity: IntervalsActivity) -> ActivityMeta:
    """What the listing says of an activity: the truth for the feature's properties (DESIGN 3.2)."""
    return ActivityMeta(
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


def _restyle_line(line: bytes, activity: IntervalsActivity) -> bytes:
    """One archive line with its properties rewritten from the listing (no download)."""
    import json

    feature = json.loads(line)
    feature["properties"] = listing_properties(_listing_meta(activity), feature.get("properties") or {})
    return encode_feature(feature)


def _lines_of(archive: Path, wanted: set[str]) -> Any:
    """The archive lines of ``wanted`` ids (unreadable lines and a damaged tail are skipped: the
    merge then finds those ids missing and fetches them again)."""
    if not wanted:
        return
    try:
        for line in iter_lines(archive):
            try:
                if line_activity_id(line) in wanted:
                    yield line
            except (ValueError, KeyError, TypeError):
                continue
    except Exception as exc:  # zstandard.ZstdError on a damaged stream
        log.warning("the old archive is damaged (%s); its restyled rides will be fetched again", exc)
