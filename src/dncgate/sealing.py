"""The one reachable consumer number we keep (to pay them) is sealed with AES-GCM, never stored in clear."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12
_HKDF_INFO = b"dncgate payout number v1"


class UnsealError(ValueError):
    """The blob was not sealed with this key for this context (or was tampered with)."""


class NumberSealer:
    """Seals an E.164 number bound to a context (the payout id), so a blob cannot be moved to another row.

    The key is DNCGATE_PAYOUT_KEY, or without it one derived from the pepper with HKDF: the pepper is
    already a secret every replica shares, and the derived key is independent of the HMAC use of it.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the payout key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    @classmethod
    def from_secrets(cls, payout_key: bytes | None, pepper: bytes) -> NumberSealer:
        if payout_key is not None:
            return cls(payout_key)
        return cls(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(pepper))

    def seal(self, e164: str, context: str) -> bytes:
        """version byte, 12-byte random nonce, then ciphertext and tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, e164.encode(), context.encode())

    def unseal(self, blob: bytes, context: str) -> str:
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE_BYTES + 16:
            raise UnsealError("not a sealed number of a known version")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode()).decode()
        except InvalidTag:
            raise UnsealError("wrong key or context, or the blob was altered") from None
