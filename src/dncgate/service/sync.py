"""Keeping Redis in step with the journal: full rebuild, catch-up after a restart, retry of failed applies.

Redis is seen through `LoadedRegistry` (store/hot.py's `HotRegistry` satisfies it). The journal stays
the concrete `Journal`: a rebuild streams it on the connection holding the exclusive rebuild lock, and
a catch-up hands the registry to the bulk writer (service/catchup.py). Outages reach here as the one
`StoreUnavailable` (store/errors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from dncgate.domain.errors import PepperMismatch, StoreUnavailable
from dncgate.domain.registry import Consent, Schedule, consents_at, consents_in_effect, org_lists_at, schedule_of
from dncgate.service.catchup import reapply_many
from dncgate.service.registry import RegistryService
from dncgate.store import journal as journal_store
from dncgate.store.catchup import journal_window
from dncgate.store.hot import HotRegistry
from dncgate.store.journal import Journal

Registry = RegistryService[Journal, HotRegistry]

log = structlog.get_logger("dncgate.sync")

_BATCH = 2000
# After a crash between a journal commit and its Redis apply, entries recorded this close to the
# journal's latest one are re-applied (the argument is in `catch_up`).
CATCH_UP_WINDOW = timedelta(minutes=10)


class LoadedRegistry(Protocol):
    """The registry in Redis as a rebuild and a catch-up see it: loaded or not, rebuilt by batches."""

    @property
    def fingerprint(self) -> str: ...  # the pepper's, written into the "loaded" marker

    async def is_ready(self) -> bool: ...

    async def applied_seq(self) -> int: ...

    async def begin_rebuild(self) -> None: ...

    async def load(
        self,
        schedules: Iterable[tuple[bytes, Schedule]],
        consents: Iterable[tuple[bytes, str, str, Consent]],
        org_lists: Iterable[tuple[bytes, str]] = (),
    ) -> None: ...

    async def finish_rebuild(self, seq: int) -> None: ...

    def roomier_bits(self, numbers: int) -> int | None: ...  # bucket bits a registry this big wants


@dataclass(frozen=True, slots=True)
class RebuildReport:
    numbers: int
    consents: int
    seq: int
    seconds: float


async def rebuild(journal: Journal, hot: LoadedRegistry) -> RebuildReport:
    """Recreate the Redis registry from the journal. Checks fail closed (BLOCK) while it runs."""
    async with journal.exclusive() as conn:
        return await _rebuild_locked(conn, journal, hot)


async def rebuild_unless_loaded(journal: Journal, hot: LoadedRegistry) -> RebuildReport | None:
    """Rebuild unless Redis is found loaded once the rebuild lock is held (None then).

    Every replica watches Redis: after a flush they all find it empty and queue for the lock. The
    first rebuilds; the others must not start over (each rebuild blocks every Check while it runs).
    """
    async with journal.exclusive() as conn:
        if await hot.is_ready():
            return None
        return await _rebuild_locked(conn, journal, hot)


async def _rebuild_locked(conn: journal_store.Conn, journal: Journal, hot: LoadedRegistry) -> RebuildReport:
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
    writes = _Writes(hot)
    try:
        batch: list[tuple[bytes, Schedule]] = []
        async for key, changes in journal_store.stream_preferences(conn):
            batch.append((key, schedule_of(changes, now)))
            numbers += 1
            if len(batch) >= _BATCH:
                await writes.load(batch)
                batch = []
        await writes.load(batch)
        # Read before the consents: a consent granted before the consumer's latest entry on that org's
        # list has no effect (`consents_in_effect`), and the list entry none after a later org-wide grant.
        org_entries = await journal_store.stream_org_lists(conn)
        listed: list[tuple[bytes, str]] = []
        cbatch: list[tuple[bytes, str, str, Consent]] = []
        async for key, cchanges in journal_store.stream_consents(conn):
            entries = org_entries.get(key)
            if entries:
                listed += [(key, org) for org, on in org_lists_at(entries, cchanges, now).items() if on]
                del org_entries[key]
            for c in consents_in_effect(cchanges, entries, now) if entries else consents_at(cchanges, now):
                cbatch.append((key, c.org_id, c.agent_id, c))
                consents += 1
            if len(cbatch) >= _BATCH:
                await writes.load((), cbatch)
                cbatch = []
        await writes.load((), cbatch)
        for key, entries in org_entries.items():  # on a list, and no consent on file
            listed += [(key, org) for org, on in org_lists_at(entries, (), now).items() if on]
        for start in range(0, len(listed), _BATCH):
            await writes.load((), (), listed[start : start + _BATCH])
        await writes.done()  # every batch written before any shard is marked loaded
    except BaseException:
        await writes.abandon()
        raise
    await hot.finish_rebuild(seq)
    report = RebuildReport(numbers, consents, seq, time.monotonic() - started)
    log.info("registry_rebuilt", numbers=numbers, consents=consents, seq=seq, seconds=round(report.seconds, 3))
    if (bits := hot.roomier_bits(numbers)) is not None:
        # Still correct, but each number then costs Redis about 80 B instead of 12 (README: capacity).
        log.warning("registry_buckets_overfull", numbers=numbers, advice=f"set DNCGATE_REGISTRY_BUCKET_BITS={bits}")
    return report


class _Writes:
    """A rebuild's batches written one at a time, each while the journal's next one is read and folded:
    batch n+1 starts once batch n is written, so they land in the order given (schedules, then consents,
    then org lists), and PostgreSQL, this process and Redis work at once."""

    def __init__(self, hot: LoadedRegistry) -> None:
        self.hot = hot
        self.writing: asyncio.Task[None] | None = None

    async def load(
        self,
        schedules: Sequence[tuple[bytes, Schedule]],
        consents: Sequence[tuple[bytes, str, str, Consent]] = (),
        org_lists: Sequence[tuple[bytes, str]] = (),
    ) -> None:
        """Start writing the batch once the one before it is written (its failure raised here)."""
        if not (schedules or consents or org_lists):
            return
        await self.done()
        self.writing = asyncio.create_task(self.hot.load(schedules, consents, org_lists))

    async def done(self) -> None:
        writing, self.writing = self.writing, None
        if writing is not None:
            await writing

    async def abandon(self) -> None:
        """Cancel the batch in flight and wait for it (the rebuild failed: its registry stays not loaded)."""
        writing, self.writing = self.writing, None
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing


async def catch_up(service: Registry, journal: Journal, hot: LoadedRegistry) -> int:
    """Re-apply every consumer Redis may lack a change of; returns how many were re-applied.

    Which ones. `dnc:seq` is the highest seq whose apply finished: every apply raises it to its
    entries' highest seq, only ever up (a rebuild sets it to the journal's seq when it read it).
    Entries above it are re-applied. One at or below it may still be missing from Redis when its
    apply had not finished when the process died, while an apply of a higher seq had: seqs are
    drawn at insertion and commits land in any order. A SetPreference that commits while an import
    chunk waits for its apply (behind up to two earlier chunks and the exclusive rebuild lock) raises
    `dnc:seq` past the whole chunk; an import chunk whose COPY drew its seqs before a rebuild read
    the journal's seq, and committed after the rebuild's snapshot, waits for the rebuild to end.
    So the consumers with an entry recorded within CATCH_UP_WINDOW of the journal's latest entry
    are re-applied too. That holds if the window exceeds the longest time from an entry's insertion
    (`recorded_at`, PostgreSQL's clock) to the end of its apply: milliseconds for a single write, a
    COPY plus waits on the rebuild lock for an import, at worst a whole rebuild (about 20 s per
    million numbers here). Ten minutes covers a rebuild of some thirty million numbers.

    The window ends at the journal's latest entry, not at the restart: with one process, nothing is
    recorded after it dies, so a restart the next morning still re-applies what was in flight at the
    crash. (With replicas writing meanwhile, the latest entry is as recent as the clock; a replica
    down for longer than the window relies on the others.) Not covered: a consumer whose apply
    failed (Redis down) and sits in the in-memory `dirty` set longer than the window, while another
    write raised `dnc:seq` past it, when the process dies before the sync loop retried it.

    How. Re-applying is idempotent (the fold of the whole journal, written as it stands), so
    re-applying a consumer Redis already holds costs time only: after a 1M-row import, all its
    consumers are in the window. They are re-applied the way an import applies them
    (`catchup.reapply_many`: folded in slices under the exclusive rebuild lock, written by the
    import's bulk script, pipelined, fields already holding their value left alone), preferences
    and consents alike: about 4 s for a million consumers here, against 15 to 20 minutes one by one
    (benchmarks/RESULTS.md). (The orgs' modes are not in Redis: `service.org_caps` copies them.)
    """
    started = time.monotonic()
    applied = await hot.applied_seq()
    changed = await journal_window(journal, applied, CATCH_UP_WINDOW)
    if changed.consumers:
        await reapply_many(service, changed)
    if changed.consumers:
        seconds = round(time.monotonic() - started, 3)
        log.info("registry_caught_up", consumers=changed.consumers, from_seq=applied, seconds=seconds)
    return changed.consumers


async def ensure_loaded(service: Registry, journal: Journal, hot: LoadedRegistry) -> None:
    """At start-up: rebuild an empty (or differently laid out) Redis, else catch up with the journal."""
    if await hot.is_ready():
        await catch_up(service, journal, hot)
    else:
        await rebuild_unless_loaded(journal, hot)


async def run(
    service: Registry,
    journal: Journal,
    hot: LoadedRegistry,
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
        except StoreUnavailable as exc:
            log.warning("registry_sync_failed", error=exc.driver, detail=str(exc.__cause__ or exc)[:200])
        except Exception:
            log.exception("registry_sync_crashed")
        else:
            mismatch_logged = False
