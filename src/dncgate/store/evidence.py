"""The calls a complaint is judged by: PostgreSQL's call_log plus events still waiting in the Redis stream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from dncgate.domain.calls import CallEvent
from dncgate.domain.registry import epoch_us
from dncgate.domain.reports import OrgViolations
from dncgate.domain.types import Category, Decision, Reason
from dncgate.domain.verification import CallerVerdict, LoggedCall
from dncgate.store.calls import decode_event
from dncgate.store.hot import CALLS
from dncgate.store.pg import Database
from dncgate.store.recorder import STREAM_CLOCK_PAD, stream_events

_PAGE = 1000
_VIOLATING = "(l.violation OR (l.decision = 'BLOCK' AND o.dialled IS TRUE))"
# The findings ReportViolations counts by the calls they rest on.
_BY_CALLS = "f.verdict IN ('VERIFIED', 'RULE_VIOLATED')"


async def _org_events(client: aioredis.Redis, org_id: str, after: datetime, before: datetime) -> list[CallEvent]:
    """An org's events still in the stream with after <= at < before, page by page."""
    start = b"%d" % max(epoch_us(after - STREAM_CLOCK_PAD) // 1000, 0)
    end = b"%d" % (epoch_us(before + STREAM_CLOCK_PAD) // 1000)
    out: list[CallEvent] = []
    while True:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(  # type: ignore[assignment]
            CALLS, min=start, max=end, count=_PAGE
        )
        for _, fields in entries:
            if fields.get(b"org") != org_id.encode():
                continue
            try:
                event = decode_event(fields)
            except (KeyError, ValueError):
                continue  # malformed: the recorder dead-letters it
            if after <= event.at < before:
                out.append(event)
        if len(entries) < _PAGE:
            return out
        start = b"(" + entries[-1][0]


def _logged(e: CallEvent, dialled: bool | None) -> LoggedCall:
    return LoggedCall(
        e.call_id, e.at, e.caller_e164, e.org_id, e.agent_id, e.category, e.decision, dialled, e.reason, e.violation
    )


class CallEvidence:
    def __init__(self, db: Database, client: aioredis.Redis) -> None:
        self.db = db
        self.client = client

    async def calls_to(
        self, callee_key: bytes, callers: Sequence[str], after: datetime, before: datetime
    ) -> list[LoggedCall]:
        """Every Check from these callers to this consumer in the window, drained or not, once each.

        The stream is read before PostgreSQL: the recorder trims only what it has committed, so an event
        gone from the stream by then is already in call_log (see store.recorder.stream_events).
        """
        wanted = set(callers)
        pending = [
            e for e in await stream_events(self.client, callee_key.hex(), after, before) if e.caller_e164 in wanted
        ]
        calls: dict[str, LoggedCall] = {}
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT l.call_id, l.at, l.caller_e164, l.org_id, l.agent_id, l.category, l.decision, o.dialled,"
                " l.reason, l.violation FROM call_log l LEFT JOIN call_outcome o USING (call_id)"
                " WHERE l.callee_key = %s AND l.caller_e164 = ANY(%s) AND l.at BETWEEN %s AND %s",
                (callee_key, sorted(wanted), after, before),
            )
            for r in await cur.fetchall():
                calls[r[0]] = LoggedCall(
                    r[0], r[1], r[2], r[3], r[4], Category(r[5]), Decision(r[6]), r[7], Reason(r[8]), r[9]
                )
            outcomes = await _outcomes(conn, [e.call_id for e in pending if e.call_id not in calls])
        for e in pending:
            if e.call_id not in calls:
                calls[e.call_id] = _logged(e, outcomes.get(e.call_id))
        return sorted(calls.values(), key=lambda c: (c.at, c.call_id))

    async def org_violations(self, org_id: str, after: datetime, before: datetime) -> OrgViolations:
        """Violating calls per agent and logged reason, and (agent, case, finding) for the VERIFIED and
        the RULE_VIOLATED findings resting on them.

        A violating call is one flagged in monitor mode, or a blocked call the dialer reported dialled.
        The window is half-open: after <= at < before.
        """
        pending = await _org_events(self.client, org_id, after, before)
        calls: dict[str, dict[Reason, int]] = {}
        findings: dict[CallerVerdict, set[tuple[str, str, int]]] = {
            CallerVerdict.VERIFIED: set(),
            CallerVerdict.RULE_VIOLATED: set(),
        }
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT l.agent_id, l.reason, count(*) FROM call_log l LEFT JOIN call_outcome o USING (call_id)"
                f" WHERE l.org_id = %s AND l.at >= %s AND l.at < %s AND {_VIOLATING} GROUP BY l.agent_id, l.reason",
                (org_id, after, before),
            )
            for agent, reason, n in await cur.fetchall():
                calls.setdefault(agent, {})[Reason(reason)] = int(n)
            cur = await conn.execute(
                "SELECT DISTINCT f.verdict, l.agent_id, f.case_id, f.position FROM complaint_findings f"
                " CROSS JOIN LATERAL unnest(f.call_ids) AS c(call_id) JOIN call_log l ON l.call_id = c.call_id"
                f" WHERE {_BY_CALLS} AND l.org_id = %s AND l.at >= %s AND l.at < %s",
                (org_id, after, before),
            )
            for verdict, agent, case_id, position in await cur.fetchall():
                findings[CallerVerdict(verdict)].add((agent, case_id, int(position)))
            ids = [e.call_id for e in pending]
            cur = await conn.execute("SELECT call_id FROM call_log WHERE call_id = ANY(%s)", (ids,))
            drained = {r[0] for r in await cur.fetchall()}
            undrained = {e.call_id: e for e in pending if e.call_id not in drained}
            outcomes = await _outcomes(conn, list(undrained))
            cur = await conn.execute(
                "SELECT f.verdict, f.case_id, f.position, f.call_ids FROM complaint_findings f"
                f" WHERE {_BY_CALLS} AND f.call_ids && %s::text[]",
                (list(undrained),),
            )
            for verdict, case_id, position, call_ids in await cur.fetchall():
                for call_id in call_ids:
                    if call_id in undrained:
                        findings[CallerVerdict(verdict)].add((undrained[call_id].agent_id, case_id, int(position)))
        for e in undrained.values():
            if e.violation or (e.decision is Decision.BLOCK and outcomes.get(e.call_id) is True):
                mine = calls.setdefault(e.agent_id, {})
                mine[e.reason] = mine.get(e.reason, 0) + 1
        return OrgViolations(calls, findings[CallerVerdict.VERIFIED], findings[CallerVerdict.RULE_VIOLATED])

    async def outside_gateway(self, org_id: str, after: datetime, before: datetime) -> set[tuple[str, str, int]]:
        """(agent, case, finding) for the org's CALLED_OUTSIDE_GATEWAY findings whose complaint's time
        (its window's end, which the line was judged at) is in [after, before)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                "SELECT f.agent_id, f.case_id, f.position FROM complaint_findings f"
                " JOIN complaints c USING (case_id)"
                " WHERE f.verdict = 'CALLED_OUTSIDE_GATEWAY' AND f.org_id = %s"
                " AND c.occurred_before >= %s AND c.occurred_before < %s",
                (org_id, after, before),
            )
            return {(r[0], r[1], int(r[2])) for r in await cur.fetchall()}


async def _outcomes(conn: Any, call_ids: Sequence[str]) -> dict[str, bool]:
    """call_id → dialled, for the calls a dialer reported on."""
    if not call_ids:
        return {}
    cur = await conn.execute("SELECT call_id, dialled FROM call_outcome WHERE call_id = ANY(%s)", (list(call_ids),))
    return {r[0]: bool(r[1]) for r in await cur.fetchall()}
