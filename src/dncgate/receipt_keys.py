"""The Ed25519 key that signs receipts (`domain.receipts`): where it comes from, signing, and verifying.

The key is DNCGATE_RECEIPT_KEY: 64 hex characters (the 32-byte private seed) or the path of a PEM
file holding an Ed25519 private key (PKCS#8). Unset, it is derived from DNCGATE_PEPPER (HKDF-SHA256)
when that is set, so every replica sharing the stores signs with one key; else (the embedded default)
it is generated once into `<data dir>/receipt.key` (64 hex characters, mode 0600), as the pepper is.

One receipt signed (encoding and Ed25519) costs about 20 us CPU here (benchmarks/RESULTS.md, "Signed
receipts"): it is paid only by the Checks of orgs that turned receipts on.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dncgate.domain import receipts
from dncgate.domain.receipts import Receipt

ALGORITHM = "Ed25519"
KEY_FILE = "receipt.key"
_HKDF_INFO = b"dncgate receipt signing key v1"
_SEED = re.compile(r"[0-9a-fA-F]{64}")


class ReceiptKeyError(ValueError):
    """A receipt key that can't be used (the message says which and why)."""


def key_id(public_raw: bytes) -> str:
    """The key's name inside every payload: the first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def seed_of(text: str) -> bytes:
    """DNCGATE_RECEIPT_KEY's value as the 32-byte private seed: the hex seed itself, or the PEM file it names."""
    if _SEED.fullmatch(text):
        return bytes.fromhex(text)
    path = Path(text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReceiptKeyError(f"neither 64 hex characters nor a readable PEM file ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ReceiptKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ReceiptKeyError(f"{path}: not an Ed25519 key")
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def derived_seed(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(pepper)


def file_seed(data_dir: Path) -> bytes:
    """The seed kept in `<data dir>/receipt.key`, generated (owner-only) the first time."""
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of this data dir made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    text = path.read_text().strip()
    if not _SEED.fullmatch(text):
        raise ReceiptKeyError(f"{path}: expected 64 hex characters")
    return bytes.fromhex(text)


@dataclass(frozen=True, slots=True)
class PublicKey:
    raw: bytes
    pem: str
    key_id: str


class ReceiptSigner:
    """Signs receipts with one Ed25519 key."""

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public = PublicKey(raw, pem.decode(), key_id(raw))
        self.key_id = self.public.key_id

    def sign(self, payload: bytes) -> bytes:
        return self._key.sign(payload)

    def receipt(self, r: Receipt) -> tuple[bytes, bytes]:
        """(payload, signature) of `r`, its key_id this signer's."""
        payload = receipts.encode(r)
        return payload, self._key.sign(payload)


def load_public(data: bytes) -> Ed25519PublicKey:
    """A public key from its raw 32 bytes or a PEM SubjectPublicKeyInfo; ReceiptKeyError otherwise."""
    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ReceiptKeyError(f"not an Ed25519 public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ReceiptKeyError("not an Ed25519 public key")
    return key


def verify(public: Ed25519PublicKey, payload: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public`'s signature of exactly `payload`."""
    try:
        public.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def raw_of(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
