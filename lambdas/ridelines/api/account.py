"""What a logged-in rider can do with their account: profile, start/watch a sync, delete everything."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ridelines.api.observability import logger
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.errors import NotFound, UpstreamError
from ridelines.models import SyncRecord, SyncRequest, SyncStatus, User
from ridelines.ports import (
    BlobStore,
    CdnInvalidator,
    SyncInvoker,
    SyncStateRepository,
    TokenCipher,
    UserRepository,
)

DEFAULT_SYNC_LEASE_SECONDS = 15 * 60  # the sync renews it while it runs


def athlete_prefixes(athlete_id: str) -> tuple[str, str]:
    return f"athletes/{athlete_id}/", f"tiles/{athlete_id}/"


@dataclass
class AccountService:
    users: UserRepository
    syncs: SyncStateRepository
    blobs: BlobStore
    invalidator: CdnInvalidator
    invoker: SyncInvoker
    cipher: TokenCipher
    intervals: IntervalsOAuthClient
    clock: Callable[[], datetime]
    sync_lease_seconds: int = DEFAULT_SYNC_LEASE_SECONDS
    new_sync_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)

    def user(self, athlete_id: str) -> User:
        user = self.users.get(athlete_id)
        if user is None:
            raise NotFound("no account for this athlete; log in again")
        return user

    def start_sync(self, athlete_id: str, *, full: bool) -> SyncRecord:
        self.user(athlete_id)  # no sync for an account that does not exist (any more)
        now = self.clock()
        record = self.syncs.acquire(
            athlete_id, self.new_sync_id(), full=full, now=now, lease_seconds=self.sync_lease_seconds
        )
        request = SyncRequest(athlete_id=athlete_id, sync_id=record.sync_id, full=full)
        try:
            self.invoker.invoke(request.model_dump(exclude_none=True))
        except Exception as exc:
            # Release the lease at once so the rider can simply press Sync again.
            logger.exception(
                "sync invocation failed", extra={"athlete_id": athlete_id, "error_type": type(exc).__name__}
            )
            failed = record.model_copy(
                update={
                    "status": SyncStatus.FAILED,
                    "finished_at": now,
                    "error": "the sync could not be started",
                    "lease_expires_at": now,
                }
            )
            self.syncs.save(failed)
            raise UpstreamError("the sync could not be started; try again") from None
        return record

    def sync_status(self, athlete_id: str) -> SyncRecord:
        record = self.syncs.get(athlete_id)
        if record is None:
            raise NotFound("no sync has run for this athlete yet")
        return record.as_seen(self.clock())  # never "running" past the lease

    def delete_account(self, athlete_id: str) -> None:
        """Revoke at intervals.icu, then erase sync state, stored files, tiles and the user row.

        A transient intervals.icu failure aborts before anything is erased, so a retry still holds
        the token it needs to revoke. The user row goes last for the same reason.
        """
        user = self.users.get(athlete_id)
        if user is not None and user.encrypted_token:
            self._disconnect(user)
        self.syncs.delete(athlete_id)
        deleted_tiles = False
        for prefix in athlete_prefixes(athlete_id):
            for key in list(self.blobs.list_keys(prefix)):
                self.blobs.delete(key)
                deleted_tiles = deleted_tiles or key.startswith("tiles/")
        if deleted_tiles or (user is not None and user.tiles_key):
            self.invalidator.invalidate([f"/tiles/{athlete_id}/*"])
        self.users.delete(athlete_id)

    def _disconnect(self, user: User) -> None:
        assert user.encrypted_token is not None
        try:
            token = self.cipher.decrypt(user.encrypted_token, user.athlete_id)
        except UpstreamError:
            # Undecryptable means unusable: nothing to revoke with; the rider can revoke at intervals.icu.
            logger.warning(
                "stored token unusable; skipping disconnect-app", extra={"athlete_id": user.athlete_id}
            )
            return
        if not self.intervals.disconnect_app(token):
            logger.info("intervals.icu token was already revoked", extra={"athlete_id": user.athlete_id})
