"""The outbox of consumer notices in PostgreSQL: appended with each change, claimed by the sender loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg

from dncgate.domain.notices import Notice, NoticeKind, SentNotice
from dncgate.service.notice_ports import Pending
from dncgate.store.pg import Database

Conn = psycopg.AsyncConnection[Any]

_COLS = "notification_id, case_id, kind, text, created_at, destination_masked"


def _notice(row: Sequence[Any]) -> Notice:
    return Notice(row[0], row[1], NoticeKind(row[2]), row[3], row[4])


async def add_notification(
    conn: Conn, notice: Notice, destination_masked: str, destination_sealed: bytes | None
) -> bool:
    """Append a notice (first attempt due at once); False when a notice with its id exists already.

    The outbox is partitioned by the filing time of the notice's case (migration 0020): the id names
    the case and a case has one filing time, so (notification_id, case_created_at) is as unique as the
    id alone, whatever time a retried request appends at. (A case that does not exist fails the insert,
    on case_created_at's NOT NULL as on the foreign key before.)
    """
    cur = await conn.execute(
        "INSERT INTO notifications (notification_id, case_id, case_created_at, kind, text, destination_masked,"
        " destination_sealed, created_at, next_attempt_at)"
        " VALUES (%s, %s, (SELECT created_at FROM complaints WHERE case_id = %s), %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (notification_id, case_created_at) DO NOTHING RETURNING notification_id",
        (
            notice.notification_id,
            notice.case_id,
            notice.case_id,
            notice.kind.value,
            notice.text,
            destination_masked,
            destination_sealed,
            notice.created_at,
            notice.created_at,
        ),
    )
    return await cur.fetchone() is not None


class _Marks:
    """Delivery bookkeeping of a claimed batch, on the claim's own transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def delivered(self, notification_id: str, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE notifications SET delivered_at = %s, attempts = attempts + 1, last_error = ''"
            " WHERE notification_id = %s AND delivered_at IS NULL",
            (at, notification_id),
        )

    async def failed(self, notification_id: str, attempts: int, error: str, retry_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE notifications SET attempts = %s, last_error = %s, next_attempt_at = %s"
            " WHERE notification_id = %s AND delivered_at IS NULL",
            (attempts, error, retry_at, notification_id),
        )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def claim(self, limit: int, now: datetime) -> AsyncIterator[tuple[list[Pending], _Marks]]:
        """Undelivered notices due at `now`, oldest first, locked until the block ends (SKIP LOCKED: a
        second sender takes the next ones instead of waiting). A notice whose destination was erased
        is never claimed again."""
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"SELECT {_COLS}, destination_sealed, attempts FROM notifications"
                " WHERE delivered_at IS NULL AND destination_sealed IS NOT NULL AND next_attempt_at <= %s"
                " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            )
            rows = await cur.fetchall()
            yield [Pending(_notice(r), r[5], bytes(r[6]), int(r[7])) for r in rows], _Marks(conn)

    async def page(
        self, case_id: str | None, before_seq: int | None, limit: int
    ) -> tuple[list[SentNotice], int | None]:
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if case_id is not None:
            where.append("case_id = %s")
            params.append(case_id)
        if before_seq is not None:
            where.append("seq < %s")
            params.append(before_seq)
        async with self.db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLS}, delivered_at, attempts, last_error, seq FROM notifications"
                f" WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT %s",
                (*params, limit + 1),
            )
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        found = [SentNotice(_notice(r), r[5], r[6], int(r[7]), r[8]) for r in rows]
        return found, (int(rows[-1][9]) if more else None)
