"""The checkpoint a sync leg hands to the next one (and stores in the sync record).

It is deliberately small (it travels in an async Lambda event): the finished work itself is
durable in staging (:mod:`ridelines.pipeline.staging`), so the checkpoint only carries what
cannot be recomputed from the listing, the index and staging::

    {
      "version": 1,
      "leg": 2,                   # the leg this event starts (0 = first invocation)
      "phase": "download",        # or "publish": the previous leg ran out of time before publishing
      "downloaded": 120,          # files fetched by earlier legs of this sync
      "download_skips": 3,        # ...of which could never give a track (not FIT, undecodable, 422)
      "failed": 1,                # transient failures in earlier legs
      "failed_ids": ["i42"],      # not retried again within this sync (retried by the next one)
      "staged_batches": 4,        # committed staging batches so far (informational)
      "claimed": false,           # set by the run that picked the event up (duplicate delivery guard)
      "claim_id": null,           # ...its Lambda request id (a Lambda retry of a failed run has the same)
      "claimed_until": null,      # ...and its hard deadline (epoch seconds): no run outlives it
      "heartbeat_at": null        # ...renewed every few seconds while the run is alive
    }

A leg is claimed with one compare-and-swap of the sync record. Another delivery of the same leg
takes the claim over only when the claiming run is certainly over: its deadline has passed, or its
heartbeat stopped (killed: out of memory, crash). A delivery with the *same* request id is not
proof: Lambda may deliver an async event twice while the first run is alive, so it is ignored
like any other duplicate while the heartbeat is fresh (Lambda's own retry comes a minute or more
after a failure, by when the heartbeat is stale). It then resumes from staging.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_FAILED_IDS = 500


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = 1
    leg: int = Field(default=0, ge=0)
    phase: str = Field(default="download", pattern=r"^(download|publish)$")
    downloaded: int = Field(default=0, ge=0)
    download_skips: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    failed_ids: list[str] = Field(default_factory=list, max_length=MAX_FAILED_IDS)
    staged_batches: int = Field(default=0, ge=0)
    claimed: bool = False
    claim_id: str | None = Field(default=None, max_length=128)
    claimed_until: float | None = None
    heartbeat_at: float | None = None

    @classmethod
    def from_event(cls, raw: dict[str, Any] | None) -> Checkpoint:
        return cls.model_validate(raw) if raw else cls()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()
