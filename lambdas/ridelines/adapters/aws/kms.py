"""KMS: the asymmetric signing keys (Signer: RS256 sessions, ECDSA P-256 tiles cookies) and the symmetric
key guarding stored tokens (TokenCipher)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ridelines.errors import UpstreamError

SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"  # JWS RS256
TILES_SIGNING_ALGORITHM = "ECDSA_SHA_256"  # ECC_NIST_P256 key; DER signature, as CloudFront verifies it


def _bare_key_id(key_id: str) -> str:
    """``arn:aws:kms:...:key/<id>`` -> ``<id>``; a plain key id or alias is kept as given."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id.rsplit(":key/", 1)[1]
    return key_id


class KmsSigner:
    def __init__(self, key_id: str, *, client: Any = None, algorithm: str = SIGNING_ALGORITHM) -> None:
        self._key_ref = key_id
        self._kid = _bare_key_id(key_id)
        self._algorithm = algorithm
        self._client = client or boto3.client("kms")
        self._public_key_der: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key_id(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        response = self._client.sign(
            KeyId=self._key_ref, Message=message, MessageType="RAW", SigningAlgorithm=self._algorithm
        )
        return bytes(response["Signature"])

    def public_key_der(self) -> bytes:
        with self._lock:
            if self._public_key_der is None:
                self._public_key_der = bytes(self._client.get_public_key(KeyId=self._key_ref)["PublicKey"])
            return self._public_key_der


class KmsTokenCipher:
    def __init__(self, key_id: str, *, client: Any = None) -> None:
        self._key_id = key_id
        self._client = client or boto3.client("kms")

    def encrypt(self, plaintext: str, athlete_id: str) -> bytes:
        response = self._client.encrypt(
            KeyId=self._key_id, Plaintext=plaintext.encode("utf-8"), EncryptionContext=_context(athlete_id)
        )
        return bytes(response["CiphertextBlob"])

    def decrypt(self, ciphertext: bytes, athlete_id: str) -> str:
        try:
            response = self._client.decrypt(
                KeyId=self._key_id, CiphertextBlob=ciphertext, EncryptionContext=_context(athlete_id)
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise UpstreamError(f"the stored intervals.icu token could not be decrypted ({code})") from None
        return bytes(response["Plaintext"]).decode("utf-8")


def _context(athlete_id: str) -> dict[str, str]:
    # Binds each ciphertext to its row: a token copied onto another athlete's row will not decrypt.
    return {"athlete_id": athlete_id}
