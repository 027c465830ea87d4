"""Number-range use cases: journal a rule (SetRangeRule), list the journal or the rules in force."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog

from dncgate.domain import access
from dncgate.domain import ranges as rules
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.ranges import RangeAction, RangeRule
from dncgate.domain.types import Category, mask_of
from dncgate.service.checks import MAX_ID_LENGTH
from dncgate.service.rules_ports import RangeRuleJournal

log = structlog.get_logger("dncgate.ranges")


class RangeRuleService:
    def __init__(self, journal: RangeRuleJournal, *, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.clock = clock

    async def set_rule(
        self,
        prefix: str,
        action: RangeAction,
        categories: Sequence[Category],
        org_id: str,
        effective_from: datetime | None,
        request_id: str = "",
        *,
        actor: str,
    ) -> RangeRule:
        """Journal a rule for `prefix` (`domain.ranges`); RangeAction.NONE clears the prefix's rule."""
        access.actor(actor)
        text = rules.check_prefix(prefix)
        org = org_id.strip()
        if len(org) > MAX_ID_LENGTH or not org.isprintable():
            raise InvalidArgument("org_id", f"must be printable and at most {MAX_ID_LENGTH} characters")
        start = effective_from or datetime.fromtimestamp(self.clock(), UTC)
        rule = await self.journal.set_range_rule(
            text, org, action, mask_of(categories), start, request_id.strip() or None, recorded_by=actor
        )
        log.info("range_rule_set", prefix=text, org=org or "*", action=rule.action.value, seq=rule.seq)
        return rule

    async def list_rules(self, org_id: str, at: datetime | None) -> list[RangeRule]:
        """The journal (the org's and the every-org entries, or all for ""), oldest first; with `at`,
        only the rules in force then."""
        entries = await self.journal.range_rules(org_id.strip())
        if at is None:
            return entries
        current = rules.in_force(entries, at)
        return sorted(current.values(), key=lambda r: r.seq)
