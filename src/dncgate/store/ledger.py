"""Reading the payout ledger: pages of payouts for the payment run, and totals per period for the fund."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dncgate.domain.case import Payout, PayoutStatus
from dncgate.domain.reports import Period
from dncgate.store.case_rows import PAYOUT_COLS, payout_of
from dncgate.store.pg import Database


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, payout_id: str) -> Payout | None:
        async with self.db.connection() as conn:
            cur = await conn.execute(f"SELECT {PAYOUT_COLS} FROM payouts WHERE payout_id = %s", (payout_id,))
            row = await cur.fetchone()
        return payout_of(row) if row else None

    async def case_of(self, payout_id: str) -> str | None:
        async with self.db.connection() as conn:
            row = await (
                await conn.execute("SELECT case_id FROM payouts WHERE payout_id = %s", (payout_id,))
            ).fetchone()
        return str(row[0]) if row else None

    async def page(
        self,
        status: PayoutStatus | None,
        created_after: datetime | None,
        created_before: datetime | None,
        overdue_at: datetime | None,
        before_seq: int | None,
        limit: int,
    ) -> tuple[list[Payout], int | None]:
        """Newest first; the page and the seq to continue before (None when this was the last page).

        With `overdue_at`, only the payouts still pending past their due time at that moment.
        """
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        for clause, value in (
            ("status = %s", status.value if status else None),
            ("created_at >= %s", created_after),
            ("created_at < %s", created_before),
            ("status = 'PENDING' AND due_at < %s", overdue_at),
            ("seq < %s", before_seq),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"SELECT seq, {PAYOUT_COLS} FROM payouts WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s",
                (*params, limit + 1),
            )
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [payout_of(r[1:]) for r in rows], (int(rows[-1][0]) if more else None)

    async def per_period(
        self, period: Period, zone: str, after: datetime | None, before: datetime | None
    ) -> list[tuple[str, datetime, str, int, int]]:
        """(PENDING|PAID, period start, currency, count, sum of minor units) per period.

        Pending payouts count in the period they were booked in, paid ones in the period they were paid
        in: the fund's outstanding liability and its outflow. Periods start at local midnight in `zone`.
        """
        sql = (
            "SELECT %(kind)s, date_trunc(%(period)s, {col} AT TIME ZONE %(zone)s) AT TIME ZONE %(zone)s,"
            " currency, count(*), sum(amount_minor) FROM payouts"
            " WHERE status = %(kind)s AND {col} >= %(after)s AND {col} < %(before)s GROUP BY 2, 3"
        )
        params: dict[str, Any] = {
            "period": period.value,
            "zone": zone,
            "after": after or datetime.min.replace(tzinfo=UTC),
            "before": before or datetime.max.replace(tzinfo=UTC),
        }
        out: list[tuple[str, datetime, str, int, int]] = []
        async with self.db.connection() as conn:
            for kind, col in (("PENDING", "created_at"), ("PAID", "paid_at")):
                cur = await conn.execute(sql.format(col=col).encode(), {**params, "kind": kind})
                out += [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in await cur.fetchall()]
        return out

    async def overdue(
        self, now: datetime, after: datetime | None, before: datetime | None
    ) -> list[tuple[str, int, int]]:
        """(currency, count, sum of minor units) of the payouts booked in [after, before) and still
        pending past their due time at `now`; those with no due date recorded are not counted."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT currency, count(*), sum(amount_minor) FROM payouts WHERE status = 'PENDING'"
                " AND due_at < %s AND created_at >= %s AND created_at < %s GROUP BY currency",
                (now, after or datetime.min.replace(tzinfo=UTC), before or datetime.max.replace(tzinfo=UTC)),
            )
            return [(r[0], int(r[1]), int(r[2])) for r in await cur.fetchall()]
