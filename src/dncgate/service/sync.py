"""Keeping Redis in step with the journal: full rebuild, catch-up after a restart, retry of failed applies."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import redis.exceptions
import structlog

from dncgate.domain.errors import PepperMismatch
from dncgate.domain.registry import Consent, consents_at, schedule_of
from dncgate.service.registry import RegistryService
from dncgate.store import journal as journal_store
from dncgate.store.hot import HotRegistry
from dncgate.store.journal import Journal

log = structlog.get_logger("dncgate.sync")

_BATCH = 2000
# After a crash between a journal commit and its Redis apply, entries this recent are re-applied.
CATCH_UP_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    numbers: int
    consents: int
    seq: int
    seconds: float


async def rebuild(journal: Journal, hot: HotRegistry) -> RebuildReport:
    """Recreate the Redis registry from the journal. Checks fail closed (BLOCK) while it runs."""
    async with journal.exclusive() as conn:
        return await _rebuild_locked(conn, journal, hot)


async def rebuild_unless_loaded(journal: Journal, hot: HotRegistry) -> RebuildReport | None:
    """Rebuild unless Redis is found loaded once the rebuild lock is held (None then).

    Every replica watches Redis: after a flush they all find it empty and queue for the lock. The
    first rebuilds; the others must not start over (each rebuild blocks every Check while it runs).
    """
    async with journal.exclusive() as conn:
        if await hot.is_ready():
            return None
        return await _rebuild_locked(conn, journal, hot)


async def _rebuild_locked(conn: journal_store.Conn, journal: Journal, hot: HotRegistry) -> RebuildReport:
    # Not over a journal keyed with another pepper: Redis would hold keys no number of ours hashes to,
    # marked ready under our pepper, and every Check would answer NOT_REGISTERED (PepperMismatch).
    await journal.claim_pepper(hot.fingerprint, conn)
    started = time.monotonic()
    numbers = consents = 0
    # "Now" once the lock is held: a change committed while we waited for it has an effective time
    # after a clock read before, and would be folded as not yet in effect (a consent revoked
    # meanwhile would come back to life).
    now = datetime.now(UTC)
    seq = await journal.max_seq(conn)
    await hot.begin_rebuild()
    batch: list[tuple[bytes, object]] = []
    async for key, changes in journal_store.stream_preferences(conn):
        batch.append((key, schedule_of(changes, now)))
        numbers += 1
        if len(batch) >= _BATCH:
            await hot.load(batch, ())  # type: ignore[arg-type]
            batch = []
    if batch:
        await hot.load(batch, ())  # type: ignore[arg-type]
    cbatch: list[tuple[bytes, str, str, Consent]] = []
    async for key, cchanges in journal_store.stream_consents(conn):
        for c in consents_at(cchanges, now):
            cbatch.append((key, c.org_id, c.agent_id, c))
            consents += 1
        if len(cbatch) >= _BATCH:
            await hot.load((), cbatch)
            cbatch = []
    if cbatch:
        await hot.load((), cbatch)
    await hot.finish_rebuild(await journal.org_modes(conn), seq)
    report = RebuildReport(numbers, consents, seq, time.monotonic() - started)
    log.info("registry_rebuilt", numbers=numbers, consents=consents, seq=seq, seconds=round(report.seconds, 3))
    return report


async def catch_up(service: RegistryService, journal: Journal, hot: HotRegistry) -> int:
    """Re-apply consumers changed since Redis's watermark or recently; returns how many."""
    applied = await hot.applied_seq()
    since = datetime.now(UTC) - CATCH_UP_WINDOW
    keys = await journal.keys_since(applied, since)
    for key in keys:
        await service.reapply(key)
    for org, mode in (await journal.org_modes()).items():
        await hot.set_mode(org, mode)
    if keys:
        log.info("registry_caught_up", consumers=len(keys), from_seq=applied)
    return len(keys)


async def ensure_loaded(service: RegistryService, journal: Journal, hot: HotRegistry) -> None:
    """At start-up: rebuild an empty (or differently laid out) Redis, else catch up with the journal."""
    if await hot.is_ready():
        await catch_up(service, journal, hot)
    else:
        await rebuild_unless_loaded(journal, hot)


async def run(
    service: RegistryService,
    journal: Journal,
    hot: HotRegistry,
    interval_s: float,
    stop: asyncio.Event | None = None,
) -> None:
    """Watch Redis until `stop` is set: rebuild it when found empty, retry failed applies.

    Stopped by the event rather than by cancellation: redis-py can swallow a cancellation that lands
    in the middle of a command, and the server must not hang on shutdown.
    """
    stop = stop or asyncio.Event()
    mismatch_logged = False
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
        if stop.is_set():
            return
        try:
            if not await hot.is_ready():
                log.warning("registry_not_loaded", action="rebuild")
                await rebuild_unless_loaded(journal, hot)
            for key in list(service.dirty):
                await service.reapply(key)
        except asyncio.CancelledError:
            raise
        except PepperMismatch as exc:
            # Fail closed: Redis stays "not loaded" (every Check BLOCK / REGISTRY_UNAVAILABLE) until
            # someone fixes DNCGATE_PEPPER. Said once, not every interval.
            if not mismatch_logged:
                log.error("registry_pepper_mismatch", action="not rebuilt", detail=exc.message)
                mismatch_logged = True
        except (redis.exceptions.RedisError, OSError, TimeoutError, psycopg.Error) as exc:
            log.warning("registry_sync_failed", error=type(exc).__name__, detail=str(exc)[:200])
        except Exception:
            log.exception("registry_sync_crashed")
        else:
            mismatch_logged = False
