"""The deletion fence around the sync's writes (in-memory store): check before and after each write."""

from __future__ import annotations

from pathlib import Path

import pytest

from ridelines.adapters.memory import MemoryBlobStore
from ridelines.erasure import AccountDeleted, FencedBlobStore, athlete_prefixes


class Account:
    def __init__(self, store: MemoryBlobStore) -> None:
        self.exists = True
        self.store = store
        self.erasures = 0

    def alive(self) -> bool:
        return self.exists

    def erase(self) -> None:
        self.erasures += 1
        for prefix in athlete_prefixes("7"):
            self.store.purge(prefix)


def test_writes_pass_while_the_account_exists(tmp_path: Path) -> None:
    store = MemoryBlobStore()
    account = Account(store)
    fenced = FencedBlobStore(store, alive=account.alive, erase=account.erase)
    fenced.put_bytes("athletes/7/a", b"1")
    (tmp_path / "f").write_bytes(b"2")
    fenced.put_file("tiles/7/b.pmtiles", tmp_path / "f")
    fenced.delete("athletes/7/a")
    assert store.objects == {"tiles/7/b.pmtiles": b"2"} and account.erasures == 0
    assert fenced.get_bytes("tiles/7/b.pmtiles") == b"2" and fenced.exists("tiles/7/b.pmtiles")
    assert list(fenced.list_keys("tiles/7/")) == ["tiles/7/b.pmtiles"]


def test_a_write_after_the_deletion_erases_and_stops() -> None:
    store = MemoryBlobStore()
    store.put_bytes("athletes/7/left-over", b"x")
    account = Account(store)
    account.exists = False
    fenced = FencedBlobStore(store, alive=account.alive, erase=account.erase)
    with pytest.raises(AccountDeleted):
        fenced.put_bytes("athletes/7/new", b"1")
    with pytest.raises(AccountDeleted):
        fenced.delete("tiles/7/old")
    assert store.objects == {} and account.erasures == 2


def test_a_write_racing_the_deletion_is_found_by_the_check_after_it() -> None:
    store = MemoryBlobStore()
    account = Account(store)

    class DeletedWhileWriting(MemoryBlobStore):
        def put_bytes(self, key: str, data: bytes, **kwargs: object) -> None:
            account.exists = False  # DELETE /api/user ran (and erased) while this write was in flight
            store.put_bytes(key, data)

        def purge(self, prefix: str) -> int:
            return store.purge(prefix)

    fenced = FencedBlobStore(DeletedWhileWriting(), alive=account.alive, erase=account.erase)
    with pytest.raises(AccountDeleted):
        fenced.put_bytes("athletes/7/archive", b"tracks")
    assert store.objects == {} and account.erasures == 1
