"""Re-applying many consumers from the journal to Redis at once: the catch-up after a restart.

One consumer at a time (`RegistryService.reapply`: a lock, two queries and a Redis transaction each)
took 108 s for the 100,010 consumers of an import, about a millisecond each. Here, as in an import's
apply (service/importer.py), consumers are folded and written in bulk, in *apply sections* under the
exclusive rebuild lock: a section reads the journals of up to `SECTION_KEYS` consumers, a slice of
`SLICE_KEYS` at a time (preferences reduced to what `fold_entries` reads, in key order; consents whole),
folds them (`fold_entries`, equal to `schedule_of`; `consent_states`, from `consents_at`) and writes
them with `BulkHotWriter` (the import's Lua script, 500 fields per call, one pipeline per slice). A
slice's Redis writes run while the next slice is read from PostgreSQL, so PostgreSQL, Redis and this
process work at once. Each section reads its consumers' journals after taking the lock and has
written them before releasing it, so, by the argument in service/importer.py, a single write racing
the catch-up can neither be overwritten with an older state nor slip between the read and the
write. A single write waits for one section at most (about a tenth of a second).

Consumers are re-applied per journal: those with a preference entry in the window get their
preference field rewritten, those with a consent entry their consent fields (every apply writes only
what its own journal entry changed, so only that can be missing). The applied-seq watermark
(`dnc:seq`) is raised at the very end, to the highest seq read: a catch-up cut short (Redis down,
the process killed) leaves it where it was, so the next one still finds every consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from dncgate.domain.imports import Entry, fold_entries, fold_one
from dncgate.domain.registry import (
    ConsentChange,
    OrgListChange,
    Schedule,
    consent_states,
    consent_states_in_effect,
    epoch_us,
    org_lists_at,
)
from dncgate.service.registry import BulkWrites, RegistryService
from dncgate.store.bulk import ConsentState
from dncgate.store.catchup import Changed, PackedKeys, consent_changes, org_list_changes, preference_rows
from dncgate.store.hot import HotRegistry
from dncgate.store.journal import Journal

# Consumers read and written per slice, and per section (one hold of the exclusive lock).
SLICE_KEYS = 5_000
SECTION_KEYS = 20_000


async def reapply_many(
    registry: RegistryService[Journal, HotRegistry],
    changed: Changed,
    slice_keys: int = SLICE_KEYS,
    section_keys: int = SECTION_KEYS,
) -> int:
    """Recompute the changed consumers' Redis state from the journal, then raise `dnc:seq`; the highest
    seq applied. Raises what PostgreSQL or Redis raise, leaving the watermark as it was."""
    if slice_keys < 1 or section_keys < slice_keys:
        raise ValueError("slices must hold at least one consumer, and sections at least one slice")
    writer = registry.bulk
    seq = 0
    for keys in changed.preferences.slices(section_keys):
        seq = max(seq, await _section(registry, writer, keys, slice_keys, consents=False))
    for keys in changed.consents.slices(section_keys):
        seq = max(seq, await _section(registry, writer, keys, slice_keys, consents=True))
    if seq:
        await writer.write((), seq)
    if registry.dirty:
        registry.dirty.difference_update(changed.preferences)
        registry.dirty.difference_update(changed.consents)
    return seq


async def _section(
    registry: RegistryService[Journal, HotRegistry],
    writer: BulkWrites,
    keys: PackedKeys,
    slice_keys: int,
    *,
    consents: bool,
) -> int:
    """One apply section: every slice of `keys` read, folded and written under one hold of the lock."""
    seq = 0
    writing: asyncio.Task[None] | None = None
    async with registry.journal.exclusive() as conn:
        # "Now" once the lock is held, as in a rebuild: every entry committed so far is in effect.
        now = registry.now()
        try:
            for part in keys.slices(slice_keys):
                lists: list[tuple[bytes, str, bool]] = []
                if consents:
                    entries = await org_list_changes(conn, part)
                    states, lists, top = _fold_consents(await consent_changes(conn, part), entries, now)
                    schedules: list[tuple[bytes, Schedule]] = []
                else:
                    rows = await preference_rows(conn, part)
                    # Every key has an entry, so as many rows as keys means one entry each (after an import).
                    fold = _fold_single if len(rows) == len(part) else _fold_preferences
                    schedules, top = fold(rows, epoch_us(now))
                    states = []
                seq = max(seq, top)
                if writing is not None:
                    await writing  # one slice's writes in flight at a time
                writing = asyncio.create_task(writer.write(schedules, 0, states, changes_only=True, org_lists=lists))
            if writing is not None:
                await writing  # written before the lock is released
        except BaseException:
            if writing is not None:
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing
            raise
    return seq


def _fold_single(rows: list[tuple[bytes, int, int, int]], now_us: int) -> tuple[list[tuple[bytes, Schedule]], int]:
    """`_fold_preferences` of rows that are each the only entry of their consumer (`fold_one` each)."""
    one = fold_one
    return [(key, one(effective_us, mask, now_us)) for key, effective_us, _, mask in rows], max(r[2] for r in rows)


def _fold_preferences(rows: list[tuple[bytes, int, int, int]], now_us: int) -> tuple[list[tuple[bytes, Schedule]], int]:
    """Each consumer's schedule from its entries (rows in key order), and the highest seq among them."""
    schedules: list[tuple[bytes, Schedule]] = []
    top = 0
    i, n = 0, len(rows)
    while i < n:
        key, effective_us, seq, mask = rows[i]
        j = i + 1
        while j < n and rows[j][0] == key:
            j += 1
        if j == i + 1:  # most consumers: one entry
            schedules.append((key, fold_one(effective_us, mask, now_us)))
            if seq > top:
                top = seq
        else:
            entries: list[Entry] = [(e, s, m) for _, e, s, m in rows[i:j]]
            schedules.append((key, fold_entries(entries, now_us)))
            top = max(top, *(s for _, s, _ in entries))
        i = j
    return schedules, top


def _fold_consents(
    changes: dict[bytes, list[ConsentChange]], org_lists: dict[bytes, list[OrgListChange]], now: datetime
) -> tuple[list[ConsentState], list[tuple[bytes, str, bool]], int]:
    """Consents and org-list fields of these consumers (a consumer's list entries override the
    consents she gave that org before them: `consents_in_effect`), and the highest seq among them."""
    states: list[ConsentState] = []
    lists: list[tuple[bytes, str, bool]] = []
    top = 0
    for key, mine in changes.items():
        top = max(top, *(c.seq for c in mine))
        entries = org_lists.get(key)
        folded = consent_states_in_effect(mine, entries, now) if entries else consent_states(mine, now)
        states += [(key, org, agent, consent) for (org, agent), consent in folded.items()]
    for key, entries in org_lists.items():
        top = max(top, *(e.seq for e in entries))
        lists += [(key, org, on) for org, on in org_lists_at(entries, changes.get(key, ()), now).items()]
    return states, lists, top
