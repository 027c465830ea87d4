"""Slow, plain references that tests hold production code to; nothing in src/ uses them.

- `mask_at`: a preference schedule's mask at an instant (the Check scripts' Lua `classify` reads the
  same schedule in Redis);
- `lookup`: what Redis holds for one callee, one org and agent, read field by field (the Check scripts
  read it in one call);
- `is_overdue`: whether a case is overdue (`store/cases.py` asks PostgreSQL the same in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dncgate.domain.case import OPEN, Status
from dncgate.domain.registry import Consent, Schedule, epoch_us
from dncgate.domain.types import Mode
from dncgate.store.hot import CAP_EXEMPT, MODES, ORG_LISTED, READY, HotRegistry, NotLoaded, decode_schedule


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
    """What Redis knows about one callee, for one org and agent."""

    schedule: Schedule
    consents: tuple[Consent, ...]
    mode: Mode | None
    org_listed: bool = False  # on the org's own list (the consents it came after are not in Redis)


async def lookup(hot: HotRegistry, key: bytes, org_id: str, agent_id: str) -> Snapshot:
    """NotLoaded when Redis holds no registry of `hot`'s layout and pepper."""
    pkey, pfield = hot.pref_location(key)
    ckey, org_field = hot.consent_location(key, org_id, "")
    _, agent_field = hot.consent_location(key, org_id, agent_id)
    _, list_field = hot.org_list_location(key, org_id)
    pipe = hot.client.pipeline(transaction=False)
    pipe.hget(pkey, pfield)
    pipe.hmget(ckey, [org_field, agent_field])
    pipe.hget(MODES, org_id)
    pipe.get(READY)
    pipe.hget(ckey, list_field)
    raw, (org_exp, agent_exp), mode, ready, listed = await pipe.execute()
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
    return Snapshot(decode_schedule(raw), tuple(consents), Mode(mode.decode()) if mode else None, listed is not None)


def is_overdue(status: Status, first_response_due: datetime, resolution_due: datetime, now: datetime) -> bool:
    """Still open past its resolution time, or not yet answered past its first-response time."""
    if status not in OPEN:
        return False
    return resolution_due < now or (status is Status.RECEIVED and first_response_due < now)
