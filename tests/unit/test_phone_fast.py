"""The bulk-import fast path for plain numbers: never an answer `phonenumbers` would not give."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import country_code_for_region

from dncgate import phone
from dncgate.phone_fast import FastE164

CN = FastE164("CN")


def _agrees(fast: FastE164, text: str, region: str) -> bool:
    """The fast answer is either None (ask phonenumbers) or exactly phonenumbers' valid E.164."""
    answer = fast.e164(text)
    if answer is None:
        return True
    parsed = phone.try_parse(text, region)
    return parsed is not None and parsed.e164 == answer


@pytest.mark.parametrize(
    ("text", "e164"),
    [("13800138000", "+8613800138000"), ("+8613800138000", "+8613800138000"), ("15912345678", "+8615912345678")],
)
def test_plain_chinese_mobiles_take_the_fast_path(text: str, e164: str) -> None:
    """The common spellings in a registry feed are answered without phonenumbers, with its E.164."""
    assert CN.e164(text) == e164 == phone.parse(text).e164


@pytest.mark.parametrize(
    "text",
    [
        "0086 13800138000",  # not plain digits
        "008613800138000",  # an IDD prefix
        "8613800138000",  # the country code without +: phonenumbers may strip it
        "02759001234",  # trunk prefix 0
        "17951 13800138000".replace(" ", ""),  # a carrier-selection code
        "1380013800",  # too short for a mobile: phonenumbers decides (invalid)
        "+852 21234567".replace(" ", ""),  # another country
        "１３８００１３８０００",  # full-width digits
        "",
    ],
)
def test_anything_unusual_is_left_to_phonenumbers(text: str) -> None:
    """Prefixes phonenumbers might strip, other countries and non-ASCII digits get no fast answer."""
    assert CN.e164(text) is None


@pytest.mark.parametrize("region", ["US", "GB", "RU"])
def test_regions_sharing_a_country_code_never_take_the_fast_path(region: str) -> None:
    """+1, +44 and +7 are validated region by region inside phonenumbers, so they always ask it."""
    fast = FastE164(region)
    assert fast.e164("2125550123") is None and fast.e164("+12125550123") is None


@settings(max_examples=400)
@given(st.from_regex(r"\+?(86)?(0|00)?1[0-9]{9,11}", fullmatch=True))
def test_mobile_like_strings_agree_with_phonenumbers(text: str) -> None:
    """Strings shaped like Chinese mobiles, with or without country code and prefixes, agree."""
    assert _agrees(CN, text, "CN")


@settings(max_examples=400)
@given(st.from_regex(r"\+?[0-9]{7,17}", fullmatch=True))
def test_any_digit_string_agrees_with_phonenumbers(text: str) -> None:
    """Random digit strings of every length agree (mostly by being left to phonenumbers)."""
    assert _agrees(CN, text, "CN")


@pytest.mark.parametrize("region", ["CN", "DE", "JP", "HK", "IN"])
def test_every_prefix_agrees_with_phonenumbers(region: str) -> None:
    """Every prefix of 1 to 4 digits, padded with random digits to a random length, agrees in each region."""
    fast, rng = FastE164(region), random.Random(region)
    taken = 0
    for prefix in range(10_000):
        head = str(prefix)
        length = rng.randint(max(7, len(head) + 1), 13)
        text = head + "".join(rng.choice("0123456789") for _ in range(length - len(head)))
        assert _agrees(fast, text, region), text
        taken += fast.e164(text) is not None
    assert taken > 0  # the fast path is actually used in each region


@pytest.mark.parametrize("region", ["CN", "DE", "JP", "HK"])
def test_international_spellings_agree_with_phonenumbers(region: str) -> None:
    """`+<country code><national number>` agrees for valid and invalid national numbers alike."""
    fast, rng = FastE164(region), random.Random(region)
    cc = str(country_code_for_region(region))
    for _ in range(5_000):
        national = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 14)))
        assert _agrees(fast, f"+{cc}{national}", region)


@pytest.mark.parametrize("region", ["CN", "DE", "JP", "HK", "IN", "FR"])
def test_the_zones_are_those_of_every_number_the_fast_path_accepts(region: str) -> None:
    """Where `zones` is known, every number `e164` accepts has exactly those time zones and country code."""
    fast, rng = FastE164(region), random.Random(region + "zones")
    assert fast.zones is not None
    cc = str(country_code_for_region(region))
    accepted = 0
    for prefix in range(1_000):
        head = str(prefix)
        national = head + "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 11) - len(head)))
        for text in (national, f"+{cc}{national}"):
            if fast.e164(text) is None:
                continue
            accepted += 1
            parsed = phone.try_parse(text, region)
            assert parsed is not None
            assert (parsed.zone_names, parsed.country_code) == (fast.zones, fast.country_code), text
    assert accepted > 50


@pytest.mark.parametrize("region", ["BR", "MX", "ID", "US"])
def test_zones_are_unknown_where_they_depend_on_the_number(region: str) -> None:
    """Several time zones under one country code (or a shared code): the gateway asks phonenumbers."""
    assert FastE164(region).zones is None
