"""The compensation service's small parts: its settings, the sealed number, redaction and page tokens."""

from __future__ import annotations

import pytest

from dncgate.config import ConfigError, Settings
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.money import Money
from dncgate.sealing import NumberSealer, UnsealError
from dncgate.service.paging import decode_token, encode_token, page_size
from dncgate.service.redact import redact

PEPPER = bytes.fromhex("5eed" * 16)


def test_compensation_settings_default_to_100_yuan_24_and_72_hours() -> None:
    """With nothing set: 100.00 CNY per verified number, first response in 24 h, resolution in 72 h."""
    s = Settings.from_env({})
    assert (s.compensation, s.first_response_hours, s.resolution_hours, s.payout_key) == (
        Money(10000, "CNY"),
        24,
        72,
        None,
    )


def test_compensation_settings_are_read_strictly() -> None:
    """A valid amount, hours and a payout key are taken as given."""
    s = Settings.from_env(
        {
            "DNCGATE_COMPENSATION": "50.5 USD",
            "DNCGATE_FIRST_RESPONSE_HOURS": "4",
            "DNCGATE_RESOLUTION_HOURS": "48",
            "DNCGATE_PAYOUT_KEY": "ab" * 32,
        }
    )
    assert (s.compensation, s.first_response_hours, s.resolution_hours, s.payout_key) == (
        Money(5050, "USD"),
        4,
        48,
        b"\xab" * 32,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DNCGATE_COMPENSATION", "100.001 CNY"),
        ("DNCGATE_COMPENSATION", "100"),
        ("DNCGATE_COMPENSATION", "-1 CNY"),
        ("DNCGATE_FIRST_RESPONSE_HOURS", "0"),
        ("DNCGATE_RESOLUTION_HOURS", "soon"),
        ("DNCGATE_FIRST_RESPONSE_HOURS", "100"),
        ("DNCGATE_PAYOUT_KEY", "ab" * 16),
        ("DNCGATE_PAYOUT_KEY", "not hex at all"),
    ],
)
def test_bad_compensation_settings_name_the_variable(name: str, value: str) -> None:
    """Loose amounts, impossible hours (first response after resolution) and short keys are refused."""
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_a_sealed_number_opens_only_with_its_key_and_context() -> None:
    """AES-GCM with the payout id as associated data: another context or key cannot open it."""
    sealer = NumberSealer.from_secrets(None, PEPPER)
    blob = sealer.seal("+8613800138000", "PO-1")
    assert b"13800138000" not in blob and blob != sealer.seal("+8613800138000", "PO-1")
    assert sealer.unseal(blob, "PO-1") == "+8613800138000"
    assert NumberSealer.from_secrets(None, PEPPER).unseal(blob, "PO-1") == "+8613800138000"
    with pytest.raises(UnsealError):
        sealer.unseal(blob, "PO-2")
    with pytest.raises(UnsealError):
        NumberSealer.from_secrets(b"\x01" * 32, PEPPER).unseal(blob, "PO-1")
    with pytest.raises(UnsealError):
        sealer.unseal(blob[:-1] + bytes([blob[-1] ^ 1]), "PO-1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("she is 138 0013 8000", "she is +86138****8000"),
        ("０086 138-0013-8000 called", "+86138****8000 called"),
        ("typo 138001380001", "typo **********01"),
        ("line +86 27 5900 1111 rang at 2026-11-22 14:03", "line +86 27 5900 1111 rang at 2026-11-22 14:03"),
        ("other line 027-5900-2222", "other line +86275****222"),
    ],
)
def test_numbers_in_free_text_are_masked_except_the_named_company_lines(text: str, expected: str) -> None:
    """The consumer's number in any format is masked; the complaint's caller lines and dates stay readable."""
    assert redact(text, "CN", frozenset({"+862759001111"})) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4200001234202611221234567890", "4200001234202611221234567890"),
        ("BANK-20261123-17 for 13900139000", "BANK-20261123-17 for +86139****9000"),
        ("paid to 139 0013 9000", "paid to +86139****9000"),
        ("wx13900139000", "wx+86139****9000"),
        ("ref:+8613900139000;", "ref:+86139****9000;"),
        ("to +862759001111", "to +862759001111"),
    ],
)
def test_a_reference_keeps_its_transaction_ids_but_not_the_numbers_in_it(text: str, expected: str) -> None:
    """In a payment reference only phone numbers are masked (a digit run that is one by itself too);
    the payment system's long ids stay readable, and a named company line stays as written."""
    assert redact(text, "CN", frozenset({"+862759001111"}), reference=True) == expected


def test_page_tokens_round_trip_and_refuse_forgeries() -> None:
    """A token continues where the page ended; a foreign or garbled token is INVALID_ARGUMENT."""
    assert decode_token(encode_token("c", 42), "c") == 42
    assert encode_token("c", None) == "" and decode_token("", "c") is None
    for bad in ("garbage", encode_token("p", 42), "!!!"):
        with pytest.raises(InvalidArgument) as info:
            decode_token(bad, "c")
        assert info.value.field == "page_token"


def test_page_size_defaults_caps_and_refuses_negative() -> None:
    """0 → 50, 10,000 → 500, -1 → INVALID_ARGUMENT on page_size."""
    assert (page_size(0), page_size(7), page_size(10_000)) == (50, 7, 500)
    with pytest.raises(InvalidArgument):
        page_size(-1)
