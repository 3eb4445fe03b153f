"""The intervals.icu client used by the sync (listing, file download, revocation)."""

from ridelines.intervals.client import (
    ActivityFile,
    Credentials,
    FileOutcome,
    IntervalsClient,
    RetryPolicy,
)
from ridelines.intervals.models import IntervalsActivity, IntervalsAthlete
from ridelines.intervals.ratelimit import TokenBucket

__all__ = [
    "ActivityFile",
    "Credentials",
    "FileOutcome",
    "IntervalsActivity",
    "IntervalsAthlete",
    "IntervalsClient",
    "RetryPolicy",
    "TokenBucket",
]
