"""Caller-line use cases: register which org and agent a company line belongs to, and list the journal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from dncgate import phone
from dncgate.domain import access
from dncgate.domain import lines as rules
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.lines import CallerLine
from dncgate.service.checks import MAX_NUMBER_LENGTH
from dncgate.service.lines_ports import CallerLineJournal
from dncgate.service.paging import decode_token, encode_token, page_size

log = structlog.get_logger("dncgate.lines")


@dataclass(frozen=True, slots=True)
class LineEntry:
    """A journal row and whether it still counts (False: a later row of the same owner superseded it)."""

    line: CallerLine
    live: bool


class CallerLineService:
    def __init__(self, journal: CallerLineJournal, *, region: str, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.region = region
        self.clock = clock

    def _number(self, text: str, required: bool = True) -> str:
        """A company line as E.164 ("" when optional and not given)."""
        if not text.strip():
            if required:
                raise InvalidArgument("caller_number", "is required")
            return ""
        if len(text) > MAX_NUMBER_LENGTH:
            raise InvalidArgument("caller_number", f"is longer than {MAX_NUMBER_LENGTH} characters")
        parsed = phone.try_parse(text, self.region)
        if parsed is None:
            raise InvalidArgument("caller_number", "is not a valid phone number")
        return parsed.e164

    async def register(
        self,
        caller_number: str,
        org_id: str,
        agent_id: str,
        valid_from: datetime | None,
        valid_to: datetime | None,
        request_id: str = "",
        *,
        actor: str,
    ) -> CallerLine:
        """Journal that `caller_number` is (org, agent)'s line for [valid_from (default now), valid_to);
        FAILED_PRECONDITION if that overlaps another owner's live assignment (domain.lines)."""
        access.actor(actor)
        e164 = self._number(caller_number)
        if not org_id.strip():
            raise InvalidArgument("org_id", "is required")
        start = valid_from or datetime.fromtimestamp(self.clock(), UTC)
        rules.check_interval(start, valid_to)
        line = await self.journal.register(
            e164, org_id.strip(), agent_id.strip(), start, valid_to, request_id.strip() or None, recorded_by=actor
        )
        log.info("caller_line_registered", caller=e164, org=line.org_id, agent=line.agent_id, seq=line.seq)
        return line

    async def list_lines(
        self, org_id: str, caller_number: str, at: datetime | None, size: int, token: str
    ) -> tuple[list[LineEntry], str]:
        """A page of the journal, oldest first, filtered by org and line; with `at`, only the live
        assignments in force then (whose line each number was at `at`)."""
        e164 = self._number(caller_number, required=False)
        limit = page_size(size)
        rows, every = await self.journal.page(org_id.strip(), e164, at, decode_token(token, "l"), limit)
        live = {r.seq for r in rules.live(every)}
        entries = [LineEntry(r, r.seq in live) for r in rows if at is None or r.seq in live]
        more = rows[-1].seq if len(rows) == limit else None
        return entries, encode_token("l", more)
