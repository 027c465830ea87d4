"""`operators` in PostgreSQL: who of the hotline takes new cases (the round-robin queue's members)."""

from __future__ import annotations

from datetime import datetime

from dncgate.domain.case import Operator
from dncgate.store.pg import Database


class OperatorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_available(self, name: str, available: bool, at: datetime, by: str) -> Operator:
        """Insert or update the operator's row; her turn in the queue and her count are kept."""
        async with self._db.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO operators (name, available, updated_at, updated_by) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT (name) DO UPDATE SET available = EXCLUDED.available,"
                    " updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by"
                    " RETURNING name, available, updated_at, updated_by, assigned_count",
                    (name, available, at, by),
                )
            ).fetchone()
        assert row is not None
        return Operator(row[0], row[1], row[2], row[3], int(row[4]))
