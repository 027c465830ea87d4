"""The Check use case: whether each call may be placed now, answered from the registry in one Redis round trip."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dncgate.service.batch import Admit, BatchCheck
from dncgate.service.check_rules import CheckRules
from dncgate.service.checks import CheckInput, CheckLane, CheckResult, CheckSettings, Keyer
from dncgate.service.org_caps import OrgCaps
from dncgate.service.receipts import Receipts
from dncgate.service.single import SingleCheck
from dncgate.service.verdicts import VerdictTables

__all__ = ["CheckInput", "CheckResult", "Gateway"]


class Gateway:
    """Answers Checks: ALLOW or BLOCK with a reason, each call's event logged before the answer.

    A Check goes down the layers once: the request's fields are validated (`checks.validate`), its
    callee parsed, keyed and masked, and the domain asked for its verdict in each of the sixteen states the
    registry can hold for it (`verdicts.VerdictTables`, from `domain.decision.verdicts_by_case`); the
    lane (`CheckLane`, the store's side) then sorts the callee into one state and logs the event in one
    script call, and the verdict of that state is the answer. If nothing is known to be logged, the
    answer is BLOCK / REGISTRY_UNAVAILABLE: fail closed, always.

    `check` is one callee on its fast path (`single.SingleCheck`), `check_many` a list scrub in one
    round trip (`batch.BatchCheck`). `hold` fails every Check closed until `release`: while the
    registry in Redis may lack journal entries (at start-up, after Redis restarted).

    `receipts`: the orgs whose answers carry a signed receipt, and the key (`service.receipts`); the
    others pay one set lookup per Check for it. `org_caps`: the orgs' own daily caps (`service.org_caps`),
    one dict lookup per Check. `rules`: the in-process copy of number ranges, quiet days and caller
    lines (`service.check_rules`); with none configured a Check pays one attribute read.
    """

    def __init__(
        self,
        lane: CheckLane,
        keyer: Keyer,
        settings: CheckSettings,
        clock: Callable[[], float] = time.time,
        receipts: Receipts | None = None,
        org_caps: OrgCaps | None = None,
        rules: CheckRules | None = None,
    ) -> None:
        self.rules = rules if rules is not None else CheckRules()
        self.lane = lane
        self.keyer = keyer
        self.receipts = receipts if receipts is not None else Receipts(None)
        self.org_caps = org_caps if org_caps is not None else OrgCaps()
        self._settings, self._clock = settings, clock
        self._assemble()

    def _assemble(self) -> None:
        settings, lane = self._settings, self.lane
        self.tables = VerdictTables(settings.hours, settings.default_zones, lane.encode, self.rules)
        self.batch = BatchCheck(settings, lane, self.keyer, self.tables, self._clock, self.receipts, self.org_caps)
        self.single = SingleCheck(
            settings, lane, self.keyer, self.tables, self._clock, self.batch, self.receipts, self.org_caps
        )

    @property
    def settings(self) -> CheckSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: CheckSettings) -> None:
        """New settings for the Checks from now on (the caches built on the old ones are dropped)."""
        self._settings = settings
        self._assemble()

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._assemble()

    async def check(self, req: CheckInput) -> CheckResult:
        """One Check: the same answer and event as in a batch, at less cost."""
        return await self.single.check(req)

    async def check_many(
        self, reqs: Sequence[CheckInput], batch: bool = True, admit: Admit | None = None
    ) -> list[CheckResult]:
        """Every request answered in one Redis round trip; a bad field raises InvalidArgument naming it
        (as `requests[i].field` when `batch`). `admit(len(reqs))` is awaited once every field is valid,
        before anything is checked: what it raises refuses the lot (a quota)."""
        return await self.batch.check_many(reqs, batch, admit)

    def hold(self) -> None:
        """Fail every Check closed (BLOCK / REGISTRY_UNAVAILABLE, event logged) until `release`."""
        self.lane.hold()

    def release(self) -> None:
        self.lane.release()

    @property
    def held(self) -> bool:
        return self.lane.held

    async def aclose(self) -> None:
        await self.lane.aclose()
