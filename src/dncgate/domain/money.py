"""Money as integer minor units and a currency code, so compensation never passes through a float."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ISO 4217 minor-unit exponents that are not 2 (the common case).
_EXPONENTS = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}
_AMOUNT = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))? ([A-Z]{3})")
_NANOS_PER_UNIT = 10**9


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (CNY: 2 fen per yuan, JPY: 0)."""
    return _EXPONENTS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in the currency's minor unit (fen for CNY): `Money(10000, "CNY")` is 100.00 CNY."""

    minor: int
    currency: str

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str) -> Money:
        """`100.00 CNY` → Money(10000, "CNY"); raise ValueError on anything looser or not positive."""
        m = _AMOUNT.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"{text!r}: expected an amount and an ISO currency code, like '100.00 CNY'")
        whole, fraction, currency = m.group(1), m.group(2) or "", m.group(3)
        digits = exponent(currency)
        if len(fraction) > digits:
            raise ValueError(f"{text!r}: {currency} has {digits} digits after the decimal point")
        minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
        if minor <= 0:
            raise ValueError(f"{text!r}: the amount must be positive")
        return cls(minor, currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def times(self, count: int) -> Money:
        return Money(self.minor * count, self.currency)

    def units_nanos(self) -> tuple[int, int]:
        """Whole units and nanos, the google.type.Money representation (same sign for both)."""
        scale = 10 ** exponent(self.currency)
        units = abs(self.minor) // scale
        nanos = (abs(self.minor) % scale) * (_NANOS_PER_UNIT // scale)
        sign = -1 if self.minor < 0 else 1
        return sign * units, sign * nanos

    def __str__(self) -> str:
        digits = exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, fraction = divmod(abs(self.minor), 10**digits)
        return f"{sign}{whole}.{fraction:0{digits}d} {self.currency}" if digits else f"{sign}{whole} {self.currency}"
