"""Plain digit strings to E.164 without `phonenumbers.parse`, for bulk imports of millions of numbers.

`phone.try_parse` spends ~45 µs per number (parse, validate, time zones), which alone caps an import
near 20,000 rows/s. Registry feeds are almost all plain digits (`13800138000`, `+8613800138000`),
and for those the outcome of `phonenumbers` can be decided by one regular expression per length,
built from its own metadata: ~1 µs. `FastE164.e164` answers only when it is sure its answer is the
one `phone.try_parse` would give; for anything else (spaces, `0086…`, trunk prefixes, carrier codes,
shared country codes, numbers it finds invalid) it answers None and the caller asks `phonenumbers`.
So it can accept a number faster, never differently: tests/unit/test_phone_fast.py holds it to
`phone.try_parse` over every prefix in several regions and random input.

Why each refusal (see `phonenumbers.phonenumberutil.parse`):
- an IDD prefix (`00…`), the country code itself, or the national prefix for parsing (CN: `0`, and
  the carrier codes `1[12]xx`, `179xx`) at the start may be stripped by `parse`;
- a leading zero is kept as an "Italian leading zero", which changes the E.164;
- a country code shared by several regions (`+1`, `+44`…) is validated region by region.

`FastE164.zones` completes the answer for the gateway, which also needs the callee's time zones: they
are known without `phonenumbers` when every time-zone prefix under the country code names the same
zones (CN: one, Asia/Shanghai), so any valid number there has exactly those.
"""

from __future__ import annotations

import re
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
from phonenumbers.tzdata import TIMEZONE_DATA

# Plain numbers of 7 to 17 digits (with a country code); anything else is left to phonenumbers.
_MIN_DIGITS, _MAX_DIGITS = 7, 17
# The number descriptions `_number_type_helper` tries after the general one: a number is valid when
# the general description and any one of these match (length listed and pattern matching in full).
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


def _matches_length(desc: Any, length: int) -> bool:
    lengths = getattr(desc, "possible_length", ())
    return not lengths or length in lengths


def _valid_pattern(metadata: Any, length: int) -> str | None:
    """A regex equal to "valid for this region" for national numbers of one length (None: none is)."""
    general = metadata.general_desc
    if general is None or not general.national_number_pattern or not _matches_length(general, length):
        return None
    # `_number_type_helper` tries `mobile` only when its pattern differs from `fixed_line`'s.
    names = _TYPES[:-1] if metadata.same_mobile_and_fixed_line_pattern else _TYPES
    types = []
    # Any order gives the same language; last first puts mobile, what a dialer mostly calls, first to try.
    for name in reversed(names):
        desc = getattr(metadata, name, None)
        if desc is not None and desc.national_number_pattern and _matches_length(desc, length):
            types.append(f"(?:{desc.national_number_pattern})")
    if not types:
        return None
    return f"(?=[0-9]{{{length}}}\\Z)(?=(?:{general.national_number_pattern})\\Z)(?:{'|'.join(types)})"


def _uniform_zones(code: str) -> tuple[str, ...] | None:
    """The time zones `time_zones_for_number` gives every valid number with this country code, if one answer.

    It looks up the longest prefix of the E.164 digits (or of the country code alone, for numbers it
    does not place geographically); when the country code itself is listed and every longer prefix
    under it lists the same zones, every lookup lands on that answer.
    """
    if code not in TIMEZONE_DATA:
        return None
    answers = {zones for prefix, zones in TIMEZONE_DATA.items() if prefix.startswith(code)}
    return tuple(answers.pop()) if len(answers) == 1 else None


def _by_length(metadata: Any, head: str, lengths: range, extra: int) -> dict[int, re.Pattern[str]]:
    """Per text length, `head` then a valid national number of that length less `extra` characters."""
    out = {}
    for n in lengths:
        valid = _valid_pattern(metadata, n)
        if valid is not None:
            out[n + extra] = re.compile(head + valid)
    return out


class FastE164:
    """E.164 for plain digit strings of one default region, exactly as `phone.try_parse` gives it.

    Each accepted spelling is one regular expression per length, built from the region's metadata:
    a national number (no IDD prefix, country code, national prefix or leading zero at its start,
    then a valid national number) or `+`, the country code, and the same.
    """

    __slots__ = ("_national", "_plus", "_prefix", "country_code", "zones")

    def __init__(self, region: str) -> None:
        self._national: dict[int, re.Pattern[str]] = {}
        self._plus: dict[int, re.Pattern[str]] = {}
        self._prefix = ""
        self.country_code = 0
        # The time zones (as phonenumbers names them) of every number `e164` accepts; None: ask phonenumbers.
        self.zones: tuple[str, ...] | None = None
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        cc = metadata.country_code if metadata is not None else None
        if metadata is None or cc is None or len(COUNTRY_CODE_TO_REGION_CODE.get(cc, ())) != 1:
            return  # unknown region, or a shared country code: always ask phonenumbers
        code = str(cc)
        self._prefix = "+" + code
        self.country_code = cc
        self.zones = _uniform_zones(code)
        npp = metadata.national_prefix_for_parsing
        not_stripped = f"(?!(?:{npp}))(?=[1-9])" if npp else "(?=[1-9])"
        idd = metadata.international_prefix
        head = (f"(?!(?:{idd}))" if idd else "") + f"(?!{code}){not_stripped}"
        self._national = _by_length(metadata, head, range(_MIN_DIGITS, _MAX_DIGITS + 1), 0)
        # `+<digits>` is read with the shortest known country code at its start: ours must be it.
        if all(int(code[:i]) not in COUNTRY_CODE_TO_REGION_CODE for i in range(1, len(code))):
            lengths = range(max(2, _MIN_DIGITS - len(code)), _MAX_DIGITS - len(code) + 1)
            self._plus = _by_length(metadata, f"\\+{code}{not_stripped}", lengths, 1 + len(code))

    def e164(self, text: str) -> str | None:
        """The E.164 of a valid plain number; None when unsure (then ask `phone.try_parse`)."""
        plus = text.startswith("+")
        pattern = (self._plus if plus else self._national).get(len(text))
        if pattern is None or pattern.fullmatch(text) is None:
            return None
        return text if plus else self._prefix + text
