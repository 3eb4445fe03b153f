"""The small documents the site serves as static objects: ``/config.json`` and the OIDC discovery + JWKS.

API Gateway's JWT authorizer fetches ``{SITE_URL}/auth/.well-known/openid-configuration`` and the JWKS it
names with a 1500 ms budget; as objects in S3 behind CloudFront they answer in milliseconds even after
hours idle, with no Lambda to wake (the auth Lambda still serves the same documents for the local stack).
"""

from __future__ import annotations

import base64
import json
import textwrap
from typing import Any

from ridelines.auth.jwks import openid_configuration, public_jwk

CONFIG_KEY = "config.json"
DISCOVERY_KEY = "auth/.well-known/openid-configuration"
JWKS_KEY = "auth/.well-known/jwks.json"
JSON_TYPE = "application/json"
# A key rotation reaches API Gateway and browsers within minutes; API Gateway refetches on an unknown kid.
WELL_KNOWN_CACHE_CONTROL = "public, max-age=300"
# The app's files are replaced in place at each deploy: revalidate (cheap, ETag) instead of guessing a TTL.
SITE_CACHE_CONTROL = "no-cache"


def bare_key_id(key_id: str) -> str:
    """``arn:aws:kms:...:key/<id>`` -> ``<id>``: the JWT ``kid`` the auth Lambda writes."""
    return key_id.rsplit(":key/", 1)[1] if key_id.startswith("arn:") and ":key/" in key_id else key_id


def config_document(basemap_style_url: str | None) -> bytes:
    return _json({"basemap_style_url": basemap_style_url or None})


def discovery_document(site_url: str) -> bytes:
    return _json(openid_configuration(site_url.rstrip("/")))


def jwks_document(public_key_der: bytes, key_id: str) -> bytes:
    return _json({"keys": [public_jwk(public_key_der, bare_key_id(key_id))]})


def public_key_pem(public_key_der: bytes) -> str:
    """SubjectPublicKeyInfo DER (KMS GetPublicKey) -> the PEM CloudFront's PublicKey takes."""
    body = "\n".join(textwrap.wrap(base64.b64encode(public_key_der).decode("ascii"), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")
