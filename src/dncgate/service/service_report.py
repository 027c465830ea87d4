"""The hotline's service report: how fast cases were answered, resolved, kept informed, revisited and paid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dncgate.domain.case import Deadlines
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.reports import Period, ServiceReport, service_report
from dncgate.service.compensation_ports import ServiceFigureSource


class ReportDesk:
    def __init__(
        self,
        source: ServiceFigureSource,
        deadlines: Deadlines,
        update_hours: int,
        zone: str,
        now: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.deadlines = deadlines
        self.update_hours = update_hours
        self.zone = zone
        self.now = now

    @property
    def hours(self) -> tuple[int, int, int]:
        """The first-response, resolution and update hours the figures are counted against."""
        return (self.deadlines.first_response_hours, self.deadlines.resolution_hours, self.update_hours)

    async def service_report(
        self, after: datetime | None, before: datetime | None, period: str, assignee: str = ""
    ) -> ServiceReport:
        """The figures of the cases filed in [after, before) (unbounded where unset, as the fund
        summary), per period of filing (default month, in the hotline's zone) and assignee, with a total
        per period and over the range; with `assignee`, that operator's cases only."""
        try:
            p = Period((period or "month").strip().lower())
        except ValueError:
            raise InvalidArgument("period", "expected day, week or month") from None
        if after is not None and before is not None and after > before:
            raise InvalidArgument("from", "is later than the end of the range")
        name = assignee.strip()
        now = self.now()
        rows = await self.source.service_figures(p, self.zone, after, before, name or None, now, self.hours)
        return service_report(p, rows, now)
