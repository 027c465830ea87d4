"""One Redis round trip per Check: a Lua script classifies the stored state and appends the call event.

The decision itself stays in the pure domain: before the call, the gateway asks `domain.decide` for the
verdict in each of the six cases the stored state can be in (callee not covered / covered with a consent
/ covered without one, times enforce / monitor) and hands the six outcomes to the script. The script only
reads what `HotRegistry.parse_lookup` reads, sorts it into one of those cases exactly as the Python fold
does (schedule at `now`, category bit, consent expiry, org mode), appends the event with that case's
outcome and returns the case index. A property test holds the two classifications equal.

All keys must live on one Redis node (a single primary, or one behind Sentinel); Redis Cluster would
need the keys co-located, which this layout does not do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.exceptions

from dncgate.domain.decision import Verdict
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.hot import CALLS, MODES, READY, HotRegistry

NOT_LOADED = -1

# Case index = 2 * case + monitor, case 0: not covered, 1: covered + consent, 2: covered, no consent.
CASES = 6

_DECISIONS = (Decision.ALLOW, Decision.BLOCK)
_REASONS = tuple(Reason)
SEPARATOR = b"\x1f"  # between the event's fields and values; ids are refused if they contain it

_SCRIPT = (
    "local DECISIONS = {"
    + ", ".join(f"'{d.value}'" for d in _DECISIONS)
    + "}\nlocal REASONS = {"
    + ", ".join(f"'{r.value}'" for r in _REASONS)
    + "}\n"
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local now_us = tonumber(ARGV[6])
local mask = 0
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if raw then
  local first = true
  for part in string.gmatch(raw, '[^|]+') do
    if first then
      mask = tonumber(part)
      first = false
    else
      local at, m = string.match(part, '^(%d+):(%d+)$')
      if tonumber(at) > now_us then break end
      mask = tonumber(m)
    end
  end
end
local bitv = tonumber(ARGV[7])
local covered
if bitv == 0 then covered = mask ~= 0 else covered = bit.band(mask, bitv) ~= 0 end
local case = 0
if covered then
  case = 2
  local now_s = now_us / 1000000
  local exps = redis.call('HMGET', KEYS[3], ARGV[3], ARGV[4])
  for i = 1, 2 do
    local e = exps[i]
    if e then
      local x = tonumber(e)
      if x == 0 or now_s < x then case = 1 end
    end
  end
end
local mode = redis.call('HGET', KEYS[4], ARGV[5])
local monitor
if mode then monitor = (mode == 'MONITOR') else monitor = (ARGV[8] == '1') end
local idx = case * 2
if monitor then idx = idx + 1 end
local fields = {}
local ctx = ARGV[10]
local start = 1
while true do
  local sep = string.find(ctx, '\\031', start, true)
  if not sep then
    fields[#fields + 1] = string.sub(ctx, start)
    break
  end
  fields[#fields + 1] = string.sub(ctx, start, sep - 1)
  start = sep + 1
end
local code = string.byte(ARGV[9], idx + 1) - 65
fields[#fields + 1] = 'dec'
fields[#fields + 1] = DECISIONS[math.floor(code / 12) + 1]
fields[#fields + 1] = 'rsn'
fields[#fields + 1] = REASONS[math.floor(code / 2) % 6 + 1]
fields[#fields + 1] = 'vio'
fields[#fields + 1] = tostring(code % 2)
redis.call('XADD', KEYS[5], '*', unpack(fields))
return idx
"""
)


def encode_outcomes(verdicts: Sequence[Verdict]) -> bytes:
    """One letter per case: A + 12 * decision + 2 * reason + violation (decoded by the script)."""
    return bytes(
        65 + 12 * _DECISIONS.index(v.decision) + 2 * _REASONS.index(v.reason) + int(v.violation) for v in verdicts
    )


class CheckScript:
    """Builds the classify-and-log script call for one callee."""

    def __init__(self, hot: HotRegistry) -> None:
        self.hot = hot
        self.sha = hashlib.sha1(_SCRIPT.encode()).hexdigest()

    async def load(self) -> None:
        """Load the script into Redis (after a restart or SCRIPT FLUSH it is gone: see is_noscript)."""
        await self.hot.client.script_load(_SCRIPT)

    def command(
        self,
        key: bytes,
        org_id: str,
        agent_id: str,
        category: Category,
        now_us: int,
        default_monitor: bool,
        outcomes: Sequence[Verdict],
        event_fields: Sequence[bytes],
    ) -> tuple[Any, ...]:
        """The EVALSHA for one callee: `outcomes[i]` is the verdict of case i, `event_fields` the
        event's other field/value pairs."""
        pkey, pfield = self.hot.pref_location(key)
        ckey, org_field = self.hot.consent_location(key, org_id, "")
        _, agent_field = self.hot.consent_location(key, org_id, agent_id)
        bit = 0 if category is Category.UNSPECIFIED else 1 << category
        return (
            "EVALSHA",
            self.sha,
            5,
            READY,
            pkey,
            ckey,
            MODES,
            CALLS,
            self.hot.ready_value,
            pfield,
            org_field,
            agent_field,
            org_id,
            now_us,
            bit,
            b"1" if default_monitor else b"0",
            encode_outcomes(outcomes),
            SEPARATOR.join(event_fields),
        )


def is_noscript(exc: BaseException) -> bool:
    return isinstance(exc, redis.exceptions.NoScriptError) or (
        isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith("NOSCRIPT")
    )
