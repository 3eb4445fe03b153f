"""Names of the environment variables the stacks set and the code reads (one place for both).

The stacks (``stacks/``) import these names when they set Lambda environments, and the code
reads them through the small pydantic settings models of each area, so a rename cannot drift.
"""

from __future__ import annotations

import os

# Tables, bucket, keys, secret (set by the stacks; the local stack sets the same names)
USERS_TABLE_NAME = "USERS_TABLE_NAME"
OAUTH_STATE_TABLE_NAME = "OAUTH_STATE_TABLE_NAME"
SYNC_TABLE_NAME = "SYNC_TABLE_NAME"
S3_BUCKET = "S3_BUCKET"
JWT_KMS_KEY_ID = "JWT_KMS_KEY_ID"
TOKEN_KMS_KEY_ID = "TOKEN_KMS_KEY_ID"
OAUTH_CREDENTIALS_SECRET_ARN = "OAUTH_CREDENTIALS_SECRET_ARN"
SYNC_LAMBDA_FUNCTION_NAME = "SYNC_LAMBDA_FUNCTION_NAME"
CLOUDFRONT_DISTRIBUTION_ID = "CLOUDFRONT_DISTRIBUTION_ID"
# The tiles cookies: a KMS ECC_NIST_P256 signing key and the CloudFront public key registered from it
TILES_SIGNING_KMS_KEY_ID = "TILES_SIGNING_KMS_KEY_ID"
TILES_KEY_PAIR_ID = "TILES_KEY_PAIR_ID"
# The site is one origin (web app, /auth, /api, /tiles): issuer {SITE_URL}/auth, redirect_uri
# {SITE_URL}/auth/callback, tiles_url a same-origin path /tiles/...
SITE_URL = "SITE_URL"
INTERVALS_URL = "INTERVALS_URL"
# Behaviour
TIPPECANOE_ARGS = "TIPPECANOE_ARGS"
JWT_LIFETIME_SECONDS = "RIDELINES_JWT_LIFETIME_SECONDS"
INCLUDE_VIRTUAL = "RIDELINES_INCLUDE_VIRTUAL"
RATE_LIMIT_PER_SECOND = "RIDELINES_RATE_LIMIT_PER_SECOND"
OAUTH_CLIENT_ID = "RIDELINES_OAUTH_CLIENT_ID"
OAUTH_CLIENT_SECRET = "RIDELINES_OAUTH_CLIENT_SECRET"  # only seeds the local stack's emulated secret
BASEMAP_STYLE_URL = "RIDELINES_BASEMAP_STYLE_URL"  # the local stack's /config.json (else the offline basemap)

DEFAULT_INTERVALS_URL = "https://intervals.icu"
DEFAULT_JWT_LIFETIME_SECONDS = 12 * 3600
DEFAULT_RATE_LIMIT_PER_SECOND = 10.0
JWT_AUDIENCE = "ridelines"
OAUTH_SCOPE = "ACTIVITY:READ"


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def intervals_url() -> str:
    return (env(INTERVALS_URL, DEFAULT_INTERVALS_URL) or DEFAULT_INTERVALS_URL).rstrip("/")


def flag(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
