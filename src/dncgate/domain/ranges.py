"""Number ranges: block or allow callees by the prefix of their E.164 number (pure).

A rule is a journal entry `SetRangeRule(prefix, action, categories, org_id, effective_from)`: the
prefix ("+86400", "+1201", "+44") in E.164 digits form, an org ("" = every org), the categories it
binds (none named = all) and when it takes effect. `RangeAction.NONE` (the wire's RANGE_ACTION_UNSPECIFIED)
clears the prefix's rule for that org from `effective_from` on: how a rule is removed, journaled
like any other entry, so the history stays whole.

Which rule binds a call at `at`:

- per (prefix, org) the rule in force is the latest entry (journal order) whose effective_from has
  come; a NONE entry in force means that (prefix, org) has no rule;
- among the prefixes of the callee that have a rule in force for the call's org or for every org and
  that bind the call's category, the longest wins; at equal length the org's own rule wins over the
  every-org one (it is the more specific);
- the winner's action is the answer: BLOCK is REASON_RANGE_BLOCKED; ALLOW lifts a shorter BLOCK, and
  nothing else (a range is evaluated after do-not-disturb and the org's own list, so it can't lift them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from dncgate.domain.errors import InvalidArgument
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, mask_covers

PREFIX = re.compile(r"^\+[1-9][0-9]{0,14}$")


class RangeAction(Enum):
    NONE = "NONE"  # clears the prefix's rule (the wire's RANGE_ACTION_UNSPECIFIED)
    BLOCK = "BLOCK"
    ALLOW = "ALLOW"


@dataclass(frozen=True, slots=True)
class RangeRule:
    seq: int
    prefix: str
    org_id: str  # "" = every org
    action: RangeAction
    categories: int  # types.mask_of(the categories named): every category when none is named
    effective_from: datetime
    recorded_at: datetime
    recorded_by: str = ""

    def binds(self, category: Category) -> bool:
        return mask_covers(self.categories, category)


def check_prefix(prefix: str) -> str:
    """The prefix as stored: '+' then 1 to 15 digits, the first not 0; else InvalidArgument naming it."""
    text = prefix.strip()
    if not PREFIX.match(text):
        raise InvalidArgument("prefix", "must be '+' then 1 to 15 digits in E.164 form (e.g. +86400, +1201)")
    return text


def in_force(rules: Iterable[RangeRule], at: datetime) -> dict[tuple[str, str], RangeRule]:
    """Per (prefix, org): the latest entry in journal order whose effective_from has come, NONE dropped."""
    latest: dict[tuple[str, str], RangeRule] = {}
    for r in sorted(rules, key=lambda r: r.seq):
        if r.effective_from <= at:
            latest[(r.prefix, r.org_id)] = r
    return {k: r for k, r in latest.items() if r.action is not RangeAction.NONE}


class RangeTable:
    """The rules of the journal indexed for Checks: per prefix and org, its entries newest first, with
    their times as microseconds since the epoch (a Check compares ints, not datetimes).

    `blocked` looks up one dict entry per prefix length that has a rule for the org or every org (a
    handful), then the org's entries at that prefix until the first in force.
    """

    def __init__(self, rules: Sequence[RangeRule]) -> None:
        entries: dict[str, dict[str, list[tuple[int, RangeRule]]]] = {}
        for r in sorted(rules, key=lambda r: r.seq, reverse=True):
            entries.setdefault(r.prefix, {}).setdefault(r.org_id, []).append((epoch_us(r.effective_from), r))
        self.entries = {p: {o: tuple(e) for o, e in orgs.items()} for p, orgs in entries.items()}
        lengths: dict[str, set[int]] = {}
        for r in rules:
            lengths.setdefault(r.org_id, set()).add(len(r.prefix))
        every = lengths.get("", set())
        self._every_lengths = tuple(sorted(every, reverse=True))
        self._lengths = {o: tuple(sorted(n | every, reverse=True)) for o, n in lengths.items()}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def winner(self, e164: str, org_id: str, category: Category, at: datetime) -> RangeRule | None:
        """The rule that binds a call from `org_id` to `e164` in `category` at `at` (module docstring)."""
        return self.winner_us(e164, org_id, category, epoch_us(at))

    def winner_us(self, e164: str, org_id: str, category: Category, now_us: int) -> RangeRule | None:
        entries = self.entries
        for n in self._lengths.get(org_id, self._every_lengths):
            by_org = entries.get(e164[:n])
            if by_org is None:
                continue
            for org in (org_id, ""):
                rule = _current(by_org.get(org), now_us)
                if rule is not None and rule.binds(category):
                    return rule
        return None

    def blocked(self, e164: str, org_id: str, category: Category, at: datetime) -> bool:
        return self.blocked_us(e164, org_id, category, epoch_us(at))

    def blocked_us(self, e164: str, org_id: str, category: Category, now_us: int) -> bool:
        rule = self.winner_us(e164, org_id, category, now_us)
        return rule is not None and rule.action is RangeAction.BLOCK


def _current(entries: Sequence[tuple[int, RangeRule]] | None, now_us: int) -> RangeRule | None:
    """The entry in force at `now_us` among one (prefix, org)'s, newest first; None if cleared or none."""
    if entries is None:
        return None
    for effective_us, r in entries:
        if effective_us <= now_us:
            return None if r.action is RangeAction.NONE else r
    return None
