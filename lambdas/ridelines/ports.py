"""Ports: the small interfaces the domain talks to instead of AWS.

AWS adapters (``ridelines.adapters.aws``) implement them for Lambda and for the local stack
(boto3 pointed at the embedded moto server via ``AWS_ENDPOINT_URL``); local adapters
(``ridelines.adapters.local``) implement what the command line needs with plain files.
Tests use either, or the in-memory ones where a test is about domain logic only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ridelines.models import ConsumedState, OAuthCredentials, SyncRecord, User
from ridelines.privacy import StoredPrivacy


class BlobStore(Protocol):
    """Private object storage (S3 bucket / a local folder). Keys use '/' separators.

    ``content_encoding`` / ``content_disposition`` are stored as the object's HTTP metadata (what
    CloudFront serves with it); a folder has nowhere to keep them and ignores them."""

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None: ...

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
    ) -> None: ...

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        ...

    def download_file(self, key: str, path: Path) -> bool:
        """Stream the object to ``path``; False when it does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing key is not an error."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...


class BlobPurger(Protocol):
    def purge(self, prefix: str) -> int:
        """Delete every object under ``prefix`` in every version (and every delete marker), so
        nothing is left to restore; returns how many versions went."""
        ...


class ErasableBlobStore(BlobStore, BlobPurger, Protocol):
    """A blob store that can also erase for good (versioned S3; the in-memory store)."""


class UserRepository(Protocol):
    def get(self, athlete_id: str) -> User | None: ...

    def upsert_login(self, athlete_id: str, name: str, encrypted_token: bytes, now: datetime) -> User:
        """Create or update the athlete's row; ``created_at`` survives later logins."""
        ...

    def set_tiles_key(self, athlete_id: str, tiles_key: str | None, now: datetime) -> None:
        """Record the published tiles; :class:`ridelines.errors.NotFound` when the user is gone."""
        ...

    def set_published(
        self,
        athlete_id: str,
        published: Mapping[str, str],
        now: datetime,
        *,
        explorer: Mapping[str, int] | None = None,
    ) -> None:
        """Record the published artifacts' keys (``{"tiles", "rides", "export"}``, also kept as the
        old single ``tiles_key``) and the explorer summary in one write;
        :class:`ridelines.errors.NotFound` when the user is gone."""
        ...

    def set_last_sync(self, athlete_id: str, summary: Mapping[str, Any], now: datetime) -> None: ...

    def end_sessions(self, athlete_id: str, at: datetime) -> None:
        """Refuse every session issued at or before ``at`` (stored to the millisecond); nothing
        happens when the row is gone. A new row gets ``sessions_valid_after`` just before its
        creation, so the sessions of a deleted account stay dead when the rider comes back."""
        ...

    def set_privacy(self, athlete_id: str, privacy: StoredPrivacy, now: datetime) -> None:
        """Store the privacy settings; :class:`ridelines.errors.NotFound` when the user is gone."""
        ...

    def delete(self, athlete_id: str) -> None: ...


class OAuthStateRepository(Protocol):
    def put(self, state: str, redirect_path: str, expires_at: datetime, binding_hash: str) -> None: ...

    def consume(self, state: str, binding_hash: str, now: datetime) -> ConsumedState:
        """Atomically delete the state if its stored binding hash is ``binding_hash``, and return
        its redirect path.

        No path when unknown, already consumed, expired at ``now`` (DynamoDB's TTL deletes late,
        so expiry is checked here, in code), or bound to another browser (then it is kept).
        """
        ...


class SyncStateRepository(Protocol):
    def acquire(
        self, athlete_id: str, sync_id: str, *, full: bool, now: datetime, lease_seconds: int
    ) -> SyncRecord:
        """Start a queued sync, or raise :class:`ridelines.errors.SyncInProgress` when an active
        sync still holds an unexpired lease (single flight per athlete, conditional write)."""
        ...

    def get(self, athlete_id: str) -> SyncRecord | None: ...

    def save(self, record: SyncRecord) -> None:
        """Persist progress (status, phase, counts, checkpoint, lease). Conditional on the
        stored ``sync_id`` being ``record.sync_id`` so a stale run cannot overwrite a newer one;
        raises :class:`ridelines.errors.NotFound` when the row is gone (the account was deleted)."""
        ...

    def save_if_unchanged(self, record: SyncRecord, *, expected: SyncRecord) -> bool:
        """Compare-and-swap: persist ``record`` only if the stored record is still exactly
        ``expected`` (atomic; the sync leg's claim). False when it changed or is gone."""
        ...

    def delete(self, athlete_id: str) -> None: ...


class Signer(Protocol):
    """A signature over a RAW message with the key's algorithm (KMS ``Sign``): RSASSA_PKCS1_V1_5_SHA_256
    for the session key, ECDSA_SHA_256 (DER) for the tiles cookie key."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER of the signing key (KMS ``GetPublicKey``)."""
        ...


class TokenCipher(Protocol):
    """Envelope for the intervals.icu token at rest (symmetric KMS key, context = athlete id)."""

    def encrypt(self, plaintext: str, athlete_id: str) -> bytes: ...

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str: ...


class SyncInvoker(Protocol):
    """Starts the sync Lambda asynchronously (``InvocationType=Event``) with a SyncRequest dict."""

    def invoke(self, payload: Mapping[str, Any]) -> None: ...


class CdnInvalidator(Protocol):
    def invalidate(self, paths: list[str]) -> None:
        """Invalidate absolute paths such as ``/tiles/123/abc.pmtiles``."""
        ...


class OAuthCredentialsProvider(Protocol):
    def get(self) -> OAuthCredentials: ...
