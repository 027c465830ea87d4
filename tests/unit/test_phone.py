"""Phone numbers: parsing every common format to E.164, masking for logs, keying for storage."""

from __future__ import annotations

import hashlib
import hmac
import re
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate import phone
from dncgate.phone import InvalidNumberError, NumberKeyer, mask_e164, mask_text, parse, try_parse

MOBILE = "+8613800138000"


@pytest.mark.parametrize(
    "text",
    [
        "13800138000",
        "+8613800138000",
        "+86 138-0013-8000",
        "0086 13800138000",
        "(+86) 138 0013 8000",
        "１３８００１３８０００",  # full-width digits, as typed on a Chinese keyboard
        "+８６ １３８ ００１３ ８０００",
        "  13800138000\t",
        "\u300013800138000\u3000",  # ideographic spaces around it
    ],
)
def test_common_ways_of_writing_a_chinese_mobile_give_one_e164(text: str) -> None:
    """Every spelling of the same mobile number parses to +8613800138000 in Asia/Shanghai."""
    n = parse(text)
    assert (n.e164, n.zone_names, n.country_code) == (MOBILE, ("Asia/Shanghai",), 86)


def test_a_wuhan_landline_with_country_code_parses() -> None:
    """+86 27 5900 1234 is a fixed line in Wuhan (area code 27)."""
    n = parse("+862759001234")
    assert (n.e164, n.zone_names, n.country_code) == ("+862759001234", ("Asia/Shanghai",), 86)


def test_a_domestic_landline_with_trunk_zero_parses() -> None:
    """027-5900-1234 dialled inside China is the same Wuhan line."""
    assert parse("027-5900-1234").e164 == "+862759001234"


def test_the_region_decides_how_a_national_number_is_read() -> None:
    """2125550123 is a New York number when the default region is US."""
    n = parse("(212) 555-0123", region="US")
    assert (n.e164, n.zone_names, n.country_code) == ("+12125550123", ("America/New_York",), 1)


def test_an_international_number_parses_whatever_the_default_region() -> None:
    """A +852 number is Hong Kong even with the default region CN."""
    assert parse("+852 2123 4567").e164 == "+85221234567"


def test_a_number_spanning_several_zones_lists_them_all() -> None:
    """A US toll-free number has many zones, and none of them is Etc/Unknown."""
    zones = parse("+1 800 253 0000").zone_names
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(zones)
    assert "Etc/Unknown" not in zones


def test_try_parse_gives_the_same_number_as_parse() -> None:
    """try_parse and parse agree on valid input."""
    assert try_parse("+86 138-0013-8000") == parse("13800138000")


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "   ",
        "12345",
        "0",
        "+",
        "+86",
        "+86 123 4567 8901",  # no such mobile prefix
        "1380013800",  # one digit short
        "138001380001",  # one digit long
        "+999 1234 5678",  # no such country code
        "1" * 65,
        "1" * 10_000,
        "13800138000" + " " * 60 + "1",  # long, and too long once spaces are counted
    ],
)
def test_garbage_is_not_a_number(text: str) -> None:
    """try_parse gives None and parse raises InvalidNumberError (a ValueError), never anything else."""
    assert try_parse(text) is None
    with pytest.raises(InvalidNumberError, match="not a valid phone number for region CN"):
        parse(text)
    assert issubclass(InvalidNumberError, ValueError)


def test_the_error_for_an_invalid_number_does_not_repeat_the_number() -> None:
    """A log of the error leaks nothing: the message names the region only."""
    with pytest.raises(InvalidNumberError) as err:
        parse("1380013800")
    assert "1380013800" not in str(err.value)


@given(st.text(max_size=80))
def test_no_text_makes_parsing_crash(text: str) -> None:
    """Any text either parses to an E.164 string or is None; parse raises only InvalidNumberError."""
    n = try_parse(text)
    assert n is None or re.fullmatch(r"\+[1-9]\d{3,14}", n.e164)
    if n is None:
        with pytest.raises(InvalidNumberError):
            parse(text)


# --- masking ----------------------------------------------------------------------------------------


def test_a_chinese_mobile_is_masked_as_in_the_design() -> None:
    """+8613800138000 is logged as +86138****8000."""
    assert mask_e164(MOBILE, 86) == "+86138****8000"
    assert parse("13800138000").masked == "+86138****8000"


def test_the_mask_hides_the_middle_digits() -> None:
    """The four digits between 138 and 8000 never appear in the mask."""
    masked = mask_e164("+8613812345678", 86)
    assert masked == "+86138****5678"
    assert "1234" not in masked


@pytest.mark.parametrize(
    ("e164", "cc", "masked"),
    [
        ("+862759001234", 86, "+86275****234"),  # 10-digit Chinese landline
        ("+12125550123", 1, "+1212****123"),  # 10-digit North American number
        ("+85221234567", 852, "+85221****67"),  # 8-digit Hong Kong number
        ("+6591234567", 65, "+6591****67"),  # 8-digit Singapore mobile
        ("+6837012", 683, "+683****"),  # 4-digit Niue number: nothing shown
        ("+49170123456789", 49, "+49170*****6789"),  # 12-digit national number
    ],
)
def test_short_and_long_numbers_keep_at_least_four_digits_hidden(e164: str, cc: int, masked: str) -> None:
    """However long the national number, four or more of its digits are stars."""
    assert mask_e164(e164, cc) == masked


def example_numbers() -> list[phonenumbers.PhoneNumber]:
    types = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    return [
        n
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for t in types
        if (n := phonenumbers.example_number_for_type(region, t)) is not None
    ]


def test_every_country_example_number_is_masked_safely() -> None:
    """For each region's example numbers: same length, country code in clear, >= 4 hidden, no middle digit."""
    numbers = example_numbers()
    assert len(numbers) > 400
    for n in numbers:
        e164 = phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)
        national = phonenumbers.national_significant_number(n)
        assert n.country_code is not None
        masked = mask_e164(e164, n.country_code)
        prefix = f"+{n.country_code}"
        assert masked.startswith(prefix) and len(masked) == len(e164), masked
        body = masked[len(prefix) :]
        stars = body.count("*")
        assert stars >= min(4, len(national)), masked
        lead = body.index("*")
        assert body == national[:lead] + "*" * stars + national[lead + stars :], masked
        assert lead <= 3 and len(national) - lead - stars <= 4, masked


def test_mask_text_shows_length_and_last_two_digits() -> None:
    """An unparsable input is logged as its length and its last two digits."""
    assert mask_text("1380013800") == "<invalid:10 chars,…00>"
    assert mask_text("+86 138-0013-800x") == "<invalid:17 chars,…00>"


def test_mask_text_without_digits_shows_only_the_length() -> None:
    """Letters are never echoed."""
    assert mask_text("abc") == "<invalid:3 chars>"
    assert mask_text("") == "<invalid:0 chars>"


def test_mask_text_counts_full_width_digits_as_digits() -> None:
    """Full-width input is masked like ASCII input."""
    assert mask_text("１３８００１３８００") == "<invalid:10 chars,…００>"


@given(st.text(max_size=200))
def test_mask_text_never_reveals_more_than_two_digits(text: str) -> None:
    """Whatever the input, only its length and at most its last two digit characters come out."""
    masked = mask_text(text)
    m = re.fullmatch(r"<invalid:(\d+) chars(?:,…(.{1,2}))?>", masked, flags=re.DOTALL)
    assert m is not None, masked
    assert int(m.group(1)) == len(text)
    digits = [ch for ch in text if ch.isdigit()]
    assert (m.group(2) or "") == "".join(digits[-2:])


# --- keyed hash -------------------------------------------------------------------------------------

PEPPER = bytes.fromhex("5eed" * 16)


def test_the_digest_is_hmac_sha256_of_the_e164_under_the_pepper() -> None:
    """The storage key is exactly HMAC-SHA256(pepper, e164): 32 bytes."""
    digest = NumberKeyer(PEPPER).digest(MOBILE)
    assert digest == hmac.new(PEPPER, MOBILE.encode(), hashlib.sha256).digest()
    assert len(digest) == 32


def test_the_digest_is_deterministic_across_keyers() -> None:
    """Two replicas with the same pepper key a number identically, call after call."""
    a, b = NumberKeyer(PEPPER), NumberKeyer(bytes(PEPPER))
    assert a.digest(MOBILE) == a.digest(MOBILE) == b.digest(MOBILE)


def test_the_digest_depends_on_the_pepper() -> None:
    """Without the pepper the key cannot be recomputed from a guessed number."""
    assert NumberKeyer(PEPPER).digest(MOBILE) != NumberKeyer(b"another-pepper-16").digest(MOBILE)


def test_different_numbers_have_different_digests() -> None:
    """Neighbouring numbers do not collide."""
    keyer = NumberKeyer(PEPPER)
    assert keyer.digest("+8613800138000") != keyer.digest("+8613800138001")


def test_the_digest_does_not_contain_the_number() -> None:
    """Neither the digits nor their bytes appear in the key."""
    digest = NumberKeyer(PEPPER).digest(MOBILE)
    assert MOBILE.encode() not in digest and b"13800138000" not in digest.hex().encode()


def test_the_pepper_fingerprint_names_the_pepper_without_revealing_it() -> None:
    """Same pepper, same fingerprint; another pepper, another one; 32 hex digits that are neither the pepper nor a
    number's key."""
    keyer = NumberKeyer(PEPPER)
    fingerprint = keyer.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint)
    assert fingerprint == NumberKeyer(bytes(PEPPER)).fingerprint() != NumberKeyer(b"another-pepper-16").fingerprint()
    assert PEPPER.hex() not in fingerprint and fingerprint not in keyer.digest(MOBILE).hex()


def test_a_pepper_shorter_than_16_bytes_is_refused() -> None:
    """15 bytes is too little secret; 16 is the minimum."""
    with pytest.raises(ValueError, match="at least 16 bytes"):
        NumberKeyer(b"x" * 15)
    assert len(NumberKeyer(b"x" * 16).digest(MOBILE)) == 32


def test_the_digest_stays_right_after_the_cache_is_emptied() -> None:
    """Filling the cache past its bound clears it without changing any answer."""
    keyer = NumberKeyer(PEPPER)
    first = keyer.digest(MOBILE)
    for i in range((1 << 16) + 2):
        keyer.digest(f"+86139{i:08d}")
    assert keyer.digest(MOBILE) == first == hmac.new(PEPPER, MOBILE.encode(), hashlib.sha256).digest()


def test_zone_gives_the_named_zone() -> None:
    """phone.zone is ZoneInfo with a cache."""
    assert phone.zone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    assert phone.zone("Asia/Shanghai") is phone.zone("Asia/Shanghai")


@settings(max_examples=300)
@given(pepper=st.binary(min_size=16, max_size=130), number=st.text(min_size=1, max_size=20))
def test_the_digest_is_the_standard_hmac_for_any_pepper_length(pepper: bytes, number: str) -> None:
    """The hand-built HMAC (states after the padded key computed once) equals the standard library's,
    for peppers shorter and longer than SHA-256's 64-byte block, cached or not."""
    keyer = NumberKeyer(pepper)
    expected = hmac.new(pepper, number.encode(), hashlib.sha256).digest()
    assert keyer.digest(number) == keyer.digest(number) == keyer.uncached()(number) == expected
