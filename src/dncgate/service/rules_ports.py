"""What the Check path's rules beyond the registry need of storage (implemented by
store.policy_rules.PolicyRuleStore)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from dncgate.domain.lines import CallerLine
from dncgate.domain.ranges import RangeAction, RangeRule


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    """The journals the Check path copies, as of `version` (the latest seq of the org policy journal, the
    caller lines and the range rules)."""

    version: tuple[int, int, int]
    quiet_orgs: frozenset[str]  # orgs whose policy in force has quiet_on_public_holidays
    line_orgs: frozenset[str]  # orgs whose policy in force has require_registered_lines
    lines: tuple[CallerLine, ...]
    ranges: tuple[RangeRule, ...]
    # orgs whose policy in force has consent_required, each with its consent_required_categories (a
    # preference mask, 0: every category)
    consent_orgs: Mapping[str, int] = field(default_factory=dict)


class RulesSource(Protocol):
    async def version(self) -> tuple[int, int, int]: ...

    async def snapshot(self) -> RulesSnapshot: ...


class RangeRuleJournal(Protocol):
    async def set_range_rule(
        self,
        prefix: str,
        org_id: str,
        action: RangeAction,
        categories: int,
        effective_from: datetime,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> RangeRule: ...

    async def range_rules(self, org_id: str) -> list[RangeRule]: ...
