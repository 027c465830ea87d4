"""The orgs' own daily caps (`OrgPolicy.max_calls_per_day`) and modes on the Check path, kept in-process.

A Check never reads them from PostgreSQL or Redis: like the orgs with receipts on (`service.receipts`),
they are a copy in this process, replaced whole. The process that journals a SetOrgPolicy updates it
at once (`RegistryService.on_policy`); every other replica reads them from the org policy journal
every `receipts.WATCH_INTERVAL_S` (`watch`), so a change is on every replica's Checks within about a
second of its commit, two at most. While PostgreSQL can't be read the last copy stays in force. The
cap reaches the Check's script as an argument, which counts the org's calls in a key of its own.

The mode (ENFORCE / MONITOR) too: Redis holds no copy of it, so no Check reads a key outside its
callee's slot (store/hot.py). The caps and the modes are replaced together, in one step of the event
loop, and a Check (or a whole CheckBatch, all its shards' script calls) reads both before its first
await: it sees one version of the policies, never half a change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog

from dncgate.domain.registry import OrgPolicyEntry
from dncgate.domain.types import Mode
from dncgate.service.receipts import WATCH_INTERVAL_S, watch_journal

log = structlog.get_logger("dncgate.org_caps")


# What `refresh` reads from the journal: the orgs' own caps (those above 0), and every org's mode
# with a policy (True: MONITOR).
OrgCopy = tuple[Mapping[str, int], Mapping[str, bool]]


class OrgCaps:
    """`caps`: org -> its own daily cap, for the orgs that have one; `monitors`: org -> whether its
    mode is MONITOR, for the orgs with a policy (others take the default mode). Both replaced whole,
    never mutated."""

    def __init__(self) -> None:
        self.caps: Mapping[str, int] = {}
        self.monitors: Mapping[str, bool] = {}

    def set_org(self, org_id: str, policy: OrgPolicyEntry) -> None:
        """The org's policy just journaled here: its cap and mode from the next Check."""
        cap = policy.max_calls_per_day
        caps = self.caps
        if caps.get(org_id, 0) != cap:
            caps = {o: c for o, c in caps.items() if o != org_id}
            if cap > 0:
                caps[org_id] = cap
        monitor = policy.mode is Mode.MONITOR
        monitors = self.monitors
        if monitors.get(org_id) is not monitor:
            monitors = {**monitors, org_id: monitor}
        self.caps, self.monitors = caps, monitors

    async def refresh(self, read: Callable[[], Awaitable[OrgCopy]]) -> None:
        caps, monitors = await read()
        if caps != self.caps or monitors != self.monitors:
            log.info("org_caps", orgs=len(caps), monitored=sum(monitors.values()))
            self.caps, self.monitors = dict(caps), dict(monitors)

    async def watch(
        self,
        read: Callable[[], Awaitable[OrgCopy]],
        stop: asyncio.Event,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        """`refresh` from `read` (the journal) every `interval_s` until `stop` is set."""
        await watch_journal(lambda: self.refresh(read), stop, interval_s, "org_caps_unreadable")
