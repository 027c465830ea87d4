"""The hotline's service figures in one query: per period of filing and assignee, from the cases' timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dncgate.domain.reports import Period, ServiceFigures, Share
from dncgate.store.pg import Database

# Per case (those filed in the range): its period of filing, its first verdict stage and first
# consumer-visible update, and where its update clock ends (the close, or now while open). A case
# closed before closed_at was recorded ends at its last CONSUMER_CONFIRMED entry, as 0012's backfill.
# `lapsed` walks the filing, the visible updates and that end in order (lag over the case's points):
# the clock lapsed if one gap is longer than the update hours. Payouts are folded per case first, so
# the final join meets at most one row of each table per case.
_SQL = """
WITH c AS (
    SELECT k.case_id, k.assignee, k.channel, k.created_at, k.satisfaction, k.regulator_reply_due,
           k.regulator_replied_at, k.revisit_due,
           date_trunc(%(period)s, k.created_at AT TIME ZONE %(zone)s) AT TIME ZONE %(zone)s AS start,
           (SELECT min(s.at) FROM complaint_stages s WHERE s.case_id = k.case_id
                AND s.stage IN ('RESOLUTION_DRAFTED', 'RESOLVED', 'CONSUMER_CONFIRMED')) AS verdict_at,
           (SELECT min(u.at) FROM complaint_updates u WHERE u.case_id = k.case_id
                AND u.visible_to_consumer) AS update_at,
           CASE WHEN k.status = 'CLOSED' THEN COALESCE(k.closed_at,
                (SELECT max(s.at) FROM complaint_stages s WHERE s.case_id = k.case_id
                     AND s.stage = 'CONSUMER_CONFIRMED'), %(now)s)
                ELSE %(now)s END AS end_at
    FROM complaints k
    WHERE k.created_at >= %(after)s AND k.created_at < %(before)s
      AND (%(assignee)s::text IS NULL OR k.assignee = %(assignee)s::text)
), points AS (
    SELECT case_id, created_at AS at FROM c
    UNION ALL
    SELECT u.case_id, u.at FROM complaint_updates u JOIN c ON c.case_id = u.case_id
        WHERE u.visible_to_consumer AND u.at <= c.end_at
    UNION ALL
    SELECT case_id, greatest(end_at, created_at) FROM c
), lapsed AS (
    SELECT case_id FROM (
        SELECT case_id, at - lag(at) OVER (PARTITION BY case_id ORDER BY at) AS gap FROM points
    ) g WHERE gap > %(update)s GROUP BY case_id
), pay AS (
    SELECT p.case_id, count(*) FILTER (WHERE p.paid_at <= p.due_at) AS on_time, count(*) AS counted
    FROM payouts p JOIN c ON c.case_id = p.case_id
    WHERE p.due_at IS NOT NULL AND (p.status = 'PAID' OR p.due_at < %(now)s)
    GROUP BY p.case_id
)
SELECT c.start, c.assignee, count(*),
       count(*) FILTER (WHERE least(c.verdict_at, c.update_at) <= c.created_at + %(first)s),
       count(*) FILTER (WHERE least(c.verdict_at, c.update_at) IS NOT NULL OR c.created_at + %(first)s < %(now)s),
       count(*) FILTER (WHERE c.verdict_at <= c.created_at + %(resolve)s),
       count(*) FILTER (WHERE c.verdict_at IS NOT NULL OR c.created_at + %(resolve)s < %(now)s),
       count(l.case_id),
       count(*) FILTER (WHERE c.channel = 'REGULATOR' AND c.regulator_replied_at <= c.regulator_reply_due),
       count(*) FILTER (WHERE c.channel = 'REGULATOR' AND c.regulator_reply_due IS NOT NULL
                        AND (c.regulator_replied_at IS NOT NULL OR c.regulator_reply_due < %(now)s)),
       COALESCE(sum(c.satisfaction) FILTER (WHERE c.satisfaction BETWEEN 1 AND 5), 0),
       count(*) FILTER (WHERE c.satisfaction BETWEEN 1 AND 5),
       count(r.case_id),
       count(*) FILTER (WHERE r.at <= c.revisit_due),
       count(*) FILTER (WHERE r.case_id IS NULL AND c.revisit_due < %(now)s),
       count(*) FILTER (WHERE r.recurred),
       COALESCE(sum(pay.on_time), 0), COALESCE(sum(pay.counted), 0)
FROM c
LEFT JOIN lapsed l ON l.case_id = c.case_id
LEFT JOIN complaint_revisits r ON r.case_id = c.case_id
LEFT JOIN pay ON pay.case_id = c.case_id
GROUP BY c.start, c.assignee
"""


class ServiceReportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def service_figures(
        self,
        period: Period,
        zone: str,
        after: datetime | None,
        before: datetime | None,
        assignee: str | None,
        now: datetime,
        hours: tuple[int, int, int],
    ) -> list[tuple[datetime, str, ServiceFigures]]:
        """(period start, assignee, figures) of the cases filed in [after, before) (of `assignee` only,
        if given), periods starting at local midnight in `zone`; `hours` are the first-response,
        resolution and update hours, `now` decides what is due."""
        first, resolve, update = hours
        params: dict[str, Any] = {
            "period": period.value,
            "zone": zone,
            "after": after or datetime.min.replace(tzinfo=UTC),
            "before": before or datetime.max.replace(tzinfo=UTC),
            "assignee": assignee,
            "now": now,
            "first": timedelta(hours=first),
            "resolve": timedelta(hours=resolve),
            "update": timedelta(hours=update),
        }
        async with self.db.connection() as conn:
            rows = await (await conn.execute(_SQL.encode(), params)).fetchall()
        return [(r[0], str(r[1]), _figures(r[2:])) for r in rows]


def _figures(r: Any) -> ServiceFigures:
    n = [int(v) for v in r]
    filed, answered, answer_counted, resolved, resolve_counted = n[0], n[1], n[2], n[3], n[4]
    return ServiceFigures(
        cases_filed=filed,
        answered=Share(answered, answer_counted),
        answer_pending=filed - answer_counted,
        resolved=Share(resolved, resolve_counted),
        resolution_pending=filed - resolve_counted,
        updates_overdue=n[5],
        regulator_replies=Share(n[6], n[7]),
        satisfaction_sum=n[8],
        rated=n[9],
        revisits_done=n[10],
        revisits_on_time=n[11],
        revisits_overdue=n[12],
        recurrences=n[13],
        payouts_on_time=Share(n[14], n[15]),
    )
