"""A folder as a :class:`ridelines.ports.BlobStore` (keys are relative paths; writes are atomic)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or not key or key.startswith("/"):
            raise ValueError(f"key {key!r} escapes the store")
        return path

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary output files
            os.replace(tmp, target)  # readers see the old file or the new one, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None:
        self._write(key, lambda handle: handle.write(data))

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None:
        def copy(handle: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle)

        self._write(key, copy)

    def get_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def download_file(self, key: str, path: Path) -> bool:
        source = self._path(key)
        if not source.is_file():
            return False
        shutil.copyfile(source, path)
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # drop folders the deletion emptied (e.g. .staging/ after a merge), never the root
        root = self.root.resolve()
        parent = path.parent
        while parent != root and parent.is_relative_to(root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list_keys(self, prefix: str) -> Iterator[str]:
        keys = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))
