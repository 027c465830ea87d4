"""The partition maintenance loop: months ahead created, months past retention dropped.

Runs beside the recorder (roles `recorder` and `all`), on start and then every `interval_s` (a day);
`dncgate maintenance` runs it once. Its port, `Partitions`, is store/partitions.py's `PartitionStore`.
Replicas may run it at once: the store serializes their changes, and each is idempotent.

A month past retention is still kept while a complaint may need it (`Partitions.needed`: a case not
closed, or active within the retention, whose window touches the month): a payout or an open case never
loses the calls it rests on. Each drop and each hold is logged with the table and month, never a number.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import structlog

from dncgate.domain import retention as r

log = structlog.get_logger("dncgate.maintenance")

AHEAD_MONTHS = 3
DAY_S = 86_400.0
RETRY_S = 300.0  # after a failed run (PostgreSQL away, a lock not had in time)


class Partitions(Protocol):
    tables: tuple[str, ...]

    async def months(self, table: str) -> list[date]: ...

    async def ensure(self, table: str, months: Sequence[date]) -> tuple[list[date], int]: ...

    async def needed(self, table: str, month: date, horizon: datetime) -> bool: ...

    async def drop(self, table: str, month: date) -> int | None: ...


@dataclass(slots=True)
class MaintenanceReport:
    created: list[tuple[str, date]] = field(default_factory=list)
    dropped: list[tuple[str, date]] = field(default_factory=list)
    held: list[tuple[str, date]] = field(default_factory=list)
    rehomed: int = 0  # rows moved out of a default partition


class PartitionMaintenance:
    def __init__(
        self,
        partitions: Partitions,
        retention_days: int,
        *,
        ahead: int = AHEAD_MONTHS,
        interval_s: float = DAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partitions = partitions
        self.retention_days = retention_days
        self.ahead = ahead
        self.interval_s = interval_s
        self.clock = clock

    async def run_once(self) -> MaintenanceReport:
        """One pass over every table: create what is ahead (rehoming stray rows), then drop what expired."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        report = MaintenanceReport()
        limit = r.horizon(now, self.retention_days)
        for table in self.partitions.tables:
            created, moved = await self.partitions.ensure(table, r.months_ahead(now, self.ahead))
            for month in created:
                log.info("partition_created", table=table, month=month.isoformat())
            if moved:
                log.warning("partition_rows_rehomed", table=table, rows=moved)
            report.created += [(table, m) for m in created]
            report.rehomed += moved
            if limit is None:
                continue
            for month in r.expired(await self.partitions.months(table), now, self.retention_days):
                if await self.partitions.needed(table, month, limit):
                    log.warning("partition_held", table=table, month=month.isoformat(), why="a complaint needs it")
                    report.held.append((table, month))
                    continue
                rows = await self.partitions.drop(table, month)
                if rows is not None:
                    log.info(
                        "partition_dropped",
                        table=table,
                        month=month.isoformat(),
                        rows_estimate=rows,
                        retention_days=self.retention_days,
                    )
                    report.dropped.append((table, month))
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Maintain on start and every `interval_s` until `stop`; a failed pass is tried again sooner."""
        log.info("maintenance_loop_started", retention_days=self.retention_days, ahead_months=self.ahead)
        while not stop.is_set():
            wait = self.interval_s
            try:
                await self.run_once()
            except Exception as exc:  # an outage or a lock not had in time: next time
                log.warning("maintenance_failed", error=f"{type(exc).__name__}: {exc}"[:500])
                wait = min(RETRY_S, self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        log.info("maintenance_loop_stopped")
