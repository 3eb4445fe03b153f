"""A BlobStore wrapper for tests that count what a sync writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class WriteRecorder:
    """Records every write and delete (``("put"|"delete", key)``) and forwards everything."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> None:
        self.writes.append(("put", key))
        self.inner.put_bytes(key, data, **kwargs)

    def put_file(self, key: str, path: Path, **kwargs: Any) -> None:
        self.writes.append(("put", key))
        self.inner.put_file(key, path, **kwargs)

    def delete(self, key: str) -> None:
        self.writes.append(("delete", key))
        self.inner.delete(key)
