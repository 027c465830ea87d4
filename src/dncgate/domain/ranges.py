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
    """The rules of the journal indexed for Checks: by prefix, each with its entries in journal order.

    `winner` looks up at most one dict entry per prefix length that has a rule (a handful).
    """

    def __init__(self, rules: Sequence[RangeRule]) -> None:
        by_prefix: dict[str, list[RangeRule]] = {}
        for r in sorted(rules, key=lambda r: r.seq):
            by_prefix.setdefault(r.prefix, []).append(r)
        self.by_prefix = by_prefix
        self.lengths = sorted({len(p) for p in by_prefix}, reverse=True)

    def __bool__(self) -> bool:
        return bool(self.by_prefix)

    def winner(self, e164: str, org_id: str, category: Category, at: datetime) -> RangeRule | None:
        """The rule that binds a call from `org_id` to `e164` in `category` at `at` (module docstring)."""
        for n in self.lengths:
            if n > len(e164):
                continue
            entries = self.by_prefix.get(e164[:n])
            if entries is None:
                continue
            for org in (org_id, ""):
                rule = _current(entries, org, at)
                if rule is not None and rule.binds(category):
                    return rule
        return None

    def blocked(self, e164: str, org_id: str, category: Category, at: datetime) -> bool:
        rule = self.winner(e164, org_id, category, at)
        return rule is not None and rule.action is RangeAction.BLOCK


def _current(entries: Sequence[RangeRule], org_id: str, at: datetime) -> RangeRule | None:
    for r in reversed(entries):
        if r.org_id == org_id and r.effective_from <= at:
            return None if r.action is RangeAction.NONE else r
    return None
