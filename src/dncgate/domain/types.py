"""The vocabulary shared by every rule: categories, decisions, reasons, sources, modes."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, IntEnum


class Category(IntEnum):
    """The kind of call; values match the wire enum so masks are stable in storage."""

    UNSPECIFIED = 0
    REAL_ESTATE = 1
    FINANCE = 2
    INSURANCE = 3
    EDUCATION = 4
    HEALTH = 5
    TOURISM = 6
    CONSUMER_GOODS = 7
    TELECOM = 8
    OTHER = 9


REAL_CATEGORIES: tuple[Category, ...] = tuple(c for c in Category if c is not Category.UNSPECIFIED)
ALL_CATEGORIES_MASK = sum(1 << c for c in REAL_CATEGORIES)


def mask_of(categories: Iterable[Category]) -> int:
    """The bit mask for a preference's categories; no category at all means every category."""
    mask = 0
    for c in categories:
        if c is not Category.UNSPECIFIED:
            mask |= 1 << c
    return mask or ALL_CATEGORIES_MASK


def categories_of(mask: int) -> tuple[Category, ...]:
    """The categories in a mask; every category comes back as () — the 'all' of the API."""
    if mask & ALL_CATEGORIES_MASK == ALL_CATEGORIES_MASK:
        return ()
    return tuple(c for c in REAL_CATEGORIES if mask & (1 << c))


def mask_covers(mask: int, category: Category) -> bool:
    """Whether a registration covers a call of this category.

    A call with no category is covered by any registration: a dialer that does not say what it sells
    cannot claim it is outside the consumer's choice.
    """
    if category is Category.UNSPECIFIED:
        return mask != 0
    return bool(mask & (1 << category))


class Decision(Enum):
    ALLOW = "ALLOW"
    BLOCK = "BLOCK"


class Reason(Enum):
    NOT_REGISTERED = "NOT_REGISTERED"
    REGISTERED = "REGISTERED"
    CONSENT_ON_FILE = "CONSENT_ON_FILE"
    OUTSIDE_CALLING_HOURS = "OUTSIDE_CALLING_HOURS"
    INVALID_NUMBER = "INVALID_NUMBER"
    REGISTRY_UNAVAILABLE = "REGISTRY_UNAVAILABLE"
    ORG_LIST = "ORG_LIST"  # the callee is on the calling org's own do-not-call list
    FREQUENCY_CAP = "FREQUENCY_CAP"  # the callee has had as many placed calls as her caps allow
    RANGE_BLOCKED = "RANGE_BLOCKED"  # a number-range rule blocks the callee's prefix (domain/ranges.py)
    QUIET_DAY = "QUIET_DAY"  # a public holiday in the callee's local date, for an org quiet on them
    UNKNOWN_CALLER_LINE = "UNKNOWN_CALLER_LINE"  # the caller is no line of the org, which requires it
    NO_CONSENT = "NO_CONSENT"  # the org requires a consent on file (opt-in) and none is in force


class Source(IntEnum):
    """Where a preference change came from; values match the wire enum."""

    UNSPECIFIED = 0
    APP = 1
    HOTLINE = 2
    IN_CALL = 3
    NATIONAL_REGISTRY = 4
    ADMIN = 5


class OptOutScope(Enum):
    """What an in-call opt-out covers: her do-not-disturb (ALL) or the calling org's own list (ORG)."""

    ALL = "ALL"
    ORG = "ORG"


class Mode(Enum):
    ENFORCE = "ENFORCE"
    MONITOR = "MONITOR"
