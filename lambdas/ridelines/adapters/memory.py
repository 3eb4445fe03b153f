"""In-memory implementations of the ports: the reference semantics, used by unit tests.

Thread-safe, because the sync pipeline downloads concurrently and the local stack runs the
sync in a background thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ridelines.auth.sessions import epoch_ms, from_epoch_ms, valid_after_for_new_account
from ridelines.errors import NotFound, SyncInProgress
from ridelines.models import ConsumedState, OAuthCredentials, SyncRecord, SyncStatus, User
from ridelines.privacy import StoredPrivacy


class MemoryBlobStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str | None]] = {}
        self._lock = threading.Lock()

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
        metadata: dict[str, str | None] = {"content_type": content_type, "cache_control": cache_control}
        if content_encoding is not None:
            metadata["content_encoding"] = content_encoding
        if content_disposition is not None:
            metadata["content_disposition"] = content_disposition
        with self._lock:
            self.objects[key] = bytes(data)
            self.metadata[key] = metadata

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
        self.put_bytes(
            key,
            Path(path).read_bytes(),
            content_type=content_type,
            cache_control=cache_control,
            content_encoding=content_encoding,
            content_disposition=content_disposition,
        )

    def get_bytes(self, key: str) -> bytes | None:
        with self._lock:
            return self.objects.get(key)

    def download_file(self, key: str, path: Path) -> bool:
        data = self.get_bytes(key)
        if data is None:
            return False
        Path(path).write_bytes(data)
        return True

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self.objects

    def delete(self, key: str) -> None:
        with self._lock:
            self.objects.pop(key, None)
            self.metadata.pop(key, None)

    def list_keys(self, prefix: str) -> Iterator[str]:
        with self._lock:
            keys = sorted(k for k in self.objects if k.startswith(prefix))
        return iter(keys)

    def purge(self, prefix: str) -> int:
        with self._lock:
            doomed = [k for k in self.objects if k.startswith(prefix)]
            for key in doomed:
                self.objects.pop(key, None)
                self.metadata.pop(key, None)
        return len(doomed)


class MemoryUserRepository:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._lock = threading.Lock()

    def get(self, athlete_id: str) -> User | None:
        with self._lock:
            user = self.users.get(athlete_id)
            return user.model_copy(deep=True) if user else None

    def upsert_login(self, athlete_id: str, name: str, encrypted_token: bytes, now: datetime) -> User:
        with self._lock:
            existing = self.users.get(athlete_id)
            if existing:
                user = existing.model_copy(
                    update={"name": name, "encrypted_token": encrypted_token, "updated_at": now}
                )
            else:
                user = User(
                    athlete_id=athlete_id,
                    name=name,
                    created_at=now,
                    updated_at=now,
                    encrypted_token=encrypted_token,
                    sessions_valid_after=valid_after_for_new_account(now),
                )
            self.users[athlete_id] = user
            return user.model_copy(deep=True)

    def _existing(self, athlete_id: str) -> User:
        user = self.users.get(athlete_id)
        if user is None:  # like the DynamoDB adapter: never resurrect a deleted account as a half row
            raise NotFound(f"no user {athlete_id}")
        return user

    def set_tiles_key(self, athlete_id: str, tiles_key: str | None, now: datetime) -> None:
        with self._lock:
            user = self._existing(athlete_id)
            self.users[athlete_id] = user.model_copy(update={"tiles_key": tiles_key, "updated_at": now})

    def set_published(
        self,
        athlete_id: str,
        published: Mapping[str, str],
        now: datetime,
        *,
        explorer: Mapping[str, int] | None = None,
    ) -> None:
        with self._lock:
            user = self._existing(athlete_id)
            update: dict[str, Any] = {
                "published": dict(published),
                "tiles_key": published.get("tiles"),
                "updated_at": now,
            }
            if explorer is not None:
                update["explorer"] = dict(explorer)
            self.users[athlete_id] = user.model_copy(update=update)

    def set_last_sync(self, athlete_id: str, summary: Mapping[str, Any], now: datetime) -> None:
        with self._lock:
            user = self._existing(athlete_id)
            self.users[athlete_id] = user.model_copy(update={"last_sync": dict(summary), "updated_at": now})

    def end_sessions(self, athlete_id: str, at: datetime) -> None:
        with self._lock:
            user = self.users.get(athlete_id)
            ended = from_epoch_ms(epoch_ms(at))  # to the millisecond, like the DynamoDB adapter
            if user is not None and (user.sessions_valid_after is None or user.sessions_valid_after < ended):
                self.users[athlete_id] = user.model_copy(update={"sessions_valid_after": ended})

    def set_privacy(self, athlete_id: str, privacy: StoredPrivacy, now: datetime) -> None:
        with self._lock:
            user = self._existing(athlete_id)
            self.users[athlete_id] = user.model_copy(update={"privacy": privacy, "updated_at": now})

    def delete(self, athlete_id: str) -> None:
        with self._lock:
            self.users.pop(athlete_id, None)


class MemoryOAuthStateRepository:
    def __init__(self) -> None:
        self.states: dict[str, tuple[str, datetime, str]] = {}  # state -> (path, expiry, binding hash)
        self._lock = threading.Lock()

    def put(self, state: str, redirect_path: str, expires_at: datetime, binding_hash: str) -> None:
        with self._lock:
            self.states[state] = (redirect_path, expires_at, binding_hash)

    def consume(self, state: str, binding_hash: str, now: datetime) -> ConsumedState:
        with self._lock:
            entry = self.states.get(state)
            if entry is None:
                return ConsumedState()
            if entry[2] != binding_hash:
                return ConsumedState(binding_mismatch=True)
            del self.states[state]
        if entry[1] <= now:
            return ConsumedState()
        return ConsumedState(redirect_path=entry[0])


class MemorySyncStateRepository:
    def __init__(self) -> None:
        self.records: dict[str, SyncRecord] = {}
        self._lock = threading.Lock()

    def acquire(
        self, athlete_id: str, sync_id: str, *, full: bool, now: datetime, lease_seconds: int
    ) -> SyncRecord:
        with self._lock:
            current = self.records.get(athlete_id)
            if current is not None and current.holds_lease(now):
                raise SyncInProgress(current.sync_id)
            record = SyncRecord(
                athlete_id=athlete_id,
                sync_id=sync_id,
                status=SyncStatus.QUEUED,
                full=full,
                started_at=now,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
            )
            self.records[athlete_id] = record
            return record.model_copy(deep=True)

    def get(self, athlete_id: str) -> SyncRecord | None:
        with self._lock:
            record = self.records.get(athlete_id)
            return record.model_copy(deep=True) if record else None

    def save(self, record: SyncRecord) -> None:
        with self._lock:
            current = self.records.get(record.athlete_id)
            if current is None:
                raise NotFound("the sync record is gone (account deleted?)")
            if current.sync_id != record.sync_id:
                raise SyncInProgress(current.sync_id)
            self.records[record.athlete_id] = record.model_copy(deep=True)

    def save_if_unchanged(self, record: SyncRecord, *, expected: SyncRecord) -> bool:
        with self._lock:
            if self.records.get(record.athlete_id) != expected:
                return False
            self.records[record.athlete_id] = record.model_copy(deep=True)
            return True

    def delete(self, athlete_id: str) -> None:
        with self._lock:
            self.records.pop(athlete_id, None)


class RecordingInvoker:
    """Records payloads instead of invoking; tests decide when (and whether) to run them."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []

    def invoke(self, payload: Mapping[str, Any]) -> None:
        self.payloads.append(dict(payload))


class RecordingInvalidator:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def invalidate(self, paths: list[str]) -> None:
        self.paths.extend(paths)


class StaticOAuthCredentials:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self._credentials = OAuthCredentials(client_id=client_id, client_secret=client_secret)

    def get(self) -> OAuthCredentials:
        return self._credentials
