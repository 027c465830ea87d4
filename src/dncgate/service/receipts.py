"""Signed receipts on the Check path: which orgs get them, kept in-process, and the stamp on an answer.

An org with `signed_receipts` in its policy gets, on each CheckResponse, the payload of
`domain.receipts` and its Ed25519 signature. An org without pays one frozenset lookup per Check and
nothing else: the set of orgs with receipts on is a copy in this process, never read from Redis or
PostgreSQL by a Check.

How fast a change reaches it. In the process that journals the change (SetOrgPolicy), at once
(`RegistryService.on_policy`). Everywhere else, `watch` reads the set from the org policy journal
every WATCH_INTERVAL_S (one small query a second per replica, whatever the Check rate), so a change
is on every replica's Checks within about a second of its commit, two at most. While PostgreSQL
can't be read the last set read stays in force (logged); the Checks themselves never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from dncgate.domain.receipts import Receipt
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.service.checks import CheckResult

log = structlog.get_logger("dncgate.receipts")

WATCH_INTERVAL_S = 1.0


class Signer(Protocol):
    """The receipt key (`receipt_keys.ReceiptSigner`)."""

    key_id: str

    def receipt(self, r: Receipt) -> tuple[bytes, bytes]:
        """(payload, signature) of `r`."""


class Receipts:
    """The orgs whose Checks are signed (`orgs`, replaced whole, never mutated) and their signer
    (None: a gateway built without a key, which signs for no org)."""

    def __init__(self, signer: Signer | None) -> None:
        self.signer = signer
        self.orgs: frozenset[str] = frozenset()

    def set_org(self, org_id: str, policy: OrgPolicyEntry) -> None:
        """The org's policy just journaled here: its receipts on or off from the next Check."""
        if self.signer is not None and policy.signed_receipts != (org_id in self.orgs):
            self.orgs = self.orgs | {org_id} if policy.signed_receipts else self.orgs - {org_id}

    def stamp(self, result: CheckResult, at_us: int, callee_key: str, caller: str, org: str, agent: str) -> CheckResult:
        """`result` with the receipt of its answer: the call event's id and time, the callee's keyed hash."""
        if self.signer is None:
            raise RuntimeError("receipts asked of a gateway built without a receipt key")
        v = result.verdict
        r = Receipt(
            self.signer.key_id,
            result.call_id,
            at_us,
            callee_key,
            caller,
            org,
            agent,
            v.decision,
            v.reason,
            v.violation,
        )
        return result._replace(receipt=self.signer.receipt(r))

    async def refresh(self, read: Callable[[], Awaitable[frozenset[str]]]) -> None:
        orgs = await read() if self.signer is not None else frozenset()
        if orgs != self.orgs:
            log.info("receipt_orgs", orgs=len(orgs))
            self.orgs = orgs

    async def watch(
        self,
        read: Callable[[], Awaitable[frozenset[str]]],
        stop: asyncio.Event,
        interval_s: float = WATCH_INTERVAL_S,
    ) -> None:
        """`refresh` from `read` (the journal) every `interval_s` until `stop` is set."""
        await watch_journal(lambda: self.refresh(read), stop, interval_s, "receipt_orgs_unreadable")


async def watch_journal(
    refresh: Callable[[], Awaitable[None]], stop: asyncio.Event, interval_s: float, unreadable: str
) -> None:
    """`refresh()` every `interval_s` until `stop` is set. A store outage keeps the last copy in force and
    is logged once as `unreadable` (the in-process copies of the Check path: receipts, org caps, rules)."""
    failing = False
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        if stop.is_set():
            return
        try:
            await refresh()
        except Exception as exc:  # a store outage: keep the last set, say so once
            if not failing:
                log.warning(unreadable, error=type(exc).__name__)
            failing = True
        else:
            failing = False
