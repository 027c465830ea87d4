"""Per-principal quotas in Redis, shared by every replica: numbers scrubbed per sliding hour, open streams.

Each quota is one key per principal, changed only by a Lua script, so two replicas counting at once
cannot both take the last of it:

* `dnc:quota:scrub:<principal id>`: a hash of time buckets (the bucket's number, `now // width`) to the
  numbers counted in it. The script drops the buckets past the window, sums the rest, and either adds
  the batch to the current bucket or, if it would pass the limit, counts nothing and answers how long
  until enough of the oldest buckets age out. The key expires a window after its last count.
* `dnc:quota:lookup:<case id>`: the same for a consumer's lookups of one case (GetComplaintStatus).
* `dnc:quota:streams:<principal id>`: a sorted set of open stream ids, each scored by its lease's
  expiry (ms since the epoch). A lease is renewed by the process holding the stream; one that is not
  (its process died) has expired and is dropped by the next opening, so it stops counting within a
  lease. The key expires a lease after its last opening or renewal.

Times are the callers' clocks, in milliseconds (replicas are assumed NTP-synchronised: a skew of a
few seconds moves a bucket boundary or a lease expiry by as much).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import redis.asyncio as aioredis

from dncgate.store.errors import translated

SCRUB_PREFIX = "dnc:quota:scrub:"
STREAMS_PREFIX = "dnc:quota:streams:"
# A consumer's own lookups of a case (GetComplaintStatus), per case id: the same sliding-window script.
LOOKUP_PREFIX = "dnc:quota:lookup:"
_WINDOW_PREFIXES = {"scrub": SCRUB_PREFIX, "lookup": LOOKUP_PREFIX}

# KEYS[1] the principal's bucket hash; ARGV: now (ms), numbers asked, limit, bucket width (ms), buckets
# in the window. Returns {1, numbers counted in the window now} or {0, ms until the batch would fit}.
_TAKE = """
local now, n, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local width, buckets = tonumber(ARGV[4]), tonumber(ARGV[5])
local current = math.floor(now / width)
local oldest = current - buckets + 1
local raw = redis.call('HGETALL', KEYS[1])
local used, live, counts = 0, {}, {}
for i = 1, #raw, 2 do
  local b = tonumber(raw[i])
  if b < oldest then
    redis.call('HDEL', KEYS[1], raw[i])
  else
    local c = tonumber(raw[i + 1])
    used = used + c
    counts[b] = (counts[b] or 0) + c
    live[#live + 1] = b
  end
end
if used + n > limit then
  table.sort(live)
  local room = limit - used
  for _, b in ipairs(live) do
    room = room + counts[b]
    if room >= n then return {0, (b + buckets) * width - now} end
  end
  return {0, buckets * width}
end
redis.call('HINCRBY', KEYS[1], string.format('%d', current), n)
redis.call('PEXPIRE', KEYS[1], buckets * width)
return {1, used + n}
"""

# KEYS[1] the principal's sorted set of streams; ARGV: now (ms), lease (ms), cap, stream id.
# Returns {1, streams open with this one} or {0, ms until the soonest lease now held runs out}.
_OPEN = """
local now, lease, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local open = redis.call('ZCARD', KEYS[1])
if open >= cap then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(tonumber(first[2]) - now, 0)}
end
redis.call('ZADD', KEYS[1], string.format('%d', now + lease), ARGV[4])
redis.call('PEXPIRE', KEYS[1], lease)
return {1, open + 1}
"""


def _answer(reply: list[int]) -> int | None:
    return None if int(reply[0]) == 1 else int(reply[1])


class RedisQuotas:
    """The quota counts of `service.quotas.QuotaCounts`; an outage raises StoreUnavailable."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._take = client.register_script(_TAKE)
        self._open = client.register_script(_OPEN)

    @translated
    async def take(
        self, subject: str, n: int, limit: int, now_ms: int, width_ms: int, buckets: int, quota: str = "scrub"
    ) -> int | None:
        """Count `n` for `subject` (a principal id for `scrub`, a case id for `lookup`) if the window's
        count stays within `limit`: None; else nothing is counted and the answer is the ms until enough
        of the window ages out."""
        key = _WINDOW_PREFIXES[quota] + subject
        reply = await self._take(keys=[key], args=[now_ms, n, limit, width_ms, buckets])
        return _answer(reply)

    @translated
    async def open_stream(self, principal_id: str, stream_id: str, cap: int, now_ms: int, lease_ms: int) -> int | None:
        """Hold a lease on one of the principal's `cap` streams until now + `lease_ms`: None; else (all
        `cap` held by unexpired leases) nothing is held and the answer is the ms until the soonest runs out."""
        reply = await self._open(keys=[STREAMS_PREFIX + principal_id], args=[now_ms, lease_ms, cap, stream_id])
        return _answer(reply)

    @translated
    async def renew_streams(self, streams: Mapping[str, Collection[str]], now_ms: int, lease_ms: int) -> None:
        """Move the leases of these open streams (principal id -> stream ids) to now + `lease_ms`, in one
        round trip. A lease already dropped (expired, or its stream closed meanwhile) is not brought back."""
        pipe = self.client.pipeline(transaction=False)
        expiry = now_ms + lease_ms
        for principal_id, ids in streams.items():
            if ids:
                key = STREAMS_PREFIX + principal_id
                pipe.zadd(key, dict.fromkeys(ids, expiry), xx=True)
                pipe.pexpire(key, lease_ms)
        await pipe.execute()

    @translated
    async def close_stream(self, principal_id: str, stream_id: str) -> None:
        await self.client.zrem(STREAMS_PREFIX + principal_id, stream_id)

    @translated
    async def streams_open(self, principal_id: str, now_ms: int) -> int:
        """The principal's streams whose lease has not run out (for tests and operators)."""
        return int(await self.client.zcount(STREAMS_PREFIX + principal_id, f"({now_ms}", "+inf"))
