"""Lambda implementation of :class:`ridelines.ports.SyncInvoker` (asynchronous ``Event`` invoke)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3

from ridelines.errors import UpstreamError


class LambdaSyncInvoker:
    def __init__(self, function_name: str, *, client: Any = None) -> None:
        self.function_name = function_name
        self._client = client or boto3.client("lambda")

    def invoke(self, payload: Mapping[str, Any]) -> None:
        response = self._client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps(dict(payload), separators=(",", ":")).encode(),
        )
        status = int(response.get("StatusCode", 0))
        if status != 202:
            raise UpstreamError(f"could not start the sync (Lambda answered {status})")
