"""Deploy-time custom resource: the site's static content and the tiles public key (ridelines.site)."""

from typing import Any

import boto3

from ridelines.site.custom_resource import handle
from ridelines.site.publisher import SitePublisher


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, SitePublisher(boto3.client("s3"), boto3.client("kms")))
