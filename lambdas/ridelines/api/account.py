"""What a logged-in rider can do with their account: profile, start/watch a sync, delete everything."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ridelines.api.observability import logger
from ridelines.auth.intervals_oauth import IntervalsOAuthClient
from ridelines.erasure import athlete_prefixes
from ridelines.errors import NotFound, SyncInProgress, UpstreamError
from ridelines.models import SyncRecord, SyncRequest, SyncStatus, User
from ridelines.ports import (
    CdnInvalidator,
    ErasableBlobStore,
    SyncInvoker,
    SyncStateRepository,
    TokenCipher,
    UserRepository,
)
from ridelines.privacy import PrivacySettings, StoredPrivacy, privacy_version, protect

DEFAULT_SYNC_LEASE_SECONDS = 15 * 60  # the sync renews it while it runs


@dataclass
class AccountService:
    users: UserRepository
    syncs: SyncStateRepository
    blobs: ErasableBlobStore
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

    def start_sync(self, athlete_id: str, *, full: bool, retile: bool = False) -> SyncRecord:
        self.user(athlete_id)  # no sync for an account that does not exist (any more)
        now = self.clock()
        record = self.syncs.acquire(
            athlete_id, self.new_sync_id(), full=full, now=now, lease_seconds=self.sync_lease_seconds
        )
        if self.users.get(athlete_id) is None:
            # the account was deleted between the check and the lease: leave no sync row behind
            self.syncs.delete(athlete_id)
            raise NotFound("no account for this athlete; log in again")
        request = SyncRequest(athlete_id=athlete_id, sync_id=record.sync_id, full=full, retile=retile)
        payload = request.model_dump(exclude_none=True)
        if not retile:
            del payload["retile"]  # the plain sync event stays as DESIGN 3.2 shows it
        try:
            self.invoker.invoke(payload)
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

    def privacy(self, athlete_id: str) -> PrivacySettings:
        stored = self.user(athlete_id).privacy
        return stored.public if stored else PrivacySettings()

    def set_privacy(self, athlete_id: str, settings: PrivacySettings) -> StoredPrivacy:
        """Store validated settings (keeping each unchanged zone's secret offset) and republish.

        The map is re-tiled from the archive by a ``retile`` sync (no listing, no download). When a
        sync is already queued or running, it applies the new settings itself: it reads them when
        it tiles and, if they changed after that, queues the follow-up when it finishes (see
        :func:`ridelines.pipeline.lambda_entry`), so a change is never lost.
        """
        user = self.user(athlete_id)
        stored = protect(settings, user.privacy)
        self.users.set_privacy(athlete_id, stored, self.clock())
        if user.tiles_key is None:
            return stored  # nothing published yet: the first sync tiles with these settings
        if stored.version() == privacy_version(user.privacy):
            return stored  # the same settings (and secrets) again: the map already shows them
        try:
            self.start_sync(athlete_id, full=False, retile=True)
        except SyncInProgress:
            logger.info(
                "privacy changed during a sync; that sync applies it", extra={"athlete_id": athlete_id}
            )
        except UpstreamError:
            # stored; the next sync re-tiles (the published settings version no longer matches)
            logger.warning("could not queue the re-tiling", extra={"athlete_id": athlete_id})
        return stored

    def sync_status(self, athlete_id: str) -> SyncRecord:
        record = self.syncs.get(athlete_id)
        if record is None:
            raise NotFound("no sync has run for this athlete yet")
        return record.as_seen(self.clock())  # never "running" past the lease

    def delete_account(self, athlete_id: str) -> None:
        """Revoke at intervals.icu, stop a running sync, and erase every row and stored file.

        A transient intervals.icu failure aborts before anything is erased, so a retry still holds
        the token it needs to revoke. Then, in this order (see :mod:`ridelines.erasure`): the sync
        row (a running sync stops at its next save), the users row (the fence every sync write
        checks before and after), and every version of every object under the rider's prefixes.
        A retry after a failure part-way repeats what is left.
        """
        user = self.users.get(athlete_id)
        if user is not None and user.encrypted_token:
            self._disconnect(user)
        self.syncs.delete(athlete_id)
        self.users.delete(athlete_id)
        erased = sum(self.blobs.purge(prefix) for prefix in athlete_prefixes(athlete_id))
        if erased or (user is not None and user.tiles_key):
            self.invalidator.invalidate([f"/tiles/{athlete_id}/*"])

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
