"""Syncs table (PK ``athlete_id``): the per-athlete single-flight lease and live progress.

The record is stored as JSON text (``record``) next to the few attributes the conditional
writes test: ``sync_id``, ``status`` and ``lease_expires_epoch`` (epoch seconds, a number).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ridelines.errors import NotFound, SyncInProgress
from ridelines.models import SyncRecord, SyncStatus

_ACTIVE = [SyncStatus.QUEUED.value, SyncStatus.RUNNING.value]


def _key(athlete_id: str) -> dict[str, Any]:
    return {"athlete_id": {"S": athlete_id}}


def _item(record: SyncRecord) -> dict[str, Any]:
    return {
        "athlete_id": {"S": record.athlete_id},
        "sync_id": {"S": record.sync_id},
        "status": {"S": record.status.value},
        "lease_expires_epoch": {"N": str(int(record.lease_expires_at.timestamp()))},
        "record": {"S": record.model_dump_json()},
    }


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoSyncStateRepository:
    def __init__(self, table_name: str, *, client: Any = None) -> None:
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")

    def acquire(
        self, athlete_id: str, sync_id: str, *, full: bool, now: datetime, lease_seconds: int
    ) -> SyncRecord:
        record = SyncRecord(
            athlete_id=athlete_id,
            sync_id=sync_id,
            status=SyncStatus.QUEUED,
            full=full,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        try:
            # one conditional write: free, finished, or the holder's lease ran out
            self._client.put_item(
                TableName=self.table_name,
                Item=_item(record),
                ConditionExpression=(
                    "attribute_not_exists(athlete_id) OR NOT (#status IN (:queued, :running)) "
                    "OR lease_expires_epoch <= :now"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":queued": {"S": _ACTIVE[0]},
                    ":running": {"S": _ACTIVE[1]},
                    ":now": {"N": str(int(now.timestamp()))},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            current = self.get(athlete_id)
            raise SyncInProgress(current.sync_id if current else "") from None
        return record

    def get(self, athlete_id: str) -> SyncRecord | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(athlete_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return SyncRecord.model_validate_json(item["record"]["S"])

    def save(self, record: SyncRecord) -> None:
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=_item(record),
                # the row must exist and be ours: a stale run cannot overwrite a newer sync, and a
                # sync still running when the account is deleted cannot bring the row back
                ConditionExpression="sync_id = :sync_id",
                ExpressionAttributeValues={":sync_id": {"S": record.sync_id}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            current = self.get(record.athlete_id)
            if current is None:
                raise NotFound("the sync record is gone (account deleted?)") from None
            raise SyncInProgress(current.sync_id) from None

    def save_if_unchanged(self, record: SyncRecord, *, expected: SyncRecord) -> bool:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(record.athlete_id), ConsistentRead=True
        ).get("Item")
        if not item:
            return False
        stored_text = item["record"]["S"]
        if SyncRecord.model_validate_json(stored_text) != expected:
            return False
        try:
            # conditional on the exact text just read and compared: nobody wrote in between
            self._client.put_item(
                TableName=self.table_name,
                Item=_item(record),
                ConditionExpression="#record = :stored",
                ExpressionAttributeNames={"#record": "record"},
                ExpressionAttributeValues={":stored": {"S": stored_text}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return False
        return True

    def delete(self, athlete_id: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=_key(athlete_id))
