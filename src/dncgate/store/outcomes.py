"""Call outcomes in PostgreSQL: what dialers report after a Check, merged so every report is idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dncgate.domain.calls import CallOutcome
from dncgate.store.pg import Database

# A flag once reported stays set and the longest duration wins: reports may repeat, arrive in stages
# ("dialled", then "connected, 40 s") or out of order, and the row only ever gains information.
# call_outcome is partitioned by the call's time (migration 0020): a call has one time, so the key
# (call_id, call_at) keeps one row per call, as call_id alone did.
_MERGE = """
INSERT INTO call_outcome AS o
    (call_id, call_at, dialled, connected, duration_seconds, consumer_opted_out, request_id)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (call_id, call_at) DO UPDATE SET
    dialled = o.dialled OR EXCLUDED.dialled,
    connected = o.connected OR EXCLUDED.connected,
    duration_seconds = GREATEST(o.duration_seconds, EXCLUDED.duration_seconds),
    consumer_opted_out = o.consumer_opted_out OR EXCLUDED.consumer_opted_out,
    request_id = COALESCE(o.request_id, EXCLUDED.request_id)
RETURNING call_id, dialled, connected, duration_seconds, consumer_opted_out
"""
_LOGGED = "SELECT callee_key, callee_masked, org_id, at FROM call_log WHERE call_id = %s"
# How far from the time in its id a call is looked for first: its month's partition, or the next one.
_ID_TIME_SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CallRef:
    """Who a call was to, as far as an outcome needs it: the callee's keyed hash and mask, and its time."""

    call_id: str
    callee_key: bytes
    callee_masked: str
    org_id: str
    at: datetime


def id_time(call_id: str) -> datetime | None:
    """The time a call id was made at, to the millisecond (service/checks.py new_call_id); None if it
    does not look like one."""
    if len(call_id) != 32:
        return None
    try:
        return datetime.fromtimestamp(int(call_id[:12], 16) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


class OutcomeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def logged_call(self, call_id: str) -> CallRef | None:
        """The call as the recorder committed it to call_log; None when it is not there (yet).

        Looked for first near the time its id carries, which prunes call_log to a partition or two;
        then, if not found there, in every month (an id made by another clock, or not by new_call_id).
        """
        async with self.db.connection() as conn:
            row = None
            if (made := id_time(call_id)) is not None:
                cur = await conn.execute(
                    _LOGGED + " AND at >= %s AND at < %s", (call_id, made - _ID_TIME_SLACK, made + _ID_TIME_SLACK)
                )
                row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(_LOGGED, (call_id,))
                row = await cur.fetchone()
        return CallRef(call_id, bytes(row[0]), row[1], row[2], row[3]) if row else None

    async def merge(self, outcome: CallOutcome, call_at: datetime, request_id: str | None) -> CallOutcome:
        """Merge a report into the outcome of the call made at `call_at`; returns the outcome as it now stands."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                _MERGE,
                (
                    outcome.call_id,
                    call_at,
                    outcome.dialled,
                    outcome.connected,
                    outcome.duration_seconds,
                    outcome.consumer_opted_out,
                    request_id,
                ),
            )
            row = await cur.fetchone()
        assert row is not None
        return CallOutcome(row[0], row[1], row[2], row[3], row[4])
