"""Re-applying many consumers from the journal to Redis at once: the catch-up after a restart.

One consumer at a time (`RegistryService.reapply`: a lock, two queries and a Redis transaction each)
took 108 s for the 100,010 consumers of an import. Here, as in an import's apply
(service/importer.py), consumers go in slices of `APPLY_KEYS`, each an *apply section* under the
exclusive rebuild lock: two queries read every journal entry of the slice's consumers (preferences
reduced to what `fold_entries` reads, and consents), each consumer is folded (`fold_entries`, equal
to `schedule_of`; `consent_states`, from `consents_at`), and `BulkHotWriter` writes the slice with
its Lua script, 500 fields per call, in one pipeline. Each section reads its consumers' journals
after taking the lock and writes before releasing it, so, by the argument in service/importer.py,
a single write racing the catch-up can neither be overwritten with an older state nor slip between
the read and the write. Single writes wait for one slice at most (some tens of milliseconds).

The applied-seq watermark (`dnc:seq`) is raised with the last slice only, to the highest seq read:
a catch-up cut short (Redis down, the process killed) leaves it where it was, so the next catch-up
still finds every consumer it had not reached.
"""

from __future__ import annotations

from collections.abc import Sequence

from dncgate.domain.imports import fold_entries
from dncgate.domain.registry import Schedule, consent_states, epoch_us
from dncgate.service.registry import RegistryService
from dncgate.store import journal as journal_store
from dncgate.store.bulk import BulkHotWriter, ConsentState, preference_entries

# Consumers per apply section: the importer's slice size, for the same reason (a single write waits
# for one section at most).
APPLY_KEYS = 5_000
_NOTHING = Schedule(0)


async def reapply_many(registry: RegistryService, keys: Sequence[bytes], apply_keys: int = APPLY_KEYS) -> int:
    """Recompute these consumers' Redis state (preferences and consents) from the journal; the highest
    seq applied. Raises what PostgreSQL or Redis raise; the consumers not reached stay as they were."""
    if apply_keys < 1:
        raise ValueError("apply_keys must be positive")
    writer = BulkHotWriter(registry.hot)
    seq = 0
    for start in range(0, len(keys), apply_keys):
        end = start + apply_keys
        seq = await _apply_section(registry, writer, keys[start:end], seq, last=end >= len(keys))
    registry.dirty.difference_update(keys)
    return seq


async def _apply_section(
    registry: RegistryService, writer: BulkHotWriter, keys: Sequence[bytes], seq: int, *, last: bool
) -> int:
    async with registry.journal.exclusive() as conn:
        # "Now" once the lock is held, as in a rebuild: every entry committed so far is in effect.
        now = registry.now()
        now_us = epoch_us(now)
        entries = await preference_entries(conn, keys)
        consents = await journal_store.consent_changes_of(conn, keys)
        schedules: list[tuple[bytes, Schedule]] = []
        for key in keys:
            mine = entries.get(key)
            if mine is None:
                schedules.append((key, _NOTHING))  # no preference entry: no field, as `reapply` writes it
            else:
                schedules.append((key, fold_entries(mine, now_us)))
                seq = max(seq, *(s for _, s, _ in mine))
        states: list[ConsentState] = []
        for key, changes in consents.items():
            seq = max(seq, *(c.seq for c in changes))
            states += [(key, org, agent, consent) for (org, agent), consent in consent_states(changes, now).items()]
        await writer.write(schedules, seq if last else 0, states)
    return seq
