"""Limits against abuse, per principal and shared by every replica: numbers scrubbed an hour, streams open.

A scrub (CheckBatch) is also a way to harvest which numbers are registered, so a principal may have at
most `scrub_per_hour` numbers checked by CheckBatch in any sliding hour. The hour slides in whole
minutes: numbers checked during a minute count until the same minute an hour later has begun, so
between 59 and 60 minutes; no span shorter than 59 minutes holds more than the limit (a fixed hourly
window would let twice the limit through in the two minutes around each hour's turn). A batch that
would pass the limit is refused whole, nothing checked and nothing counted, with the time until the
oldest counts have aged out far enough for it to fit; a batch larger than the whole limit never fits
and is refused as an invalid argument. Numbers are counted once the batch's fields are valid, before
anything is checked; a batch that then fails (Redis down mid-batch) has its numbers counted all the same.

A principal may also hold at most `streams_per_principal` CheckStreams open at once, over every
replica. Each open stream holds a lease in Redis that this process renews every `renew_s` while the
stream is open, and gives back when it ends, however it ends; a lease not renewed for `lease_s` (its
process died, or lost Redis for that long) stops counting.

Principals with the admin role are exempt from both. A limit of 0 turns its quota off. When Redis
can't be asked, the batch or the new stream is refused (`StoreUnavailable`, UNAVAILABLE): fail
closed, never an unchecked pass. The single Check has no quota: its path pays nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

import structlog

from dncgate.domain.access import Principal
from dncgate.domain.errors import InvalidArgument, ResourceExhausted, StoreUnavailable

log = structlog.get_logger("dncgate.quotas")

SCRUB, STREAMS = "scrub", "streams"  # the quotas, as logs and metrics name them
WINDOW_S = 3600
BUCKET_S = 60  # the window slides in steps of this
LEASE_S = 30.0  # an open stream's lease: renewed every RENEW_S, so two renewals may fail in a row
RENEW_S = 10.0


class QuotaCounts(Protocol):
    """The shared counts (`store.quotas.RedisQuotas`); times in ms since the epoch, from our clock."""

    async def take(
        self, subject: str, n: int, limit: int, now_ms: int, width_ms: int, buckets: int, quota: str = "scrub"
    ) -> int | None:
        """Count `n` for `subject` under `quota` ("scrub": a principal id; "lookup": a case id) if the
        last `buckets` buckets of `width_ms` then hold at most `limit`: None; else nothing counted, and
        the ms until they would."""
        ...

    async def open_stream(self, principal_id: str, stream_id: str, cap: int, now_ms: int, lease_ms: int) -> int | None:
        """A lease until now + `lease_ms` if fewer than `cap` unexpired ones are held: None; else the ms
        until the soonest held runs out."""
        ...

    async def renew_streams(self, streams: Mapping[str, Collection[str]], now_ms: int, lease_ms: int) -> None: ...

    async def close_stream(self, principal_id: str, stream_id: str) -> None: ...


class StreamLease:
    """One open stream's place under its principal's cap. `close` gives it back: idempotent, never waits."""

    __slots__ = ("_quotas", "principal_id", "stream_id")

    def __init__(self, quotas: Quotas, principal_id: str, stream_id: str) -> None:
        self._quotas = quotas
        self.principal_id = principal_id
        self.stream_id = stream_id

    def close(self) -> None:
        self._quotas._release(self)


class Quotas:
    """The quotas of CallGate's CheckBatch and CheckStream. `refused(quota)` is told of every refusal
    (the metrics counter); `holder` prefixes this process's stream ids (which replica holds a lease)."""

    def __init__(
        self,
        counts: QuotaCounts,
        *,
        scrub_per_hour: int,
        streams_per_principal: int,
        clock: Callable[[], float] = time.time,
        refused: Callable[[str], None] = lambda quota: None,
        holder: str = "",
        lease_s: float = LEASE_S,
        renew_s: float = RENEW_S,
    ) -> None:
        self.counts = counts
        self.scrub_per_hour = scrub_per_hour
        self.streams_per_principal = streams_per_principal
        self.clock = clock
        self._refused = refused
        self._holder = holder
        self._lease_ms = int(lease_s * 1000)
        self._renew_s = renew_s
        self._held: dict[str, dict[str, None]] = {}  # principal id -> its streams open here
        self._renewer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._giving_back: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _refuse(self, quota: str, p: Principal, **fields: object) -> None:
        log.info("quota_exceeded", token_id=p.id, quota=quota, **fields)
        self._refused(quota)

    async def take_scrub(self, p: Principal, n: int) -> None:
        """Count a batch of `n` numbers against `p`'s hourly scrub quota, or refuse it whole
        (ResourceExhausted with the seconds until it fits; InvalidArgument if it never can)."""
        limit = self.scrub_per_hour
        if not limit or not n or p.is_admin:
            return
        if n > limit:
            self._refuse(SCRUB, p, asked=n, limit=limit)
            raise InvalidArgument(
                "requests",
                f"{n} numbers are more than this token may scrub in an hour ({limit}): split the batch",
            )
        wait_ms = await self.counts.take(p.id, n, limit, self._now_ms(), BUCKET_S * 1000, WINDOW_S // BUCKET_S)
        if wait_ms is not None:
            self._refuse(SCRUB, p, asked=n, limit=limit, retry_after_s=wait_ms / 1000)
            raise ResourceExhausted(
                f"this token's scrub quota of {limit} numbers an hour is used up: a batch of {n} fits again "
                f"in {_seconds(wait_ms)}",
                wait_ms / 1000,
            )

    async def open_stream(self, p: Principal) -> StreamLease | None:
        """A lease for a new stream of `p` (None: no cap applies), or ResourceExhausted at the cap."""
        cap = self.streams_per_principal
        if not cap or p.is_admin:
            return None
        stream_id = f"{self._holder}{secrets.token_hex(8)}"
        self._loop = asyncio.get_running_loop()
        try:
            wait_ms = await self.counts.open_stream(p.id, stream_id, cap, self._now_ms(), self._lease_ms)
        except asyncio.CancelledError:  # the client went away meanwhile: the lease may have been taken
            self._give_back(StreamLease(self, p.id, stream_id))
            raise
        if wait_ms is not None:
            self._refuse(STREAMS, p, limit=cap)
            raise ResourceExhausted(
                f"this token already has {cap} CheckStreams open, the most it may: close one, or retry "
                f"(a stream whose server went away stops counting in {_seconds(wait_ms)})",
                wait_ms / 1000,
            )
        self._held.setdefault(p.id, {})[stream_id] = None
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_while_held(), name="stream-leases")
        return StreamLease(self, p.id, stream_id)

    def _release(self, lease: StreamLease) -> None:
        held = self._held.get(lease.principal_id)
        if held is None or lease.stream_id not in held:
            return  # given back already
        del held[lease.stream_id]
        if not held:
            del self._held[lease.principal_id]
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the lease runs out by itself
                self._loop.call_soon_threadsafe(self._give_back, lease)

    def _give_back(self, lease: StreamLease) -> None:
        task = asyncio.get_running_loop().create_task(self._close_stream(lease))
        self._giving_back.add(task)
        task.add_done_callback(self._giving_back.discard)

    async def _close_stream(self, lease: StreamLease) -> None:
        try:
            await self.counts.close_stream(lease.principal_id, lease.stream_id)
        except StoreUnavailable as exc:
            log.warning("stream_lease_not_released", token_id=lease.principal_id, error=exc.driver)

    async def _renew_while_held(self) -> None:
        while self._held and not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self._renew_s)
            held = {pid: list(ids) for pid, ids in self._held.items()}
            if not held or self._closed.is_set():
                return
            try:
                await self.counts.renew_streams(held, self._now_ms(), self._lease_ms)
            except StoreUnavailable as exc:
                streams = sum(map(len, held.values()))
                log.warning("stream_leases_not_renewed", streams=streams, error=exc.driver)

    async def aclose(self, within_s: float = 5.0) -> None:
        """Stop renewing, give back the leases still held here, and wait (`within_s` at most) for Redis."""
        self._closed.set()
        for pid, ids in list(self._held.items()):
            for stream_id in list(ids):
                self._release(StreamLease(self, pid, stream_id))
        await asyncio.sleep(0)  # the give-backs just scheduled start
        pending = [t for t in (self._renewer, *self._giving_back) if t is not None and not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=within_s)
            for task in late:
                task.cancel()


def _seconds(ms: int) -> str:
    return f"{max(ms, 0) / 1000:.0f} s" if ms >= 10_000 else f"{max(ms, 0) / 1000:.1f} s"
