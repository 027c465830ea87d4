"""The recorder: drains the call-event stream into call_log, exactly once, whatever kills it and when.

One batch is: read (XREADGROUP) → commit to PostgreSQL → acknowledge (XACK) → trim the stream. A crash
between any two steps leaves the batch pending in the consumer group; the next start re-reads this
consumer's pending entries first ("0"), and other recorders claim a dead consumer's entries once they
have been idle for `claim_idle_ms`. Re-committing is harmless (ON CONFLICT DO NOTHING), and trimming
never passes an unacknowledged entry, so nothing is lost and nothing is written twice.

The recorder sees the stream and call_log through two ports, `CallGroup` and `CallLog`
(store/recorder.py's `StreamGroup` and `CallLogWriter`); their outages arrive as `StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from dncgate.domain.errors import StoreUnavailable
from dncgate.store.recorder import CommitReport, Entry, GroupMissing

log = structlog.get_logger("dncgate.recorder")

_MAX_BACKOFF_S = 5.0
_FLUSH_S = 10.0


class CallGroup(Protocol):
    """The recorder's consumer group on the call stream; GroupMissing when Redis lost it."""

    async def ensure(self) -> bool: ...  # True when it had to be created

    async def read(self, consumer: str, count: int, *, pending: bool, block_ms: int | None = None) -> list[Entry]: ...

    async def claim_idle(self, consumer: str, min_idle_ms: int, count: int) -> int: ...

    async def ack(self, ids: Sequence[bytes]) -> None: ...

    async def trim(self) -> int: ...


class CallLog(Protocol):
    """call_log in PostgreSQL: one transaction per batch, duplicates ignored, poison dead-lettered."""

    async def commit(self, entries: Sequence[Entry]) -> CommitReport: ...


class Recorder:
    """One consumer of the `recorder` group. Several may run at once (one per host or pod)."""

    def __init__(
        self,
        group: CallGroup,
        writer: CallLog,
        consumer: str,
        *,
        batch: int = 1000,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 30.0,
        linger_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = group
        self.writer = writer
        self.consumer = consumer
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        # After a short batch, wait this long before the next one. Without it a trickle of Checks
        # costs a PostgreSQL transaction, an XACK and an XTRIM each, stealing the gateway's CPU; with
        # it batches grow with the load. Complaints lose nothing: they also read the stream itself.
        self.linger_s = linger_s
        self.clock = clock
        self._ready = False
        # True while this consumer may have delivered-but-unacknowledged entries: at start, after a
        # claim, and after any failure mid-batch. They are re-read (id "0") before anything new.
        self._backlog = True
        self._next_claim = 0.0
        self._stop = asyncio.Event()

    # --- the steps of one batch (tests call them one by one to crash in between) ----------------

    async def fetch(self, *, block: bool = True) -> list[Entry]:
        """The next batch: this consumer's pending entries if any, else new ones (waiting up to block_ms)."""
        if not self._ready:
            if await self.group.ensure():
                log.info("recorder_group_created", consumer=self.consumer)
            self._ready = True
        if self.clock() >= self._next_claim:
            claimed = await self.group.claim_idle(self.consumer, self.claim_idle_ms, self.batch)
            self._next_claim = self.clock() + self.claim_every_s
            if claimed:
                log.info("recorder_claimed", consumer=self.consumer, entries=claimed)
                self._backlog = True
        if self._backlog:
            entries = await self.group.read(self.consumer, self.batch, pending=True)
            if entries:
                return entries
            self._backlog = False
            await self.trim()  # a previous run may have acknowledged without trimming
        wait = self.block_ms if block else None
        return await self.group.read(self.consumer, self.batch, pending=False, block_ms=wait)

    async def commit(self, entries: list[Entry]) -> CommitReport:
        report = await self.writer.commit(entries)
        for d in report.dead:
            # The error type only: a message may quote field values.
            log.warning("call_event_dead_lettered", stream_id=d.stream_id.decode(), error=d.error.split(":")[0])
        if report.gone:
            log.warning("call_events_missing_from_stream", entries=len(report.gone))
        return report

    async def ack(self, entries: list[Entry]) -> None:
        await self.group.ack([entry_id for entry_id, _ in entries])

    async def trim(self) -> int:
        return await self.group.trim()

    # --- the loop ------------------------------------------------------------------------------

    async def drain_once(self, *, block: bool = True) -> int:
        """Record one batch; returns how many stream entries it held (0: the stream had nothing new)."""
        try:
            entries = await self.fetch(block=block)
            if not entries:
                return 0
            report = await self.commit(entries)
            await self.ack(entries)
            await self.trim()
        except BaseException as exc:
            self._backlog = True  # whatever was fetched is still pending for this consumer
            if isinstance(exc, GroupMissing):  # Redis lost the stream (restarted empty, flushed): start over
                self._ready = False
                log.warning("recorder_group_missing", consumer=self.consumer)
                return 0
            raise
        log.debug("recorder_batch", entries=len(entries), inserted=report.inserted, duplicates=report.duplicates)
        return len(entries)

    async def run(self) -> None:
        """Drain until stop(); Redis or PostgreSQL outages are logged and retried with back-off, never raised."""
        delay = 0.1
        log.info("recorder_started", consumer=self.consumer, batch=self.batch)
        while not self._stop.is_set():
            try:
                n = await self.drain_once()
                delay = 0.1
                if 0 < n < self.batch:
                    await self._pause(self.linger_s)
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                log.warning("recorder_store_unavailable", error=exc.driver, retry_in_s=delay)
                await self._pause(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
            except Exception:
                log.exception("recorder_batch_failed", retry_in_s=delay)
                await self._pause(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
        await self.flush()
        log.info("recorder_stopped", consumer=self.consumer)

    def stop(self) -> None:
        """Ask run() to finish its batch, drain what is left and return."""
        self._stop.set()

    async def flush(self, within_s: float = _FLUSH_S) -> int:
        """Record everything already in the stream, without waiting for more (best effort, bounded)."""
        deadline = self.clock() + within_s
        total = 0
        try:
            while self.clock() < deadline and (n := await self.drain_once(block=False)):
                total += n
        except Exception as exc:
            log.warning("recorder_flush_incomplete", error=type(exc).__name__, recorded=total)
        return total

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
