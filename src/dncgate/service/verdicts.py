"""What a Check needs of its callee before Redis: the parsed number, its mask, and the domain's sixteen verdicts.

The verdicts come from `domain.decision.verdicts_by_case` (each one `decide_case`, the rule `decide`
applies) and are kept per callee time zone, org, agent and category for the current minute
(`VerdictTables`). The callee parser and the mask are fast copies of `phone.try_parse` and
`phone.mask_e164`: see `dncgate.fastpaths` for the figures and the tests holding them equal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from dncgate import phone
from dncgate.domain import decision as rules
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.hours import CallingHours
from dncgate.domain.types import Category, Reason
from dncgate.phone_fast import FastE164
from dncgate.service.check_rules import CheckRules

# A valid callee as the gateway needs it: E.164, time zone names, country code.
Callee = tuple[str, tuple[str, ...], int]
# What the domain's sixteen verdicts for a callee depend on: time zones (None: invalid number), org, agent,
# category, the standing of the rules beyond the registry (`domain.decision` bits, `check_rules`), and
# the callee's country code when its quiet days bind the call (else 0).
TableKey = tuple[tuple[str, ...] | None, str, str, Category, int, int]


@functools.cache
def callee_parser(region: str) -> Callable[[str], Callee | None]:
    """`phone.try_parse` for callees, with the fast path for plain numbers where it knows the time zones.

    A scrub sees each number once, so the parse cache does not help it, and phonenumbers costs ~45 us
    a number; `FastE164` answers the usual spellings in ~1 us with the same E.164 and time zones.
    """

    def slow(text: str) -> Callee | None:
        number = phone.try_parse(text, region)
        return None if number is None else (number.e164, number.zone_names, number.country_code)

    fast = FastE164(region)
    if fast.zones is None:
        return slow
    zones = tuple(z for z in fast.zones if z != "Etc/Unknown")  # as phone.try_parse filters them
    country_code, e164 = fast.country_code, fast.e164

    def parse(text: str) -> Callee | None:
        number = e164(text)
        return slow(text) if number is None else (number, zones, country_code)

    return parse


@functools.lru_cache(maxsize=256)
def _mask_layout(length: int, country_code: int) -> tuple[int, str, int]:
    """Where `phone.mask_e164` puts its stars in an E.164 of this length: (start, stars, end).

    It looks at the lengths of the number and its country code only, so one probe tells.
    """
    masked = phone.mask_e164("+" + "0" * (length - 1), country_code)
    hidden = masked.count("*")
    start = masked.find("*") if hidden else length
    return start, "*" * hidden, start + hidden


def mask(e164: str, country_code: int) -> str:
    """`phone.mask_e164`, at a third of its cost."""
    start, stars, end = _mask_layout(len(e164), country_code)
    return e164[:start] + stars + e164[end:]


_CASES = len(rules.CASES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def picked(verdicts: Sequence[Verdict], pick: int) -> Verdict:
    """The verdict a script's pick names (`CheckLane`: the case index + the number of cases * the
    millisecond a slot frees up under the frequency caps), that time as its `next_allowed_time` when
    the cap is its reason (a rule before the caps, an unknown caller line or a range block, keeps its
    own answer: a freed slot would not lift it)."""
    if pick < _CASES:
        return verdicts[pick]
    verdict = verdicts[pick % _CASES]
    if verdict.reason is not Reason.FREQUENCY_CAP:
        return verdict
    return replace(verdict, next_allowed_time=_EPOCH + timedelta(milliseconds=pick // _CASES))


class VerdictTable(NamedTuple):
    """The domain's verdicts for the sixteen cases a callee's stored state can be in (`domain.decision.CASES`),
    and their code for the scripts (`CheckLane.encode`)."""

    verdicts: tuple[Verdict, ...]
    code: bytes


class MinuteTables:
    """Verdict tables of callees in one time zone, kept for the current minute.

    For such a callee, `verdicts_by_case` depends on `now` only through its minute: calling hours are
    whole minutes, every time zone's offset today is whole minutes, the next opening it reports is
    the start of a window, and a quiet day (a local date) begins and ends on a minute. The rules whose
    answer depends on `now` otherwise (a range's effective_from, a line's interval) are judged per
    Check into the key's standing. Checks in the same minute with the same table key share one table instead
    of asking the domain again (tests/unit/test_gateway_parts.py holds the two equal). Tables whose
    next opening is not on a minute (a zone whose window never opens within the horizon) are not kept.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.minute = -1
        self.tables: dict[TableKey, VerdictTable] = {}

    def get(self, key: TableKey, now_us: int, compute: Callable[[TableKey], VerdictTable]) -> VerdictTable:
        """The table for `key` in the minute of `now_us` (microseconds since the epoch)."""
        minute = now_us // 60_000_000
        if minute != self.minute:
            self.minute, self.tables = minute, {}
        table = self.tables.get(key)
        if table is None:
            table = compute(key)
            opens = {v.next_allowed_time for v in table.verdicts} - {None}
            if len(self.tables) < self.limit and all(t.second == 0 and t.microsecond == 0 for t in opens if t):
                self.tables[key] = table
        return table


class VerdictTables:
    """The verdict table of a table key at a given instant, from the domain (kept per minute where it can)."""

    def __init__(
        self,
        hours: CallingHours,
        default_zones: tuple[ZoneInfo, ...],
        encode: Callable[[Sequence[Verdict]], bytes],
        rules: CheckRules | None = None,
    ) -> None:
        self.rules = rules if rules is not None else CheckRules()
        self.hours = hours
        self.default_zones = default_zones
        self.encode = encode
        self.minute = MinuteTables()

    def table(self, key: TableKey, now: datetime, now_us: int) -> VerdictTable:
        """For a callee in one time zone (or none: the default one) from the minute's tables, else computed."""
        zones = key[0]
        if zones is not None and len(zones) <= 1:
            return self.minute.get(key, now_us, lambda k: self.compute(k, now))
        return self.compute(key, now)

    def compute(self, key: TableKey, now: datetime) -> VerdictTable:
        zones, org_id, agent_id, category, standing, country_code = key
        attempt = CallAttempt(
            callee_valid=zones is not None,
            callee_zones=(tuple(phone.zone(z) for z in zones) or self.default_zones) if zones is not None else (),
            org_id=org_id,
            agent_id=agent_id,
            category=category,
        )
        quiet_days = self.rules.quiet_days_of(country_code) if standing & rules.QUIET else None
        verdicts = rules.verdicts_by_case(attempt, self.hours, now, standing, quiet_days)
        return VerdictTable(verdicts, self.encode(verdicts))
