"""Many activities in one request: ``POST /api/v1/athlete/{id}/download-fit-files?ids=a,b,...``.

intervals.icu answers with a zip of its own generated FIT files ("Strava activities are not
included"; unknown ids are left out). A first sync is then bound by conversion, not by one
request per ride at 10 requests/s.

* **Matching entries to activities** (the API does not document entry names): an entry whose
  name holds exactly one of the requested ids (as a whole token) is that activity's; otherwise
  the file's own start time is compared with the listing's, and the entry is attached only when
  exactly one still-unmatched requested activity starts within :data:`START_TOLERANCE_S` of it.
  Anything ambiguous, unreadable or missing is left out: the caller downloads it per file, so a
  file is never attached to the wrong ride and a ride is never lost.
* **Adaptive batch size:** batches grow (x2 up to :data:`MAX_BATCH`) while they succeed and
  shrink (/2) when one fails or times out; its ids are retried in the smaller batches, and a
  single id that still fails goes to the per-file path.
* :class:`BatchPrefetcher` runs the batches ahead of the converters in a background thread, in
  the order given (newest first), so conversion overlaps downloading.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ridelines.errors import FitDecodeError, UpstreamAuthError, UpstreamError
from ridelines.intervals.client import ActivityFile, FileOutcome, IntervalsClient
from ridelines.intervals.files import MAX_UNPACKED_BYTES, TruncatedFile, sniff_activity_file
from ridelines.intervals.models import IntervalsActivity

log = logging.getLogger(__name__)

MIN_BATCH = 1
FIRST_BATCH = 25
MAX_BATCH = 200  # ids in one query string (~2-3 KB of URL)
START_TOLERANCE_S = 2.0
MIN_ACTIVITIES_FOR_BATCHES = 10  # below this, per-file downloads cost no more
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class BatchStats:
    requests: int
    delivered: int
    failed_batches: int


def fit_start(fit: bytes) -> datetime | None:
    """The start time a FIT file itself records (sessions, first record, file creation)."""
    from ridelines.features import fit_to_feature  # the converter, imported only when names fail

    try:
        feature = fit_to_feature(fit, source="batch entry")
    except FitDecodeError:
        return None
    start = (feature or {}).get("properties", {}).get("start")
    return datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None


def _ids_in_name(name: str, wanted: set[str]) -> set[str]:
    base = name.rsplit("/", 1)[-1]
    found = set()
    for token in _TOKEN.findall(base):
        for candidate in (token, *_strip_extensions(token)):
            if candidate in wanted:
                found.add(candidate)
    return found


def _strip_extensions(token: str) -> list[str]:
    out = []
    while "." in token:
        token = token.rsplit(".", 1)[0]
        out.append(token)
    return out


def match_entries(zip_bytes: bytes, activities: Sequence[IntervalsActivity]) -> dict[str, bytes]:
    """FIT bytes by activity id for every entry that can be attached without doubt."""
    wanted = {a.id: a for a in activities}
    matched: dict[str, bytes] = {}
    unnamed: list[bytes] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise TruncatedFile(f"batch zip is unreadable: {exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or info.file_size > MAX_UNPACKED_BYTES:
                continue
            try:
                sniffed = sniff_activity_file(archive.read(info))
            except (TruncatedFile, zipfile.BadZipFile, EOFError, OSError):
                continue
            if sniffed.fit is None:
                continue
            ids = _ids_in_name(info.filename, set(wanted))
            if len(ids) == 1:
                activity_id = ids.pop()
                if activity_id in matched:  # two entries claim one id: trust neither
                    matched[activity_id] = b""
                else:
                    matched[activity_id] = sniffed.fit
            else:
                unnamed.append(sniffed.fit)
    matched = {k: v for k, v in matched.items() if v}
    for fit in unnamed:
        start = fit_start(fit)
        if start is None:
            continue
        candidates = [
            a.id
            for a in activities
            if a.id not in matched
            and a.start is not None
            and abs((a.start - start).total_seconds()) <= START_TOLERANCE_S
        ]
        if len(candidates) == 1:
            matched[candidates[0]] = fit
    return matched


def download_batch(
    client: IntervalsClient, athlete_id: str, activities: Sequence[IntervalsActivity]
) -> dict[str, bytes]:
    """One ``download-fit-files`` request; FIT bytes by activity id (what could be matched)."""
    # the client's one transport (rate limit, retries, auth errors); a public method is the client's call
    response = client._request(
        "POST",
        f"/api/v1/athlete/{athlete_id}/download-fit-files",
        params={"ids": ",".join(a.id for a in activities), "power": "false", "hr": "false"},
    )
    return match_entries(response.content, activities)


class BatchPrefetcher:
    """Downloads the given activities in adaptive batches ahead of the converters.

    :meth:`take` blocks until the activity's batch has been tried and returns its FIT file, or
    None when the batch did not deliver it (the caller downloads it per file).
    """

    def __init__(
        self, client: IntervalsClient, athlete_id: str, activities: Sequence[IntervalsActivity]
    ) -> None:
        self._client = client
        self._athlete_id = athlete_id
        self._pending = list(activities)
        self._files: dict[str, bytes] = {}
        self._settled: set[str] = set()
        self._cond = threading.Condition()
        self._stopped = False
        self.error: BaseException | None = None
        self.requests = self.delivered = self.failed_batches = 0
        self._thread = threading.Thread(target=self._run, name="batch-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        size = FIRST_BATCH
        queue = self._pending
        try:
            while queue and not self._stopped:
                batch, queue = queue[:size], queue[size:]
                self.requests += 1
                try:
                    files = download_batch(self._client, self._athlete_id, batch)
                except UpstreamAuthError as exc:
                    self.error = exc
                    return
                except (UpstreamError, TruncatedFile, OSError) as exc:
                    self.failed_batches += 1
                    if len(batch) > MIN_BATCH:
                        size = max(MIN_BATCH, len(batch) // 2)
                        log.warning("a batch of %d failed (%s); retrying smaller", len(batch), exc)
                        queue = batch + queue
                    else:
                        self._settle(batch, {})  # the per-file path takes it
                    continue
                self._settle(batch, files)
                size = min(MAX_BATCH, size * 2)
        except Exception as exc:  # never leave a converter waiting forever
            log.exception("batch downloads stopped")
            self.error = exc
        finally:
            with self._cond:
                self._stopped = True
                self._cond.notify_all()

    def _settle(self, batch: Sequence[IntervalsActivity], files: dict[str, bytes]) -> None:
        with self._cond:
            for activity in batch:
                self._settled.add(activity.id)
                if activity.id in files:
                    self._files[activity.id] = files[activity.id]
                    self.delivered += 1
            self._cond.notify_all()

    def take(self, activity_id: str) -> ActivityFile | None:
        with self._cond:
            while activity_id not in self._settled and not self._stopped:
                self._cond.wait(timeout=1.0)
            fit = self._files.pop(activity_id, None)
        if fit is None:
            return None
        return ActivityFile(FileOutcome.FIT, fit=fit, downloaded_bytes=len(fit))

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    @property
    def stats(self) -> BatchStats:
        return BatchStats(self.requests, self.delivered, self.failed_batches)


def start_batch_prefetch(
    client: IntervalsClient, athlete_id: str, to_fetch: Sequence[tuple[IntervalsActivity, bytes]]
) -> BatchPrefetcher | None:
    """Batch downloads for a sync's activities to fetch, or None when there are too few to gain."""
    if len(to_fetch) < MIN_ACTIVITIES_FOR_BATCHES:
        return None
    return BatchPrefetcher(client, athlete_id, [activity for activity, _hash in to_fetch])
