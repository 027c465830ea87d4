"""What the caller-line use cases need of storage (implemented by store.lines.CallerLineStore)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dncgate.domain.lines import CallerLine


class CallerLineJournal(Protocol):
    async def register(
        self,
        caller_e164: str,
        org_id: str,
        agent_id: str,
        valid_from: datetime,
        valid_to: datetime | None,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> CallerLine: ...

    async def lines_of(self, callers: Sequence[str]) -> list[CallerLine]: ...

    async def page(
        self, org_id: str, caller_e164: str, at: datetime | None, after_seq: int | None, limit: int
    ) -> tuple[list[CallerLine], list[CallerLine]]: ...
