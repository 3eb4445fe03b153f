"""CloudFront implementation of :class:`ridelines.ports.CdnInvalidator` (None = no CDN: no-op)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3


class CloudFrontInvalidator:
    def __init__(self, distribution_id: str | None, *, client: Any = None) -> None:
        self.distribution_id = distribution_id or None
        self._client = (
            client if client is not None or not self.distribution_id else boto3.client("cloudfront")
        )

    def invalidate(self, paths: list[str]) -> None:
        if not self.distribution_id or not paths:
            return
        items = [p if p.startswith("/") else f"/{p}" for p in paths]
        self._client.create_invalidation(
            DistributionId=self.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(items), "Items": items},
                # unique per call: a retried publish must not be swallowed as a duplicate batch
                "CallerReference": f"ridelines-{time.time_ns()}-{uuid.uuid4().hex[:8]}",
            },
        )
