"""KMS keys: asymmetric keys that sign the JWTs and the tiles cookies, a symmetric one for stored tokens."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.settings import EnvironmentSettings


def _stable_id(key: kms.Key, logical_id: str) -> None:
    cfn = key.node.default_child
    assert isinstance(cfn, kms.CfnKey)
    cfn.override_logical_id(logical_id)


class JwtSigningKey(Construct):
    """RSA_2048 SIGN_VERIFY: RS256 JWTs signed inside KMS; the private half never leaves it."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Ridelines {settings.name}: signs session JWTs (RS256)",
            key_spec=kms.KeySpec.RSA_2048,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            pending_window=Duration.days(30 if settings.retain_data else 7),
            removal_policy=settings.removal_policy,
        )
        _stable_id(self.key, "JwtSigningKey")
        self.alias = self.key.add_alias(settings.alias_name("jwt"))


class TokenEncryptionKey(Construct):
    """SYMMETRIC_DEFAULT with yearly rotation: encrypts the intervals.icu token stored per user."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Ridelines {settings.name}: encrypts stored intervals.icu tokens",
            key_spec=kms.KeySpec.SYMMETRIC_DEFAULT,
            key_usage=kms.KeyUsage.ENCRYPT_DECRYPT,
            enable_key_rotation=True,
            pending_window=Duration.days(30 if settings.retain_data else 7),
            removal_policy=settings.removal_policy,
        )
        _stable_id(self.key, "TokenEncryptionKey")
        self.alias = self.key.add_alias(settings.alias_name("token"))


class TilesSigningKey(Construct):
    """ECC_NIST_P256 SIGN_VERIFY: signs the CloudFront tiles cookies (ECDSA_SHA_256) inside KMS.

    Its public half is registered as a CloudFront public key at deploy (the site-content custom
    resource reads it with kms:GetPublicKey); the private half never leaves KMS, so no private key
    is in code, an environment variable, a log or the repository. Rotation: README "Tiles key rotation".
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Ridelines {settings.name}: signs CloudFront tiles cookies (ECDSA P-256)",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            pending_window=Duration.days(30 if settings.retain_data else 7),
            removal_policy=settings.removal_policy,
        )
        _stable_id(self.key, "TilesSigningKey")
        self.alias = self.key.add_alias(settings.alias_name("tiles"))
