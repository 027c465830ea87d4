"""A consumer's erasure in PostgreSQL: shred her sealed numbers, erase her mask from text, record the act."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import psycopg

from dncgate.domain.erasure import ERASED, Erasure
from dncgate.store.pg import Database

Conn = psycopg.AsyncConnection[Any]

# The sealed numbers an erasure destroys, as (table, column): each row is picked by its case_id among
# the consumer's cases and the column set to NULL (crypto-shredding: the ciphertext is dropped). A
# notice not yet delivered then stays undelivered: there is no number left to send it to.
SEALED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("complaints", "consumer_sealed"),
    ("payouts", "consumer_sealed"),
    ("notifications", "destination_sealed"),
)
# Columns that hold her mask and nothing else: replaced whole by ERASED.
MASK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("complaints", "consumer_masked"),
    ("payouts", "consumer_masked"),
    ("notifications", "destination_masked"),
)
# The call log keeps her mask beside her keyed hash (callee_masked): replaced by ERASED for every call
# to her. The calls themselves stay: they are the evidence complaints are verified against, keyed.
CALL_MASK = ("call_log", "callee_masked", "callee_key")
# Free text of her cases (masked when written): each occurrence of her masked number becomes ERASED.
# Other text is left as it is: a mask names one number in ten thousand, so outside her own cases an
# occurrence is not hers to erase. complaint_history and complaint_updates are append-only; their
# trigger (migration 0011) lets this transaction, and only it, rewrite the text column, as the
# notifications' (0010) does for their text and masked destination; the ledger's
# lets it change a paid payout's sealed number, mask and payment reference, nothing else.
TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("complaints", "description"),
    ("complaints", "remaining_issue"),
    ("complaint_findings", "consent_evidence"),
    ("complaint_history", "note"),
    ("complaint_updates", "text"),
    ("complaint_revisits", "note"),
    ("payouts", "payment_reference"),
    ("notifications", "text"),
)
# Free text of her own journal rows (masked when written), picked by her keyed hash like the call log:
# each occurrence of her mask becomes ERASED; the rows stay and bind as before (her org-list entry
# still keeps the org from calling her, a consent keeps its effect). The journal trigger (migration
# 0019) lets this transaction, and only it, rewrite these columns.
JOURNAL_TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("consent_journal", "evidence"),
    ("org_list_journal", "reason"),
)


class ErasureWriter:
    """The writes of one erasure, all in one transaction (see ErasureStore.transaction)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def lock_consumer(self, consumer_key: bytes) -> list[str]:
        """Her case ids, with the cases and then their payouts locked (the order every writer follows)."""
        cur = await self.conn.execute(
            "SELECT case_id FROM complaints WHERE consumer_key = %s ORDER BY seq FOR UPDATE", (consumer_key,)
        )
        case_ids = [str(r[0]) for r in await cur.fetchall()]
        await self.conn.execute(
            "SELECT 1 FROM payouts WHERE case_id = ANY(%s) ORDER BY payout_id FOR UPDATE", (case_ids,)
        )
        return case_ids

    async def pending_payouts(self, case_ids: Sequence[str]) -> list[str]:
        cur = await self.conn.execute(
            "SELECT payout_id FROM payouts WHERE case_id = ANY(%s) AND status = 'PENDING' ORDER BY payout_id",
            (list(case_ids),),
        )
        return [str(r[0]) for r in await cur.fetchall()]

    async def shred(self, consumer_key: bytes, case_ids: Sequence[str], masked: str) -> dict[str, int]:
        """Drop the sealed numbers of her cases and payouts and erase `masked` (her mask) from their text,
        from the call log and from the free text of her journal rows.

        Returns the rows changed per table of SEALED_COLUMNS, under "calls" the call-log rows masked
        anew, and under "texts" the text fields rewritten.
        """
        ids = list(case_ids)
        counts: dict[str, int] = {}
        for table, column in SEALED_COLUMNS:
            cur = await self.conn.execute(
                f"UPDATE {table} SET {column} = NULL WHERE case_id = ANY(%s) AND {column} IS NOT NULL", (ids,)
            )
            counts[table] = cur.rowcount
        for table, column in MASK_COLUMNS:
            await self.conn.execute(
                f"UPDATE {table} SET {column} = %s WHERE case_id = ANY(%s) AND {column} <> %s", (ERASED, ids, ERASED)
            )
        table, column, key_column = CALL_MASK
        cur = await self.conn.execute(
            f"UPDATE {table} SET {column} = %s WHERE {key_column} = %s AND {column} <> %s",
            (ERASED, consumer_key, ERASED),
        )
        counts["calls"] = cur.rowcount
        counts["texts"] = 0
        for table, column in TEXT_COLUMNS:
            cur = await self.conn.execute(
                f"UPDATE {table} SET {column} = replace({column}, %s, %s) WHERE case_id = ANY(%s)"
                f" AND strpos({column}, %s) > 0",
                (masked, ERASED, ids, masked),
            )
            counts["texts"] += cur.rowcount
        for table, column in JOURNAL_TEXT_COLUMNS:
            cur = await self.conn.execute(
                f"UPDATE {table} SET {column} = replace({column}, %s, %s) WHERE consumer_key = %s"
                f" AND strpos({column}, %s) > 0",
                (masked, ERASED, consumer_key, masked),
            )
            counts["texts"] += cur.rowcount
        return counts

    async def record(
        self,
        request_id: str | None,
        at: datetime,
        actor: str,
        consumer_key: bytes,
        complaints: int,
        payouts: int,
        calls: int,
        texts: int,
    ) -> Erasure | None:
        """Append the erasure's row (no number in it: the keyed hash names whose it was); None when a
        concurrent erasure with the same request_id committed first (it waits for that one)."""
        cur = await self.conn.execute(
            "INSERT INTO erasures (request_id, at, actor, consumer_key, complaints_erased, payouts_erased,"
            " calls_masked, texts_rewritten) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING erasure_id",
            (request_id, at, actor, consumer_key, complaints, payouts, calls, texts),
        )
        row = await cur.fetchone()
        return Erasure(f"ER-{row[0]}", at, actor, complaints, payouts, calls, texts) if row else None

    async def by_request_id(self, request_id: str) -> tuple[Erasure, bytes] | None:
        """The erasure a request_id made, with whose keyed hash it was (to detect a reused id)."""
        cur = await self.conn.execute(
            "SELECT erasure_id, at, actor, complaints_erased, payouts_erased, calls_masked, texts_rewritten,"
            " consumer_key FROM erasures WHERE request_id = %s",
            (request_id,),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        return Erasure(f"ER-{row[0]}", row[1], row[2], row[3], row[4], row[5], row[6]), bytes(row[7])


class ErasureStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[ErasureWriter]:
        """One transaction in which the append-only triggers let masked text be rewritten (migration 0011).

        The setting is transaction-local: it ends with the commit or rollback, and no other connection sees it.
        """
        async with self.db.connection() as conn, conn.transaction():
            await conn.execute("SELECT set_config('dncgate.erasure', 'on', true)")
            yield ErasureWriter(conn)
