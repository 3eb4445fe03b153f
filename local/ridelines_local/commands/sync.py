"""``ridelines sync --out DIR (--api-key KEY | --token TOKEN) [--athlete 0] [--full]``

The same incremental pipeline as the sync Lambda, with files instead of S3/DynamoDB:
``DIR/activities.index``, ``DIR/activities.geojson.zst``, ``DIR/activities.pmtiles``, the rides list
``DIR/rides.json`` and the explorer layer ``DIR/explorer.json`` (``DIR/.staging/`` only while work is
in flight). A progress bar goes to stderr and a one-line JSON summary to stdout::

    {"status": "succeeded", "counts": {"listed": .., "new": .., "changed": .., "deleted": ..,
     "unchanged": .., "downloaded": .., "skipped": .., "failed": ..}, "tiles": "DIR/activities.pmtiles",
     "published": true, "explorer": {"tiles": N, "max_square": M}}

Exit 0 on success, 2 with one line on stderr for bad input (no credentials, refused credentials,
unreachable intervals.icu), 1 for other failures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ridelines import explorer, settings
from ridelines.adapters.local import FileBlobStore
from ridelines.adapters.memory import MemorySyncStateRepository
from ridelines.errors import InvalidInput, RidelinesError, UpstreamAuthError, UpstreamError
from ridelines.intervals.client import Credentials, IntervalsClient
from ridelines.models import SyncCounts, SyncPhase, SyncRequest
from ridelines.pipeline.convert_pool import usable_cpus
from ridelines.pipeline.reporting import LoggingReporter
from ridelines.pipeline.sync import LegStatus, SyncJob, SyncLayout, SyncSettings, run_leg
from ridelines.publish import FileTilesPublisher
from ridelines_local.privacy_options import add_privacy_arguments, privacy_from_args


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="incremental sync of your intervals.icu rides into a local folder",
        description="Download what changed at intervals.icu and rebuild DIR/activities.pmtiles.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--api-key",
        help="personal API key (intervals.icu Settings > Developer); also read from RIDELINES_API_KEY",
    )
    auth.add_argument("--token", help="OAuth bearer token; also read from RIDELINES_TOKEN")
    parser.add_argument("--athlete", default="0", help="athlete id (default 0 = the key's owner)")
    parser.add_argument("--full", action="store_true", help="ignore the index and rebuild everything")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_privacy_arguments(parser)


class TqdmReporter(LoggingReporter):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def phase(self, phase: SyncPhase) -> None:
        if self.bar is not None and phase is not SyncPhase.DOWNLOAD:
            self.bar.set_description(phase.value)
            self.bar.refresh()

    def planned(self, to_download: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        self.bar = tqdm(
            total=to_download,
            desc="download",
            unit="activity",
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
        )

    def progress(self, counts: SyncCounts) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=counts.failed, skipped=counts.skipped, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _NotTheFinalFailure(logging.Filter):
    """The pipeline logs why a sync failed; the command prints that itself as its last line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "sync_failure", False)


def _stderr_logging() -> logging.Handler:
    """Warnings of the sync (an activity failed for now, a retry) as plain lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("ridelines sync: %(levelname)s: %(message)s"))
    handler.addFilter(_NotTheFinalFailure())
    logging.getLogger("ridelines").addHandler(handler)
    return handler


def _credentials(args: argparse.Namespace) -> Credentials:
    api_key = args.api_key or (None if args.token else os.environ.get("RIDELINES_API_KEY"))
    token = args.token or (None if api_key else os.environ.get("RIDELINES_TOKEN"))
    if not api_key and not token:
        raise InvalidInput("give --api-key KEY or --token TOKEN (or set RIDELINES_API_KEY / RIDELINES_TOKEN)")
    return Credentials(api_key=api_key) if api_key else Credentials(bearer_token=token)


def _explorer_summary(path: Path) -> dict[str, int]:
    """From the published layer, so a sync that changed nothing still reports it."""
    if not path.exists():
        return explorer.summary_of(explorer.EMPTY_DOCUMENT)
    return explorer.summary_of(json.loads(path.read_bytes()))


def run(args: argparse.Namespace) -> int:
    privacy = privacy_from_args(args)
    credentials = _credentials(args)
    if not str(args.athlete).replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"--athlete {args.athlete!r} is not an athlete id")
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    base_url = settings.intervals_url()

    states = MemorySyncStateRepository()
    sync_id = uuid.uuid4().hex
    states.acquire(
        "local", sync_id, full=args.full, now=datetime.now(UTC), lease_seconds=SyncSettings().lease_seconds
    )
    reporter = TqdmReporter(enabled=not args.quiet and sys.stderr.isatty())
    with tempfile.TemporaryDirectory(prefix="ridelines-sync-") as workdir:
        job = SyncJob(
            request=SyncRequest(athlete_id="local", sync_id=sync_id, full=args.full),
            # a wrong INTERVALS_URL fails at once; errors after the server answered are retried
            client_factory=lambda: IntervalsClient(
                credentials, base_url=base_url, fail_fast_unreachable=True
            ),
            blobs=FileBlobStore(out),
            layout=SyncLayout.folder(),
            publisher=FileTilesPublisher(out / "activities.pmtiles"),
            states=states,
            workdir=Path(workdir),
            intervals_athlete_id=str(args.athlete),
            reporter=reporter,
            settings=SyncSettings(
                include_virtual=settings.flag(settings.INCLUDE_VIRTUAL),
                batch_downloads=True,
                early_maps=True,
                convert_processes=usable_cpus(),  # a laptop has /dev/shm (Lambda: threads)
            ),
            privacy=lambda: privacy,
        )
        handler = _stderr_logging()
        try:
            result = run_leg(job)
        finally:
            reporter.close()
            logging.getLogger("ridelines").removeHandler(handler)
    if result.status is not LegStatus.SUCCEEDED:
        error = result.error
        if isinstance(error, UpstreamAuthError):
            raise InvalidInput(
                f"intervals.icu at {base_url} refused the credentials ({error.status or 'no access'})"
            )
        if isinstance(error, UpstreamError):
            raise InvalidInput(f"cannot use intervals.icu at {base_url}: {error.message}")
        raise error or RidelinesError("the sync did not finish")
    summary = {
        "status": result.status.value,
        "counts": result.counts.model_dump(),
        "tiles": str(out / "activities.pmtiles"),
        "published": result.published,
        "explorer": _explorer_summary(out / "explorer.json"),
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0
