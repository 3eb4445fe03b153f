"""Test doubles for the Signer port shared by the suites (no AWS)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class LocalEcdsaSigner:
    """The Signer port over a local P-256 key: KMS ECDSA_SHA_256 (DER) without AWS (unit tests only)."""

    def __init__(self, kid: str = "tiles-key-1") -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        self._kid = kid
        self.calls = 0

    @property
    def key_id(self) -> str:
        return self._kid

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        return self._private.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key_der(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
