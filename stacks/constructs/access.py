"""Least-privilege IAM for each Lambda, written out action by action (no CDK ``grant*`` bundles).

Only auth signs JWTs and encrypts tokens; auth and user sign tiles cookies; only sync writes tiles;
user and sync delete/invalidate; user erases every version of a rider's files.
Every statement names its resources; the only wildcards are object-key prefixes and log streams.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Fn, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.constructs.data_bucket import ATHLETES_PREFIX, TILES_PREFIX
from stacks.nag import acknowledge


def _statement(sid: str, actions: list[str], resources: list[str], **conditions: dict) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions or None)


# Tokens are encrypted with the athlete id as encryption context; refuse calls that carry none.
_REQUIRE_ENCRYPTION_CONTEXT = {"Null": {"kms:EncryptionContextKeys": "false"}}


def _tiles_signing(sid: str, tiles_key: kms.IKey) -> iam.PolicyStatement:
    """CloudFront signed cookies are ECDSA P-256 over SHA-256: the only signature the key may make."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["kms:Sign"],
        resources=[tiles_key.key_arn],
        conditions={"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}},
    )


def acknowledge_key_prefixes(policy: iam.Policy, bucket_arn_export: str, prefixes: tuple[str, ...]) -> None:
    """Object keys are per athlete and made at run time: the wildcard is only the key under a prefix."""
    for prefix in prefixes:
        acknowledge(
            policy,
            "IAM5",
            f"Object keys under {prefix} are created per athlete at run time; the wildcard covers only "
            f"keys below the {prefix} prefix of the one data bucket, never another bucket or prefix.",
            finding=f"Resource::{bucket_arn_export}/{prefix}*",
        )


def function_arn(scope: Construct, function_name: str) -> str:
    """ARN of a function by its fixed name: lets sync invoke itself without a reference cycle."""
    return Stack.of(scope).format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class AuthAccess(Construct):
    """Login: state rows, user upsert, JWT signing, token encryption, the OAuth client secret."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: iam.IRole,
        users: dynamodb.ITable,
        oauth_state: dynamodb.ITable,
        jwt_key: kms.IKey,
        token_key: kms.IKey,
        tiles_key: kms.IKey,
        oauth_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        policy = iam.Policy(
            self,
            "Policy",
            roles=[role],
            statements=[
                _statement(
                    "OAuthStateSingleUse",
                    ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"],
                    [oauth_state.table_arn],
                ),
                _statement(
                    "UpsertUser",
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                    [users.table_arn],
                ),
                _statement(
                    "SignJwts", ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], [jwt_key.key_arn]
                ),
                _tiles_signing("SignTilesCookies", tiles_key),
                iam.PolicyStatement(
                    sid="EncryptTokens",
                    actions=["kms:Encrypt"],
                    resources=[token_key.key_arn],
                    conditions=_REQUIRE_ENCRYPTION_CONTEXT,
                ),
                _statement("ReadOAuthClient", ["secretsmanager:GetSecretValue"], [oauth_secret.secret_arn]),
            ],
        )
        self.policy = policy


class UserAccess(Construct):
    """The user API: profile, sync trigger/progress, account deletion (rows, files, tiles, token)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: iam.IRole,
        users: dynamodb.ITable,
        syncs: dynamodb.ITable,
        bucket_arn_export: str,
        token_key: kms.IKey,
        tiles_key: kms.IKey,
        distribution_arn: str,
        sync_function_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        bucket_arn = Fn.import_value(bucket_arn_export)
        rider_prefixes = {"StringLike": {"s3:prefix": [f"{ATHLETES_PREFIX}*", f"{TILES_PREFIX}*"]}}
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[role],
            statements=[
                _statement(
                    "ReadAndDeleteUser", ["dynamodb:GetItem", "dynamodb:DeleteItem"], [users.table_arn]
                ),
                _statement(
                    "SyncLease",
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    [syncs.table_arn],
                ),
                _statement("StartSync", ["lambda:InvokeFunction"], [function_arn(self, sync_function_name)]),
                # Account deletion lists and removes every version of a rider's files (DESIGN §3.4).
                iam.PolicyStatement(
                    sid="ListOwnPrefixes",
                    actions=["s3:ListBucket", "s3:ListBucketVersions"],
                    resources=[bucket_arn],
                    conditions=rider_prefixes,
                ),
                # GET /api/user/explorer: the layer the sync stored beside the archive, nothing else
                _statement(
                    "ReadExplorerLayer", ["s3:GetObject"], [f"{bucket_arn}/{ATHLETES_PREFIX}*/explorer.json"]
                ),
                _statement(
                    "DeleteAccountFilesAndVersions",
                    ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    [f"{bucket_arn}/{ATHLETES_PREFIX}*", f"{bucket_arn}/{TILES_PREFIX}*"],
                ),
                _tiles_signing("RefreshTilesCookies", tiles_key),
                _statement("InvalidateDeletedTiles", ["cloudfront:CreateInvalidation"], [distribution_arn]),
                iam.PolicyStatement(
                    sid="DecryptTokenToRevokeApp",
                    actions=["kms:Decrypt"],
                    resources=[token_key.key_arn],
                    conditions=_REQUIRE_ENCRYPTION_CONTEXT,
                ),
            ],
        )
        acknowledge_key_prefixes(self.policy, bucket_arn_export, (ATHLETES_PREFIX, TILES_PREFIX))
        acknowledge(
            self.policy,
            "IAM5",
            "Reads only each athlete's explorer.json (GET /api/user/explorer); the wildcard is the "
            "athlete id under the athletes/ prefix of the one data bucket.",
            finding=f"Resource::{bucket_arn_export}/{ATHLETES_PREFIX}*/explorer.json",
        )


class SyncAccess(Construct):
    """The sync: archive + index, tiles publish/replace, progress rows, token use, self-reinvocation."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role: iam.IRole,
        users: dynamodb.ITable,
        syncs: dynamodb.ITable,
        bucket_arn_export: str,
        token_key: kms.IKey,
        sync_function_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        bucket_arn = Fn.import_value(bucket_arn_export)
        athletes = f"{bucket_arn}/{ATHLETES_PREFIX}*"
        tiles = f"{bucket_arn}/{TILES_PREFIX}*"
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[role],
            statements=[
                _statement(
                    "ReadUserRecordTilesKey", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [users.table_arn]
                ),
                _statement(
                    "SyncProgress",
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                    [syncs.table_arn],
                ),
                # Without s3:ListBucket (unconditioned: S3's 404-or-403 check carries no prefix), a
                # first sync's missing activities.index would read as AccessDenied instead of NoSuchKey.
                _statement("MissingKeysAreNotFound", ["s3:ListBucket"], [bucket_arn]),
                # Index, archive and the staging batches of a resumable sync (deleted once merged).
                _statement(
                    "ReadWriteArchive",
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    [athletes],
                ),
                _statement(
                    "PublishTiles",
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    [tiles],
                ),
                # A sync that finds the account deleted under it erases every version it and the
                # account wrote (ridelines.erasure: the deletion fence). Publishing invalidates nothing
                # (content-hashed keys, ridelines.publish), so no CloudFront grant.
                iam.PolicyStatement(
                    sid="ListVersionsToErase",
                    actions=["s3:ListBucketVersions"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{ATHLETES_PREFIX}*", f"{TILES_PREFIX}*"]}},
                ),
                _statement("EraseVersionsOfDeletedAccount", ["s3:DeleteObjectVersion"], [athletes, tiles]),
                iam.PolicyStatement(
                    sid="DecryptToken",
                    actions=["kms:Decrypt"],
                    resources=[token_key.key_arn],
                    conditions=_REQUIRE_ENCRYPTION_CONTEXT,
                ),
                _statement(
                    "ContinueFromCheckpoint",
                    ["lambda:InvokeFunction"],
                    [function_arn(self, sync_function_name)],
                ),
            ],
        )
        acknowledge_key_prefixes(self.policy, bucket_arn_export, (ATHLETES_PREFIX, TILES_PREFIX))
