"""How many syncs in a row each file arrived short (shorter than its FIT header says).

A short file is usually a transfer cut by the server: it counts as a failed download and is
fetched again next sync. Only when the same file (same file hash) arrives short
:data:`ACCEPT_AFTER` syncs in a row is it really short at the source (a device that died
mid-ride), and the salvaged part is accepted with the reason recorded. The counts live in one
small JSON object next to the index (``{"version": 1, "files": {id: {"hash": hex, "count": n}}}``);
an unreadable object is read as empty (the worst case is three more downloads).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from ridelines.ports import BlobStore

log = logging.getLogger(__name__)

ACCEPT_AFTER = 3
MAX_TRACKED = 5000


@dataclass
class ShortDownloads:
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, blobs: BlobStore, key: str) -> ShortDownloads:
        raw = blobs.get_bytes(key)
        if not raw:
            return cls()
        try:
            doc = json.loads(raw)
            files = {
                str(k): (str(v["hash"]), int(v["count"]))
                for k, v in doc["files"].items()
                if isinstance(v, dict)
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring an unreadable short-download record (%s)", type(exc).__name__)
            return cls()
        return cls(files)

    def arrived_short(self, activity_id: str, file_hash: bytes) -> int:
        """Count one more short arrival; returns how many in a row (this one included)."""
        known = self.files.get(activity_id)
        count = known[1] + 1 if known is not None and known[0] == file_hash.hex() else 1
        if len(self.files) < MAX_TRACKED or activity_id in self.files:
            self.files[activity_id] = (file_hash.hex(), count)
            self.dirty = True
        return count

    def arrived_whole(self, activity_id: str) -> None:
        if self.files.pop(activity_id, None) is not None:
            self.dirty = True

    def save(self, blobs: BlobStore, key: str) -> None:
        if not self.dirty:
            return
        if not self.files:
            blobs.delete(key)
        else:
            doc = {"version": 1, "files": {k: {"hash": h, "count": n} for k, (h, n) in self.files.items()}}
            blobs.put_bytes(key, json.dumps(doc).encode(), content_type="application/json")
        self.dirty = False
