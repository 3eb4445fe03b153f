"""The deletion fence: a sync that is running when its rider deletes the account leaves nothing behind.

``DELETE /api/user`` (:meth:`ridelines.api.account.AccountService.delete_account`) removes the sync
row (the running sync stops at its next progress save), then the users row - the fence - and
then erases every version of everything under the rider's prefixes. The sync writes through a
:class:`FencedBlobStore`, which checks the fence before *and after* every write or delete:

* before: the account is gone -> erase, stop (:class:`AccountDeleted`), write nothing;
* after: a write that raced the deletion (it passed the first check, then the erasure ran
  before or while it landed) is found at once -> erase again, stop.

Any write either finished before the fence went up (so the erasure, which runs after it, removes
it) or is followed by a check that sees the fence and erases it. Nothing is left in any version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from ridelines.errors import RidelinesError
from ridelines.ports import BlobStore

T = TypeVar("T")


class AccountDeleted(RidelinesError):
    """The rider deleted the account while this sync ran: stop, keep nothing."""

    code = "account_deleted"

    def __init__(self) -> None:
        super().__init__("the account was deleted while the sync ran")


def athlete_prefixes(athlete_id: str) -> tuple[str, str]:
    """Everything stored for a rider lives under these two prefixes (DESIGN 3.4)."""
    return f"athletes/{athlete_id}/", f"tiles/{athlete_id}/"


class FencedBlobStore:
    """A :class:`~ridelines.ports.BlobStore` whose writes stop and erase once ``alive()`` is False.

    ``erase`` removes everything of the rider (every version under their prefixes, their sync
    row); reads pass straight through.
    """

    def __init__(self, inner: BlobStore, *, alive: Callable[[], bool], erase: Callable[[], None]) -> None:
        self._inner = inner
        self._alive = alive
        self._erase = erase

    def _fenced(self, write: Callable[[], T]) -> T:
        if not self._alive():
            self._erase()
            raise AccountDeleted()
        result = write()
        if not self._alive():
            self._erase()
            raise AccountDeleted()
        return result

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
        self._fenced(
            lambda: self._inner.put_bytes(
                key,
                data,
                content_type=content_type,
                cache_control=cache_control,
                content_encoding=content_encoding,
                content_disposition=content_disposition,
            )
        )

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
        self._fenced(
            lambda: self._inner.put_file(
                key,
                path,
                content_type=content_type,
                cache_control=cache_control,
                content_encoding=content_encoding,
                content_disposition=content_disposition,
            )
        )

    def delete(self, key: str) -> None:
        self._fenced(lambda: self._inner.delete(key))

    def get_bytes(self, key: str) -> bytes | None:
        return self._inner.get_bytes(key)

    def download_file(self, key: str, path: Path) -> bool:
        return self._inner.download_file(key, path)

    def exists(self, key: str) -> bool:
        return self._inner.exists(key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        return self._inner.list_keys(prefix)
