"""The orgs' own daily caps (`OrgPolicy.max_calls_per_day`) on the Check path, kept in-process.

A Check never reads them from PostgreSQL or Redis: like the orgs with receipts on (`service.receipts`),
they are a copy in this process, replaced whole. The process that journals a SetOrgPolicy updates it
at once (`RegistryService.on_policy`); every other replica reads them from the org policy journal
every `receipts.WATCH_INTERVAL_S` (`watch`), so a change is on every replica's Checks within about a
second of its commit. While PostgreSQL can't be read the last copy stays in force. The cap reaches the
Check's script as an argument, which counts the org's calls in a key of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog

from dncgate.domain.registry import OrgPolicyEntry
from dncgate.service.receipts import WATCH_INTERVAL_S, watch_journal

log = structlog.get_logger("dncgate.org_caps")


class OrgCaps:
    """`caps`: org -> its own daily cap, for the orgs that have one (replaced whole, never mutated)."""

    def __init__(self) -> None:
        self.caps: Mapping[str, int] = {}

    def set_org(self, org_id: str, policy: OrgPolicyEntry) -> None:
        """The org's policy just journaled here: its cap from the next Check."""
        cap = policy.max_calls_per_day
        if self.caps.get(org_id, 0) != cap:
            caps = {o: c for o, c in self.caps.items() if o != org_id}
            if cap > 0:
                caps[org_id] = cap
            self.caps = caps

    async def refresh(self, read: Callable[[], Awaitable[Mapping[str, int]]]) -> None:
        caps = dict(await read())
        if caps != self.caps:
            log.info("org_caps", orgs=len(caps))
            self.caps = caps

    async def watch(
        self,
        read: Callable[[], Awaitable[Mapping[str, int]]],
        stop: asyncio.Event,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        """`refresh` from `read` (the journal) every `interval_s` until `stop` is set."""
        await watch_journal(lambda: self.refresh(read), stop, interval_s, "org_caps_unreadable")
