"""OAuth state table (PK ``state``, TTL attribute ``expires_at`` in epoch seconds)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError


class DynamoOAuthStateRepository:
    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def put(self, state: str, redirect_path: str, expires_at: datetime) -> None:
        self._client.put_item(
            TableName=self.table_name,
            Item={
                "state": {"S": state},
                "redirect_path": {"S": redirect_path},
                "expires_at": {"N": str(int(expires_at.timestamp()))},
            },
            ConditionExpression="attribute_not_exists(#state)",  # a collision would be a bug; never overwrite
            ExpressionAttributeNames={"#state": "state"},
        )

    def consume(self, state: str, now: datetime) -> str | None:
        # DeleteItem is the atomic "use once": of two concurrent callbacks, only one gets the old item.
        try:
            old = self._client.delete_item(
                TableName=self.table_name,
                Key={"state": {"S": state}},
                ConditionExpression="attribute_exists(#state)",
                ExpressionAttributeNames={"#state": "state"},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        if not old:
            return None
        # TTL deletion lags by up to days: expiry is decided here.
        expires_at = datetime.fromtimestamp(int(old["expires_at"]["N"]), tz=UTC)
        if expires_at <= now:
            return None
        return str(old["redirect_path"]["S"])
