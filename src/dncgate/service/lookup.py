"""A consumer's own lookup of her case (GetComplaintStatus): by case number and her phone number.

The consumer app's backend asks with a token of role `consumer`, on her behalf, with the case number
she was told and the number she calls from. The answer is given only when that number's keyed hash is
the case's; a wrong number and an unknown case id are one and the same NOT_FOUND, with one message
that names neither, so a lookup can't tell which of the two was wrong.

Guessing a case's number is held back by a limit per case id, shared by every replica through Redis:
at most `per_minute` lookups of one case id in any sliding minute, counted before anything is read
(a lookup of an unknown id counts too). Past it: RESOURCE_EXHAUSTED with the seconds to wait. When
Redis can't be asked the lookup is refused (UNAVAILABLE): never an unlimited pass.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from dncgate import phone
from dncgate.domain.case import Case, Payout
from dncgate.domain.errors import InvalidArgument, NotFound, ResourceExhausted
from dncgate.service.compensation_ports import Cases
from dncgate.service.quotas import QuotaCounts

log = structlog.get_logger("dncgate.compensation")

LOOKUP = "lookup"  # the quota's name in logs and metrics
WINDOW_S = 60
BUCKET_S = 5  # the minute slides in steps of this
# The one answer for a wrong pair and an unknown case: it names neither.
NO_SUCH_CASE = "no case with this case number and phone number"


@dataclass(frozen=True, slots=True)
class CaseProgress:
    """What the consumer is shown of her case (the servicer keeps to the consumer-visible parts)."""

    case: Case
    payouts: tuple[Payout, ...]


class StatusLookup:
    """GetComplaintStatus; `refused()` is told of each refusal by the limit (the metrics counter)."""

    def __init__(
        self,
        cases_store: Cases,
        counts: QuotaCounts,
        keyer: phone.NumberKeyer,
        *,
        per_minute: int,
        region: str,
        clock: Callable[[], float] = time.time,
        refused: Callable[[str], None] = lambda quota: None,
    ) -> None:
        self.cases = cases_store
        self.counts = counts
        self.keyer = keyer
        self.per_minute = per_minute
        self.region = region
        self.clock = clock
        self._refused = refused

    async def status(self, case_id: str, consumer_number: str) -> CaseProgress:
        """The case, if `consumer_number` is its consumer's; lengths and characters are held to the
        request limits (api/limits.py) before this is called."""
        case_id = case_id.strip()
        if not case_id:
            raise InvalidArgument("case_id", "is required")
        if not consumer_number.strip():
            raise InvalidArgument("consumer_number", "is required")
        await self._take(case_id)
        parsed = phone.try_parse(consumer_number, self.region)
        # One query either way, and the keyed hash compared in constant time, so an unknown case and a
        # wrong number take the same time too; an unparsable number simply matches nothing.
        stored = await self.cases.consumer_key(case_id)
        key = self.keyer.digest(parsed.e164) if parsed is not None else b""
        found = await self.cases.with_payouts(case_id) if hmac.compare_digest(stored or b"-", key) else None
        if found is None:
            log.info("complaint_status_not_found", case_id=case_id)
            raise NotFound(NO_SUCH_CASE)
        case, payouts = found
        return CaseProgress(case, tuple(payouts))

    async def _take(self, case_id: str) -> None:
        limit = self.per_minute
        if not limit:
            return
        now_ms = int(self.clock() * 1000)
        wait_ms = await self.counts.take(case_id, 1, limit, now_ms, BUCKET_S * 1000, WINDOW_S // BUCKET_S, LOOKUP)
        if wait_ms is not None:
            log.info("quota_exceeded", quota=LOOKUP, case_id=case_id, limit=limit, retry_after_s=wait_ms / 1000)
            self._refused(LOOKUP)
            raise ResourceExhausted(
                f"this case has been looked up {limit} times in the last minute, the most it may: "
                f"retry in {max(1, -(-wait_ms // 1000))} s",
                wait_ms / 1000,
            )
