"""Call outcomes in PostgreSQL: what dialers report after a Check, merged so every report is idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from dncgate.domain.calls import CallOutcome
from dncgate.store.pg import Database

# A flag once reported stays set and the longest duration wins: reports may repeat, arrive in stages
# ("dialled", then "connected, 40 s") or out of order, and the row only ever gains information.
_MERGE = """
INSERT INTO call_outcome AS o (call_id, dialled, connected, duration_seconds, consumer_opted_out, request_id)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (call_id) DO UPDATE SET
    dialled = o.dialled OR EXCLUDED.dialled,
    connected = o.connected OR EXCLUDED.connected,
    duration_seconds = GREATEST(o.duration_seconds, EXCLUDED.duration_seconds),
    consumer_opted_out = o.consumer_opted_out OR EXCLUDED.consumer_opted_out,
    request_id = COALESCE(o.request_id, EXCLUDED.request_id)
RETURNING call_id, dialled, connected, duration_seconds, consumer_opted_out
"""


@dataclass(frozen=True, slots=True)
class CallRef:
    """Who a call was to, as far as an outcome needs it: the callee's keyed hash and mask."""

    call_id: str
    callee_key: bytes
    callee_masked: str
    org_id: str


class OutcomeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def logged_call(self, call_id: str) -> CallRef | None:
        """The call as the recorder committed it to call_log; None when it is not there (yet)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT callee_key, callee_masked, org_id FROM call_log WHERE call_id = %s", (call_id,)
            )
            row = await cur.fetchone()
        return CallRef(call_id, bytes(row[0]), row[1], row[2]) if row else None

    async def merge(self, outcome: CallOutcome, request_id: str | None) -> CallOutcome:
        """Merge a report into the call's outcome; returns the outcome as it now stands."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                _MERGE,
                (
                    outcome.call_id,
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
