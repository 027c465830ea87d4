"""Signed receipts: the canonical encoding, signing and verifying, the key's sources, and the org set."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from dncgate import receipt_keys
from dncgate.bootstrap import receipt_signer
from dncgate.config import ConfigError, Settings
from dncgate.domain import receipts
from dncgate.domain.decision import Verdict
from dncgate.domain.receipts import Receipt, ReceiptError
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.domain.types import Decision, Mode, Reason
from dncgate.service.checks import CheckResult
from dncgate.service.receipts import Receipts

SEED = bytes(range(32))
RECEIPT = Receipt(
    key_id="0123456789abcdef",
    call_id="0190a1b2c3d4" + "ab" * 10,
    at_us=1_764_600_000_123_456,
    callee_key="cd" * 32,
    caller="+862759001234",
    org="wuhan-01",
    agent="a17",
    decision=Decision.BLOCK,
    reason=Reason.REGISTERED,
    violation=False,
)


def test_the_encoding_is_the_documented_text_line_for_line() -> None:
    """Version line, then name=value lines in the fixed order, each ended by LF, time with six digits."""
    assert receipts.encode(RECEIPT) == (
        b"dncgate-receipt/1\nkey_id=0123456789abcdef\ncall_id=0190a1b2c3d4abababababababababab\n"
        b"time=2025-12-01T14:40:00.123456Z\ncallee_key=" + b"cd" * 32 + b"\ncaller=+862759001234\n"
        b"org=wuhan-01\nagent=a17\ndecision=BLOCK\nreason=REGISTERED\nviolation=0\n"
    )


@given(
    call_id=st.text("0123456789abcdef", max_size=32),
    at_us=st.integers(0, 4_102_444_800_000_000),
    org=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20),
    agent=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20),
    decision=st.sampled_from(Decision),
    reason=st.sampled_from(Reason),
    violation=st.booleans(),
)
def test_decode_gives_back_what_was_encoded(
    call_id: str, at_us: int, org: str, agent: str, decision: Decision, reason: Reason, violation: bool
) -> None:
    """Any receipt (ids with '=' or any printable character included) decodes to itself."""
    r = Receipt("k" * 16, call_id, at_us, "ab" * 32, "+8613800138000", org, agent, decision, reason, violation)
    assert receipts.decode(receipts.encode(r)) == r


@pytest.mark.parametrize(
    "payload",
    [
        b"dncgate-receipt/2\n",
        b"",
        receipts.encode(RECEIPT)[:-1],  # no final LF
        receipts.encode(RECEIPT) + b"\n",
        receipts.encode(RECEIPT).replace(b"org=", b"orgs="),
        receipts.encode(RECEIPT).replace(b".123456Z", b".123456+00:00"),
        receipts.encode(RECEIPT).replace(b"decision=BLOCK", b"decision=MAYBE"),
        receipts.encode(RECEIPT).replace(b"violation=0", b"violation=false"),
        b"\xff" + receipts.encode(RECEIPT),
    ],
)
def test_anything_but_a_canonical_payload_is_refused(payload: bytes) -> None:
    """Another version, a missing or extra line, a renamed field, a second spelling of a value."""
    with pytest.raises(ReceiptError):
        receipts.decode(payload)


def test_a_signature_verifies_and_any_change_to_the_payload_or_key_breaks_it() -> None:
    signer = receipt_keys.ReceiptSigner(SEED)
    payload, signature = signer.receipt(RECEIPT)
    public = receipt_keys.load_public(signer.public.raw)
    assert receipt_keys.verify(public, payload, signature)
    assert receipt_keys.verify(receipt_keys.load_public(signer.public.pem.encode()), payload, signature)
    tampered = payload.replace(b"decision=BLOCK", b"decision=ALLOW")
    assert not receipt_keys.verify(public, tampered, signature)
    assert not receipt_keys.verify(public, payload, signature[:-1] + bytes([signature[-1] ^ 1]))
    other = receipt_keys.load_public(receipt_keys.ReceiptSigner(b"\x01" * 32).public.raw)
    assert not receipt_keys.verify(other, payload, signature)


def test_the_key_id_is_the_head_of_the_public_keys_sha256() -> None:
    signer = receipt_keys.ReceiptSigner(SEED)
    import hashlib

    assert signer.key_id == hashlib.sha256(signer.public.raw).hexdigest()[:16] and len(signer.public.raw) == 32


def test_the_embedded_default_generates_the_key_file_once_owner_only(tmp_path: Path) -> None:
    """No key, no pepper: `<data dir>/receipt.key`, mode 0600, the same key on the next start."""
    settings = Settings(data_dir=tmp_path / "data")
    first = receipt_signer(settings)
    path = tmp_path / "data" / "receipt.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert receipt_signer(settings).public == first.public
    path.write_text("not a key\n")
    with pytest.raises(ConfigError, match="DNCGATE_RECEIPT_KEY"):
        receipt_signer(settings)


def test_with_a_pepper_every_replica_derives_one_key_and_writes_no_file(tmp_path: Path) -> None:
    a = receipt_signer(Settings(data_dir=tmp_path / "a", pepper=b"p" * 32))
    b = receipt_signer(Settings(data_dir=tmp_path / "b", pepper=b"p" * 32))
    assert a.public == b.public
    assert a.public != receipt_signer(Settings(data_dir=tmp_path / "c", pepper=b"q" * 32)).public
    assert not (tmp_path / "a" / "receipt.key").exists()


def test_the_configured_key_is_a_hex_seed_or_a_pem_file(tmp_path: Path) -> None:
    by_hex = receipt_signer(Settings(data_dir=tmp_path, receipt_key=SEED.hex(), pepper=b"p" * 32))
    pem = Ed25519PrivateKey.from_private_bytes(SEED).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(pem)
    by_pem = receipt_signer(Settings(data_dir=tmp_path, receipt_key=str(tmp_path / "key.pem")))
    assert by_hex.public == by_pem.public
    assert Settings.from_env({"DNCGATE_RECEIPT_KEY": SEED.hex()}).receipt_key == SEED.hex()
    with pytest.raises(ConfigError, match="DNCGATE_RECEIPT_KEY"):
        Settings.from_env({"DNCGATE_RECEIPT_KEY": str(tmp_path / "missing.pem")})
    (tmp_path / "rsa.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not an unencrypted PEM"):
        receipt_signer(Settings(data_dir=tmp_path, receipt_key=str(tmp_path / "rsa.pem")))


def _result(org_verdict: Verdict) -> CheckResult:
    return CheckResult(org_verdict, "c" * 32, "+8613800138000", "+86138****8000", "r1")


def test_the_stamp_signs_the_answer_with_the_event_time_and_callee_hash() -> None:
    signer = receipt_keys.ReceiptSigner(SEED)
    stamped = Receipts(signer).stamp(
        _result(Verdict(Decision.ALLOW, Reason.NOT_REGISTERED)), 7, "ab" * 32, "+862759001234", "o", "a"
    )
    assert stamped.receipt is not None
    payload, signature = stamped.receipt
    assert receipt_keys.verify(receipt_keys.load_public(signer.public.raw), payload, signature)
    r = receipts.decode(payload)
    assert (r.call_id, r.at_us, r.callee_key, r.caller, r.org, r.agent, r.decision, r.key_id) == (
        "c" * 32,
        7,
        "ab" * 32,
        "+862759001234",
        "o",
        "a",
        Decision.ALLOW,
        signer.key_id,
    )


def test_the_org_set_follows_each_policy_and_a_failed_read_keeps_the_last_one() -> None:
    """set_org turns an org on and off; watch replaces the set from its source, and keeps it while
    the source fails."""
    rs = Receipts(receipt_keys.ReceiptSigner(SEED))
    rs.set_org("a", OrgPolicyEntry(Mode.ENFORCE, signed_receipts=True))
    rs.set_org("b", OrgPolicyEntry(Mode.ENFORCE, signed_receipts=True))
    rs.set_org("a", OrgPolicyEntry(Mode.MONITOR, signed_receipts=False))
    assert rs.orgs == {"b"}
    reads: list[frozenset[str] | None] = [frozenset({"x", "y"}), None, frozenset({"y"})]
    seen: list[frozenset[str]] = []

    async def read() -> frozenset[str]:
        value = reads.pop(0) if reads else frozenset({"y"})
        if value is None:
            raise OSError("down")
        return value

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(rs.watch(read, stop, interval_s=0.001))
        while reads or len(seen) < 3:
            seen.append(rs.orgs)
            await asyncio.sleep(0.001)
        stop.set()
        await task

    asyncio.run(run())
    assert frozenset({"x", "y"}) in seen and rs.orgs == {"y"}


def test_a_gateway_without_a_key_signs_for_no_org() -> None:
    rs = Receipts(None)
    rs.set_org("a", OrgPolicyEntry(Mode.ENFORCE, signed_receipts=True))
    assert rs.orgs == frozenset()
