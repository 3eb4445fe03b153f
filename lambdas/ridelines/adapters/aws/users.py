"""Users table (PK ``athlete_id``): one row per athlete, the intervals.icu token stored as KMS ciphertext."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ridelines.auth.sessions import epoch_ms, from_epoch_ms, valid_after_for_new_account
from ridelines.errors import NotFound
from ridelines.models import User
from ridelines.privacy import StoredPrivacy


class DynamoUserRepository:
    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def get(self, athlete_id: str) -> User | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(athlete_id), ConsistentRead=True
        ).get("Item")
        return _to_user(item) if item else None

    def upsert_login(self, athlete_id: str, name: str, encrypted_token: bytes, now: datetime) -> User:
        # One atomic write: created_at is set only when the row is new, so it survives every later login;
        # so is sessions_valid_after, which keeps the sessions of a deleted account dead.
        item = self._client.update_item(
            TableName=self.table_name,
            Key=_key(athlete_id),
            UpdateExpression=(
                "SET #name = :name, encrypted_token = :token, updated_at = :now, "
                "created_at = if_not_exists(created_at, :now), "
                "sessions_valid_after = if_not_exists(sessions_valid_after, :valid_after)"
            ),
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues={
                ":name": {"S": name},
                ":token": {"B": encrypted_token},
                ":now": {"S": _iso(now)},
                ":valid_after": {"N": str(epoch_ms(valid_after_for_new_account(now)))},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return _to_user(item)

    def set_tiles_key(self, athlete_id: str, tiles_key: str | None, now: datetime) -> None:
        if tiles_key is None:
            self._update_existing(
                athlete_id, "SET updated_at = :now REMOVE tiles_key", {":now": {"S": _iso(now)}}
            )
        else:
            self._update_existing(
                athlete_id,
                "SET tiles_key = :key, updated_at = :now",
                {":key": {"S": tiles_key}, ":now": {"S": _iso(now)}},
            )

    def set_published(
        self,
        athlete_id: str,
        published: Mapping[str, str],
        now: datetime,
        *,
        explorer: Mapping[str, int] | None = None,
    ) -> None:
        # one write: the viewer never sees new tiles with an old rides list or explorer count;
        # tiles_key is kept in step for code that reads only the old single key
        expression = "SET published = :published, updated_at = :now"
        values: dict[str, Any] = {
            ":published": {"M": {kind: {"S": key} for kind, key in published.items()}},
            ":now": {"S": _iso(now)},
        }
        if published.get("tiles"):
            expression += ", tiles_key = :tiles"
            values[":tiles"] = {"S": published["tiles"]}
        if explorer is not None:
            expression += ", explorer = :explorer"
            values[":explorer"] = {"M": {name: {"N": str(int(v))} for name, v in explorer.items()}}
        self._update_existing(athlete_id, expression, values)

    def set_last_sync(self, athlete_id: str, summary: Mapping[str, Any], now: datetime) -> None:
        # Stored as JSON text: a free-form summary with floats has no clean DynamoDB number mapping.
        self._update_existing(
            athlete_id,
            "SET last_sync = :summary, updated_at = :now",
            {
                ":summary": {"S": json.dumps(dict(summary), default=str, sort_keys=True)},
                ":now": {"S": _iso(now)},
            },
        )

    def end_sessions(self, athlete_id: str, at: datetime) -> None:
        # Epoch milliseconds; only ever moves forward (two logouts racing keep the later instant).
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(athlete_id),
                UpdateExpression="SET sessions_valid_after = :at",
                ConditionExpression=(
                    "attribute_exists(athlete_id) AND "
                    "(attribute_not_exists(sessions_valid_after) OR sessions_valid_after < :at)"
                ),
                ExpressionAttributeValues={":at": {"N": str(epoch_ms(at))}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def set_privacy(self, athlete_id: str, privacy: StoredPrivacy, now: datetime) -> None:
        # JSON text like last_sync: floats (coordinates, offsets) round-trip exactly
        self._update_existing(
            athlete_id,
            "SET privacy = :privacy, updated_at = :now",
            {":privacy": {"S": privacy.model_dump_json()}, ":now": {"S": _iso(now)}},
        )

    def delete(self, athlete_id: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=_key(athlete_id))

    def _update_existing(self, athlete_id: str, expression: str, values: dict[str, Any]) -> None:
        # Never resurrect a deleted account as a half row (a sync finishing after DELETE /api/user).
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(athlete_id),
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
                ConditionExpression="attribute_exists(athlete_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise NotFound(f"no user {athlete_id}") from None
            raise


def _key(athlete_id: str) -> dict[str, Any]:
    return {"athlete_id": {"S": athlete_id}}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _to_user(item: Mapping[str, Any]) -> User:
    token = item.get("encrypted_token", {}).get("B")
    last_sync = item.get("last_sync", {}).get("S")
    valid_after = item.get("sessions_valid_after", {}).get("N")
    privacy = item.get("privacy", {}).get("S")
    return User(
        athlete_id=item["athlete_id"]["S"],
        name=item.get("name", {}).get("S", item["athlete_id"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        encrypted_token=bytes(token) if token is not None else None,
        tiles_key=item.get("tiles_key", {}).get("S"),
        last_sync=json.loads(last_sync) if last_sync else None,
        sessions_valid_after=from_epoch_ms(int(valid_after)) if valid_after else None,
        privacy=StoredPrivacy.model_validate_json(privacy) if privacy else None,
        published={kind: value["S"] for kind, value in item["published"]["M"].items()}
        if "published" in item
        else None,
        explorer={name: int(value["N"]) for name, value in item["explorer"]["M"].items()}
        if "explorer" in item
        else None,
    )
