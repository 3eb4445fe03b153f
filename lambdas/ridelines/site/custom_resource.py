"""The deploy-time custom resource: CloudFormation's request in, one JSON answer to its ResponseURL.

One small function serves two resources of the stack, told apart by ``Action``:
- ``TilesPublicKey``: reads the tiles-cookie KMS key's public half and returns it as PEM (``PublicKeyPem``)
  for the ``AWS::CloudFront::PublicKey`` (it must exist before the distribution, so it cannot wait for
  the site's URL);
- ``SiteContent``: publishes the web app, ``config.json`` and the ``.well-known`` documents (it needs
  the distribution's domain for the issuer), and empties the bucket when the resource is deleted.

CloudFormation waits up to an hour for an answer that never comes, so every outcome is answered,
failures with a one-line reason (no traceback: it shows in the console and the deploy log).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ridelines.site import documents
from ridelines.site.publisher import SiteContentProperties, SitePublisher

logger = logging.getLogger(__name__)

SITE_CONTENT = "SiteContent"
TILES_PUBLIC_KEY = "TilesPublicKey"

Sender = Callable[[str, bytes], None]


class CustomResourceEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    request_type: Literal["Create", "Update", "Delete"] = Field(alias="RequestType")
    response_url: str = Field(alias="ResponseURL", pattern=r"^https://")
    stack_id: str = Field(alias="StackId")
    request_id: str = Field(alias="RequestId")
    logical_resource_id: str = Field(alias="LogicalResourceId")
    physical_resource_id: str | None = Field(default=None, alias="PhysicalResourceId")
    properties: dict[str, Any] = Field(default_factory=dict, alias="ResourceProperties")


class TilesPublicKeyProperties(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    key_id: str = Field(alias="KeyId", min_length=1)


def put_response(url: str, body: bytes) -> None:
    """PUT the answer to CloudFormation's pre-signed S3 URL (empty Content-Type, as the URL is signed)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is CloudFormation's https pre-signed URL
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def handle(
    raw_event: Mapping[str, Any], publisher: SitePublisher, send: Sender | None = None
) -> dict[str, Any]:
    """Run one request and answer CloudFormation; returns the answer (for logs and tests)."""
    event = CustomResourceEvent.model_validate(raw_event)
    physical_id = event.physical_resource_id or f"{event.logical_resource_id}-{event.request_id}"
    data: dict[str, str] = {}
    status, reason = "SUCCESS", ""
    try:
        action = event.properties.get("Action")
        if action == TILES_PUBLIC_KEY:
            props = TilesPublicKeyProperties.model_validate(event.properties)
            physical_id = f"tiles-public-key-{documents.bare_key_id(props.key_id)}"
            if event.request_type != "Delete":
                data["PublicKeyPem"] = documents.public_key_pem(publisher.public_key_der(props.key_id))
        elif action == SITE_CONTENT:
            site = SiteContentProperties.model_validate(event.properties)
            # Stable while the bucket is: an update never triggers a Delete that would empty it.
            physical_id = f"site-content-{site.web_bucket}"
            if event.request_type == "Delete":
                publisher.clear(site.web_bucket)
            else:
                written = publisher.publish(site)
                data["ObjectCount"] = str(len(written))
        else:
            raise ValueError(f"unknown Action {action!r}; expected {SITE_CONTENT} or {TILES_PUBLIC_KEY}")
    except ValidationError as error:
        # Deleting what was never valid has nothing to undo: let a rollback or a stack delete finish.
        status = "SUCCESS" if event.request_type == "Delete" else "FAILED"
        reason = f"invalid properties: {_first_error(error)}"
    except Exception as error:  # every failure must reach CloudFormation, or the deploy hangs an hour
        logger.exception("custom resource %s failed", event.logical_resource_id)
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:500]
    answer = {
        "Status": status,
        "Reason": reason or "ok",
        "PhysicalResourceId": physical_id,
        "StackId": event.stack_id,
        "RequestId": event.request_id,
        "LogicalResourceId": event.logical_resource_id,
        "NoEcho": False,
        "Data": data,
    }
    (send or put_response)(event.response_url, json.dumps(answer).encode("utf-8"))
    return answer


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
