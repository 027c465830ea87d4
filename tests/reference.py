"""Slow, plain references that tests hold production code to; nothing in src/ uses them.

- `mask_at`: a preference schedule's mask at an instant (the Check scripts' Lua `classify` reads the
  same schedule in Redis);
- `lookup`: what Redis holds for one callee, one org and agent, read field by field (the Check scripts
  read it in one call);
- `cap_until`: when a callee at a frequency cap gets a slot again, from her counted calls' times (the
  Check scripts' Lua `cap_full` reads the same sorted sets);
- `is_overdue`: whether a case is overdue (`store/cases.py` asks PostgreSQL the same in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dncgate.domain.case import OPEN, Status
from dncgate.domain.registry import Consent, Schedule, epoch_us
from dncgate.store.hot import CAP_EXEMPT, ORG_LISTED, HotRegistry, NotLoaded, decode_schedule


def mask_at(schedule: Schedule, at: datetime) -> int:
    t = epoch_us(at)
    mask = schedule.mask
    for change_at, m in schedule.upcoming:
        if change_at > t:
            break
        mask = m
    return mask


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What Redis knows about one callee, for one org and agent (the org's mode is not in Redis)."""

    schedule: Schedule
    consents: tuple[Consent, ...]
    org_listed: bool = False  # on the org's own list (the consents it came after are not in Redis)


async def lookup(hot: HotRegistry, key: bytes, org_id: str, agent_id: str) -> Snapshot:
    """NotLoaded when Redis holds no registry of `hot`'s layout and pepper in the callee's shard."""
    pkey, pfield = hot.pref_location(key)
    ckey, org_field = hot.consent_location(key, org_id, "")
    _, agent_field = hot.consent_location(key, org_id, agent_id)
    _, list_field = hot.org_list_location(key, org_id)
    pipe = hot.client.pipeline(transaction=False)
    pipe.hget(pkey, pfield)
    pipe.hmget(ckey, [org_field, agent_field])
    pipe.get(hot.layout.readies[hot.layout.shard(key)])
    pipe.hget(ckey, list_field)
    raw, (org_exp, agent_exp), ready, listed = await pipe.execute()
    if ready != hot.ready_value:
        raise NotLoaded()
    consents = []
    for agent, exp in (("", org_exp), (agent_id, agent_exp)):
        if exp is not None:
            exempt = exp.endswith(CAP_EXEMPT)
            e = int(exp[:-1] if exempt else exp)
            consents.append(Consent(org_id, agent, datetime.fromtimestamp(e, UTC) if e else None, exempt))
    if listed not in (None, ORG_LISTED):
        raise ValueError(f"an org-list field holds {listed!r}")
    return Snapshot(decode_schedule(raw), tuple(consents), listed is not None)


DAY_US = 86_400_000_000


def cap_until(times: list[int], org_times: list[int], now_us: int, day: int, week: int, org_cap: int) -> int:
    """0 when a slot is free under every cap on (0: off), else the microsecond the last full window gets
    one back: a window holds the calls less than its span old, and is full at `cap` calls; then its
    slot frees up when the oldest call that keeps it full is a span old."""
    until = 0
    for ts, cap, span in ((times, day, DAY_US), (times, week, 7 * DAY_US), (org_times, org_cap, DAY_US)):
        inside = sorted(t for t in ts if t > now_us - span)
        if cap and len(inside) >= cap:
            until = max(until, inside[len(inside) - cap] + span)
    return until


def is_overdue(status: Status, first_response_due: datetime, resolution_due: datetime, now: datetime) -> bool:
    """Still open past its resolution time, or not yet answered past its first-response time."""
    if status not in OPEN:
        return False
    return resolution_due < now or (status is Status.RECEIVED and first_response_due < now)
