"""Phone numbers: parse any common format to E.164, key consumer numbers for storage, mask them for logs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

_E164 = phonenumbers.PhoneNumberFormat.E164
_MAX_INPUT = 64
# Keyed by the pepper to name it (see NumberKeyer.fingerprint); no E.164 number, so no number's key.
_FINGERPRINT_INPUT = b"dncgate pepper fingerprint v1"


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid number in E.164 with the time zones its prefix belongs to."""

    e164: str
    zone_names: tuple[str, ...]
    country_code: int

    @property
    def masked(self) -> str:
        return mask_e164(self.e164, self.country_code)


class InvalidNumberError(ValueError):
    """The text is not a number that can exist."""


@lru_cache(maxsize=1 << 16)
def _parse(text: str, region: str) -> PhoneNumber | None:
    if not text or len(text) > _MAX_INPUT:
        return None
    try:
        n = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    zones = tuple(z for z in pn_timezone.time_zones_for_number(n) if z != "Etc/Unknown")
    return PhoneNumber(phonenumbers.format_number(n, _E164), zones, n.country_code or 0)


def parse(text: str, region: str = "CN") -> PhoneNumber:
    """Parse `13800138000`, `+86 138-0013-8000`, `0086…`, full-width digits…; raise on garbage."""
    parsed = _parse(text.strip(), region)
    if parsed is None:
        raise InvalidNumberError(f"not a valid phone number for region {region}")
    return parsed


def try_parse(text: str, region: str = "CN") -> PhoneNumber | None:
    """Like parse, but None for an invalid number."""
    return _parse(text.strip(), region)


def mask_e164(e164: str, country_code: int) -> str:
    """`+8613800138000` → `+86138****8000`: country code, at most three leading and four trailing digits.

    At least four digits stay hidden whatever the length (fewer leading and trailing ones are shown for
    short national numbers): `+85221234567` → `+85221****67`, not `+852212*4567`, which named the number
    to one of ten.
    """
    cc = str(country_code) if country_code else ""
    national = e164[1 + len(cc) :]
    hidden = min(len(national), max(4, len(national) - 7))
    shown = len(national) - hidden
    lead = min(3, shown // 2)
    return f"+{cc}{national[:lead]}{'*' * hidden}{national[lead + hidden :]}"


def mask_text(text: str) -> str:
    """A log-safe rendering of input that did not parse: its length and last two characters only."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return f"<invalid:{len(text)} chars,…{digits[-2:]}>" if digits else f"<invalid:{len(text)} chars>"


class NumberKeyer:
    """Keyed hash of a consumer's E.164 number: HMAC-SHA256 with a secret pepper.

    Storage keys are derived from this digest, so a Redis dump or a database copy holds no number.
    Changing the pepper changes every key: the journal then no longer matches incoming numbers.
    """

    __slots__ = ("_cache", "_compute", "_key")

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 16:
            raise ValueError("the pepper must be at least 16 bytes")
        self._key = pepper
        self._cache: dict[str, bytes] = {}
        self._compute = self.uncached()

    def fingerprint(self) -> str:
        """A name of the pepper that reveals nothing of it: HMAC-SHA256(pepper, a constant), 16 bytes in hex.

        Kept with the journal and in Redis's ready marker, so that a process started with another
        pepper refuses to serve (or fails closed) instead of reading every number as never registered.
        """
        return hmac.new(self._key, _FINGERPRINT_INPUT, hashlib.sha256).hexdigest()[:32]

    def digest(self, e164: str) -> bytes:
        d = self._cache.get(e164)
        if d is None:
            d = self._compute(e164)
            if len(self._cache) > 1 << 16:
                self._cache.clear()
            self._cache[e164] = d
        return d

    def uncached(self) -> Callable[[str], bytes]:
        """`digest` without the cache, for a bulk import or a list scrub that sees each number once.

        HMAC (RFC 2104) by hand: the inner and outer SHA-256 states after the padded key are built once
        and copied per number, saving the key set-up, a cache entry and the hmac module's Python-level
        wrapper per number (~0.8 us instead of ~1.2).
        """
        key = hashlib.sha256(self._key).digest() if len(self._key) > 64 else self._key
        key = key.ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

        def digest(e164: str) -> bytes:
            h = inner.copy()
            h.update(e164.encode())
            o = outer.copy()
            o.update(h.digest())
            return o.digest()

        return digest


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
