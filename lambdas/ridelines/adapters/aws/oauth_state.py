"""OAuth state table (PK ``state``, TTL attribute ``expires_at`` in epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ridelines.models import ConsumedState


class DynamoOAuthStateRepository:
    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def put(self, state: str, redirect_path: str, expires_at: datetime, binding_hash: str) -> None:
        self._client.put_item(
            TableName=self.table_name,
            Item={
                "state": {"S": state},
                "redirect_path": {"S": redirect_path},
                "binding_hash": {"S": binding_hash},
                "expires_at": {"N": str(int(expires_at.timestamp()))},
            },
            ConditionExpression="attribute_not_exists(#state)",  # a collision would be a bug; never overwrite
            ExpressionAttributeNames={"#state": "state"},
        )

    def consume(self, state: str, binding_hash: str, now: datetime) -> ConsumedState:
        # A conditional DeleteItem is the atomic "use once, and only from the browser that began it":
        # of two concurrent callbacks only one gets the old item; a foreign browser deletes nothing.
        try:
            old = self._client.delete_item(
                TableName=self.table_name,
                Key={"state": {"S": state}},
                ConditionExpression="attribute_exists(#state) AND binding_hash = :binding",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":binding": {"S": binding_hash}},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ).get("Attributes")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                # The item comes back only when it exists: then the binding was another browser's.
                return ConsumedState(binding_mismatch=bool(exc.response.get("Item")))
            raise
        if not old:
            return ConsumedState()
        # TTL deletion lags by up to days: expiry is decided here.
        expires_at = datetime.fromtimestamp(int(old["expires_at"]["N"]), tz=UTC)
        if expires_at <= now:
            return ConsumedState()
        return ConsumedState(redirect_path=str(old["redirect_path"]["S"]))
