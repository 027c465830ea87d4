"""Free text typed by operators and consumers loses any phone number in it before it is stored or logged."""

from __future__ import annotations

import re

import phonenumbers

from dncgate import phone

# What is left after the valid numbers: any unbroken run of 9+ digits (long enough not to be a date or time).
_DIGIT_RUN = re.compile(r"\d{9,}")


def _stars(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    keep = set(digits[-2:])
    return "".join(ch if not ch.isdigit() or i in keep else "*" for i, ch in enumerate(text))


def redact(text: str, region: str, keep: frozenset[str] = frozenset(), *, reference: bool = False) -> str:
    """`text` with each phone number masked like `+86138****8000`, except the E.164 numbers in `keep`.

    Operators write what the consumer says ("she is 138 0013 8000"); storage must not keep it in clear.
    Company lines named as callers (`keep`) stay readable; any other long digit run is starred too, so
    a mistyped number written without separators does not slip through for being invalid.

    A payment `reference` is read more narrowly: its digits are mostly the payment system's ids, which
    must stay readable. A number counts only if grouped as numbers are written (`139 0013 9000`, not
    the `20261123-17` of `BANK-20261123-17`), and a digit run left over is masked only if it is a valid
    number by itself, as in `wx13900139000`, which the matcher skips for the letters stuck to it.
    """

    def leftover(match: re.Match[str]) -> str:
        if not reference:
            return _stars(match)
        parsed = phone.try_parse(match.group(0), region)
        return parsed.masked if parsed is not None and parsed.e164 not in keep else match.group(0)

    leniency = phonenumbers.Leniency.EXACT_GROUPING if reference else phonenumbers.Leniency.VALID
    out: list[str] = []
    last = 0
    for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(_DIGIT_RUN.sub(leftover, text[last : m.start]))
        out.append(m.raw_string if e164 in keep else phone.mask_e164(e164, m.number.country_code or 0))
        last = m.end
    out.append(_DIGIT_RUN.sub(leftover, text[last:]))
    return "".join(out)
