"""Bulk registry imports: millions of rows journaled by COPY in chunks, then folded into Redis.

Numbers are parsed (`phone_fast`, else `phonenumbers`) and keyed (HMAC digest) as they arrive; valid
rows collect into chunks of about `chunk_rows` (40,000). Per chunk:

1. **Journal.** One binary COPY into `preference_journal`, one transaction, every row recorded by
   the import's principal (`run`'s `actor`). Chunks are copied one
   after the other and a chunk is sorted by key with a stable sort, so each number's rows get seqs
   in the feed's order (rows without effective_from share the import's start time, so a number's
   last row wins). A failed chunk leaves nothing; the chunks before it stay.
2. **Apply**, in slices of `apply_rows` (5,000), each holding the rebuild lock *exclusively*: one
   query reads the journals of the slice's consumers that have more than one entry (the others'
   only entry is the row just copied, folded from memory); each consumer is folded (`fold_entries`,
   equal to `schedule_of`) and written to Redis by `BulkHotWriter`, which raises `dnc:seq` after
   the last slice.

Up to three chunks are in flight: while chunk n is applied, n+1 is copied and n+2 parsed.

Why the exclusive lock, and why Redis then equals the journal's fold for every number: every Redis
write of a number's registry state happens inside an *apply section* (read the number's journal,
fold, write): single writes and re-applies do it under the shared rebuild lock plus the number's
own advisory lock, imports and rebuilds under the exclusive rebuild lock. So a number's apply
sections never overlap, and each commit to its journal is followed by an apply section of its
writer that begins after the commit. The last section therefore reads every committed entry, and
its write is the last write: Redis holds the fold of the whole journal. Holding only the shared
lock would not do: a single write could read its journal before the import's COPY commits and
write Redis after the import's apply, putting back a state without the imported row. Per-number
locks for thousands of numbers would exhaust PostgreSQL's lock table. The price: single writes
wait while a slice is applied (some tens of milliseconds); Checks never wait, they read Redis only.

An import cut short (the client gone, a malformed message, a failed chunk) finishes the chunks in
flight and starts no other. If an apply fails (Redis down), the chunk's consumers join the
registry's `dirty` set, which the sync loop re-applies; after a crash, the catch-up at start-up does.

Idempotency: the stream carries no request id. Sending the same feed again appends its rows again:
Checks and GetPreference answer as before (the fold of A, B, A, B is the fold of A, B), only the
history grows. A feed sent again later is a newer statement, though: its rows take the new import's
start time and so override what changed in between, like any newer entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import AsyncIterable, Sequence

import structlog

from dncgate import phone
from dncgate.domain import access
from dncgate.domain.errors import InvalidArgument, Unavailable
from dncgate.domain.imports import ImportRow, ImportSummary, fold_entries, fold_one
from dncgate.domain.registry import epoch_us
from dncgate.phone_fast import FastE164
from dncgate.service.registry import RegistryService
from dncgate.store.bulk import JournalRow, shared_entries
from dncgate.store.hot import HotRegistry
from dncgate.store.journal import Journal

log = structlog.get_logger("dncgate.import")

# Rows per COPY (bigger sorted chunks cost PostgreSQL less per row) and per apply under the exclusive
# lock (smaller slices keep single writes from waiting long).
CHUNK_ROWS = 40_000
APPLY_ROWS = 5_000
# Rows parsed between two yields to the event loop (about a millisecond of work).
_PARSE_ROWS = 500
_by_key = operator.itemgetter(0)


class RegistryImporter:
    """Runs imports for one registry: parses and keys numbers, journals chunks, applies them."""

    def __init__(
        self,
        registry: RegistryService[Journal, HotRegistry],
        chunk_rows: int = CHUNK_ROWS,
        apply_rows: int = APPLY_ROWS,
    ) -> None:
        if chunk_rows < 1 or apply_rows < 1:
            raise ValueError("chunk_rows and apply_rows must be positive")
        self.registry = registry
        self.chunk_rows = chunk_rows
        self.apply_rows = apply_rows
        self._fast = FastE164(registry.region)
        self._digest = registry.keyer.uncached()
        self._writer = registry.bulk

    async def run(self, batches: AsyncIterable[Sequence[ImportRow]], *, actor: str) -> ImportSummary:
        """Import every row the batches carry, in order, each journaled as made by `actor` (the principal
        that sent the feed); the summary counts and explains the invalid ones.

        Cut short (the client gone, a malformed message, a failed chunk), an import still finishes
        the chunks it has started, journal and Redis, and keeps them; it starts no other.
        """
        access.actor(actor)
        started_us = epoch_us(self.registry.now())
        summary = ImportSummary()
        chunk: list[JournalRow] = []
        flights = _InFlight(self, actor)
        malformed: InvalidArgument | None = None
        try:
            try:
                async for batch in batches:
                    for start in range(0, len(batch), _PARSE_ROWS):
                        # A bite at a time: the COPYs' and applies' I/O waits on this loop to resume.
                        self._key_rows(batch[start : start + _PARSE_ROWS], started_us, chunk, summary)
                        await asyncio.sleep(0)
                    if len(chunk) >= self.chunk_rows:
                        await flights.submit(chunk)
                        chunk = []
            except InvalidArgument as exc:
                malformed = exc  # a malformed message (not a bad row) ends the import; the rows before it stay
            await flights.submit(chunk)
        except BaseException:
            with contextlib.suppress(Exception):
                await flights.finish()
            raise
        await flights.finish()
        if malformed is not None:
            detail = f"{malformed.description} (the {summary.rows:,} rows before it were imported)"
            raise InvalidArgument(malformed.field, detail) from None
        summary.accepted = summary.rows - summary.invalid
        log.info("registry_imported", rows=summary.rows, accepted=summary.accepted, invalid=summary.invalid)
        return summary

    def _key_rows(
        self, batch: Sequence[ImportRow], started_us: int, chunk: list[JournalRow], summary: ImportSummary
    ) -> None:
        """Parse and key one message's rows onto the chunk; invalid ones go to the summary (the hot loop)."""
        fast, digest, append = self._fast.e164, self._digest, chunk.append
        n = summary.rows
        for number, dnd, mask, source, effective_us, error in batch:
            n += 1
            if error is None:
                e164 = fast(number) or self._e164(number)
                if e164 is not None:
                    append((digest(e164), dnd, mask, source, started_us if effective_us is None else effective_us))
                    continue
                error = "number: is required" if not number.strip() else "number: is not a valid phone number"
            summary.reject(n, error)
        summary.rows = n

    def _e164(self, number: str) -> str | None:
        parsed = phone.try_parse(number, self.registry.region)
        return parsed.e164 if parsed is not None else None

    async def journal_after(self, previous: asyncio.Task[int] | None, chunk: list[JournalRow], actor: str) -> int:
        """Once the previous chunk is journaled (the journal keeps the feed's order), COPY this one."""
        if previous is not None:
            await previous  # its failure is this chunk's too: nothing after a lost chunk is journaled
        chunk.sort(key=_by_key)  # stable: a number's rows keep the feed's order (see append_preferences)
        return await self.registry.journal.append_import_rows(chunk, actor)

    async def apply_after(self, journaled: asyncio.Task[int], chunk: list[JournalRow]) -> None:
        """Once the chunk is journaled, apply its consumers' folded journals to Redis."""
        last_seq = await journaled
        try:
            await self._apply(chunk, last_seq)
        except Exception as exc:
            self.registry.dirty.update(r[0] for r in chunk)  # the sync loop re-applies them
            log.warning("import_apply_failed", rows=len(chunk), error=type(exc).__name__)
            raise Unavailable(
                f"{len(chunk):,} rows are recorded in the journal but Redis could not be updated; "
                "they will be applied when Redis is back (sending the feed again is harmless)"
            ) from exc

    async def _apply(self, chunk: list[JournalRow], last_seq: int) -> None:
        """Fold and write the chunk's consumers, a slice at a time under the exclusive rebuild lock.

        Slices keep each wait of the single writes short; the watermark reaches the chunk's last seq
        with the last slice, once every row of the chunk is in Redis.
        """
        for start in range(0, len(chunk), self.apply_rows):
            end = start + self.apply_rows
            await self._apply_slice(chunk[start:end], last_seq if end >= len(chunk) else 0)

    async def _apply_slice(self, rows: list[JournalRow], seq: int) -> None:
        async with self.registry.journal.exclusive() as conn:
            # "Now" once the lock is held, as in a rebuild: every entry committed so far is in effect.
            now_us = epoch_us(self.registry.now())
            shared = await shared_entries(conn, [r[0] for r in rows])
            schedules = []
            for key, dnd, mask, _, effective_us in rows:
                entries = shared.get(key)
                if entries is None:
                    # The consumer's only journal entry is this row: fold it without reading it back.
                    schedules.append((key, fold_one(effective_us, mask if dnd else 0, now_us)))
                elif entries:
                    schedules.append((key, fold_entries(entries, now_us)))
                    seq = max(seq, *(s for _, s, _ in entries))
                    entries.clear()  # one write per consumer, however many rows it has here
            await self._writer.write(schedules, seq)


class _InFlight:
    """Chunks being journaled and applied while the next one is parsed: at most `DEPTH` at a time.

    Each chunk's COPY waits for the previous one's inside its own task, so the journal keeps the
    feed's order without holding up the parsing of the next chunk; applies overlap COPYs (they use
    other connections). Nothing in flight is ever cancelled: a COPY cut off during its COMMIT could
    not tell whether it committed, and its rows might never reach Redis.
    """

    DEPTH = 3

    def __init__(self, importer: RegistryImporter, actor: str) -> None:
        self.importer = importer
        self.actor = actor
        self.tasks: list[tuple[asyncio.Task[int], asyncio.Task[None]]] = []

    async def submit(self, chunk: list[JournalRow]) -> None:
        if not chunk:
            return
        if len(self.tasks) == self.DEPTH:
            await self.tasks.pop(0)[1]  # memory: the oldest chunk is applied before another starts
        previous = self.tasks[-1][0] if self.tasks else None
        journaled = asyncio.create_task(self.importer.journal_after(previous, chunk, self.actor))
        self.tasks.append((journaled, asyncio.create_task(self.importer.apply_after(journaled, chunk))))

    async def finish(self) -> None:
        """Wait for every chunk in flight; raise the first failure once all are done."""
        tasks = [t for pair in self.tasks for t in pair]
        self.tasks = []
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
