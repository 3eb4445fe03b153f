"""The intervals.icu client used by the sync (listing, file download, revocation)."""

from ridelines.intervals.client import (
    ActivityFile,
    Credentials,
    FileOutcome,
    IntervalsClient,
    OutOfTime,
    RetryPolicy,
)
from ridelines.intervals.listing import Listing, SkippedEntry
from ridelines.intervals.models import IntervalsActivity, IntervalsAthlete
from ridelines.intervals.ratelimit import TokenBucket

__all__ = [
    "ActivityFile",
    "Credentials",
    "FileOutcome",
    "IntervalsActivity",
    "IntervalsAthlete",
    "IntervalsClient",
    "Listing",
    "OutOfTime",
    "RetryPolicy",
    "SkippedEntry",
    "TokenBucket",
]
