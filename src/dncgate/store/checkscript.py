"""One Redis round trip per Check or list scrub: a Lua script classifies the stored state and logs the call.

The decision itself stays in the pure domain: before the call, the gateway asks
`domain.decision.verdicts_by_case` for the verdict in each of the sixteen cases the stored state can be in
(callee not covered / covered with a consent / not covered with a consent / covered without one / not
covered but on the calling org's own list, the first three also at a frequency cap, times enforce /
monitor), each
answered by `decide_case`, the rule `decide` applies. The script only reads what
`tests/reference.py lookup` reads, sorts each callee into one of those cases (`classify`, one Lua
function shared by both scripts, as the Python fold does: schedule at `now`, category bit, consent
expiry, org-list field, org mode), appends its event with that case's outcome and returns the case indices. A property
test holds the two classifications equal.

A single Check uses the script for one callee (`CheckScript.command`). A list scrub uses the batch
form (`CheckChunk`): one call classifies and logs a chunk of callees, with what they share (ready value,
time, default mode, and per group of callees with the same caller, org, agent, campaign, category and
verdicts: those and the sixteen outcomes) sent once, then six short values per callee. Both sort a callee
the same way; the property test holds each to the fold.

All keys must live on one Redis node (a single primary, or one behind Sentinel); Redis Cluster would
need the keys co-located, which this layout does not do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.exceptions

from dncgate.domain.decision import CAPPED_STATE_OFFSET, Verdict
from dncgate.domain.decision import CASES as DOMAIN_CASES
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.hot import (
    CALLS,
    CAP_PREFIX,
    MODES,
    READY,
    HotRegistry,
    cap_key,
    consent_scope,
    org_cap_key,
    org_list_scope,
)

NOT_LOADED = -1
# The expected `dnc:ready` value while the registry is held: never stored, so nothing matches it.
HELD = b"held: not caught up with the journal"

# Case index = 2 * case + monitor, case 0: not covered, no consent, 1: covered + consent, 2: not covered
# + consent, 3: covered, no consent, 4: not covered, on the org's list, no consent, 5 to 7: cases 0 to 2
# at a frequency cap (`domain.decision.CASES`).
CASES = len(DOMAIN_CASES)
assert CASES <= 26, "the batch script returns each callee's case index as one letter"
DAY_US = 86_400_000_000
WEEK_US = 7 * DAY_US

# Callees per script call. The script blocks Redis while it runs, so a live Check arriving meanwhile
# waits for it. Measured on the benchmark machine (2 cores, Redis 7.0, INFO commandstats and SLOWLOG):
# ~7 us a callee (HGET, HMGET when covered, XADD), i.e. ~0.7 ms for 100, ~1.4 ms for 200, ~2.9 ms for
# 400; below ~100 the fixed cost per call starts to show (8 us a callee at 50). A chunk's request is
# ~37 KB, more than Redis reads from one client at a time (16 KB), so Redis serves other clients
# between the chunks of one batch. Single Checks from another process while 1,000-number scrubs ran
# flat out: p99 3-6 ms with chunks of 100 to 200 (as noisy as that), 10-14 ms with one call per batch.
CHUNK = 200

# How both scripts sort one callee into a registry state (`domain.decision.CASES`: 0 not covered with
# no consent, 1 covered with a consent in force, 2 not covered with one, 3 covered without one, 4 not
# covered but on the org's list with no consent), as `tests/reference.py lookup` reads the same fields
# and the Python fold judges them: the
# preference's schedule at `now_us` (its mask, then each "at:mask" step already in effect), the call
# category's bit (0: any registration covers), then, in one HMGET of the consent hash, the org's and
# the agent's consent expiry (0: none; in force while now < expiry) and the org-list field (present:
# on the list; the consents it came after are gone from Redis, so one still there came later and wins).
# Its second result: whether a consent in force is exempt from the frequency caps (its value ends in
# `hot.CAP_EXEMPT`): then the call is neither held to the caps nor counted.
# The HMGET is made for every valid callee, covered or not: the org list and opt-in bind callees
# without a do-not-disturb too. States 0 and 2 differ only under opt-in (the verdicts say so), so the
# split costs an org without it nothing but two letters more of outcomes.
_CLASSIFY = """
local function classify(pkey, field, ckey, org_field, agent_field, list_field, bitv, now_us)
  local mask = 0
  local raw = redis.call('HGET', pkey, field)
  if raw then
    local head = true
    for part in string.gmatch(raw, '[^|]+') do
      if head then
        mask = tonumber(part)
        head = false
      else
        local at, m = string.match(part, '^(%d+):(%d+)$')
        if tonumber(at) > now_us then break end
        mask = tonumber(m)
      end
    end
  end
  local covered
  if bitv == 0 then covered = mask ~= 0 else covered = bit.band(mask, bitv) ~= 0 end
  local now_s = now_us / 1000000
  local exps = redis.call('HMGET', ckey, org_field, agent_field, list_field)
  local consented, exempt = false, false
  for i = 1, 2 do
    local e = exps[i]
    if e then
      local x = tonumber(e)
      local ex = false
      if not x then
        x = tonumber(string.sub(e, 1, -2))
        ex = true
      end
      if x == 0 or now_s < x then
        consented = true
        if ex then exempt = true end
      end
    end
  end
  if covered then
    if consented then return 1, exempt end
    return 3, false
  end
  if consented then return 2, exempt end
  if exps[3] then return 4, false end
  return 0, false
end

-- The frequency caps (`domain.decision.CASES` 5 to 7). A consumer's counted calls are the members of
-- her own sorted set (call id, scored by its time in us). A window holds the calls of the last `span`
-- us (a call exactly `span` old has aged out). At its cap when the window holds `cap` calls or more;
-- then a slot frees up when the oldest call that keeps it full ages out. Returns 0 when a slot is
-- free, else that time in us (the latest of the windows that are full). The org's own daily cap
-- (`org`, 0: none) counts the org's calls in a key of their own (`ok`). Reads only.
local DAY_US, WEEK_US = 86400000000, 604800000000
local function cap_full(ck, ok, now_us, day, week, org)
  local until_us = 0
  for w = 1, 3 do
    local key, cap, span = ck, day, DAY_US
    if w == 2 then cap, span = week, WEEK_US end
    if w == 3 then key, cap = ok, org end
    if cap > 0 then
      local lo = string.format('(%d', now_us - span)
      local n = redis.call('ZCOUNT', key, lo, '+inf')
      if n >= cap then
        local r = redis.call('ZRANGEBYSCORE', key, lo, '+inf', 'WITHSCORES', 'LIMIT', n - cap, 1)
        local t = tonumber(r[2]) + span
        if t > until_us then until_us = t end
      end
    end
  end
  return until_us
end
"""

_DECISIONS = (Decision.ALLOW, Decision.BLOCK)
_REASONS = tuple(Reason)
_TABLES = (
    "local DECISIONS = {"
    + ", ".join(f"'{d.value}'" for d in _DECISIONS)
    + "}\nlocal REASONS = {"
    + ", ".join(f"'{r.value}'" for r in _REASONS)
    + "}\n"
    + f"local NREASONS = #REASONS\nlocal DSTRIDE = 2 * NREASONS\nlocal NCASES = {CASES}\n"
    + f"local CAPPED = {2 * CAPPED_STATE_OFFSET}\n"
    + _CLASSIFY
)

# The script for one callee. KEYS: READY, preference hash, consent hash, MODES, CALLS, and with a cap
# on the callee's counted calls (`hot.cap_key`) and those from the org (`hot.org_cap_key`). ARGV: ready
# value, preference field, org and agent consent fields, org, now_us, category bit, default monitor,
# outcomes, the event's other fields and values joined by calls.SEPARATOR (the call id, counted under
# the caps, is its second), the org-list field, and with a cap on "<per day> <per week> <the org's own
# per day>" (each 0: off). Without a cap the call is what it was before caps: no key, no argument
# more (every argument costs a Check ~70 ns to pack). Returns
# the case index + NCASES * the millisecond a slot frees up (0 unless the callee is at a cap), or -1.
#
# The caps: a callee in case 0, 1 or 2 (the only ones a cap can decide) whose window is full is moved
# to case 5, 6 or 7; then, if the picked outcome is ALLOW (monitor mode's ALLOW at a cap included: the call
# is placed), the call is counted, in the same atomic script, so two Checks can't both take the last
# slot: in the callee's key while a cap across orgs is on, in the org's key while the org has a cap of
# its own. Calls older than the longest window on are dropped, and a key expires a window after the
# last call counted.
_SINGLE_SCRIPT = (
    _TABLES
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local now_us = tonumber(ARGV[6])
local case, exempt = classify(KEYS[2], ARGV[2], KEYS[3], ARGV[3], ARGV[4], ARGV[11], tonumber(ARGV[7]), now_us)
local mode = redis.call('HGET', KEYS[4], ARGV[5])
local monitor
if mode then monitor = (mode == 'MONITOR') else monitor = (ARGV[8] == '1') end
local idx = case * 2
if monitor then idx = idx + 1 end
local day, week, org_cap = 0, 0, 0
if ARGV[12] then
  local d, w, o = string.match(ARGV[12], '^(%d+) (%d+) (%d+)$')
  day, week, org_cap = tonumber(d), tonumber(w), tonumber(o)
end
local capped_until = 0
if (day > 0 or week > 0 or org_cap > 0) and case <= 2 and not exempt then
  capped_until = cap_full(KEYS[6], KEYS[7], now_us, day, week, org_cap)
  if capped_until > 0 then idx = idx + CAPPED end
end
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
fields[#fields + 1] = DECISIONS[math.floor(code / DSTRIDE) + 1]
fields[#fields + 1] = 'rsn'
fields[#fields + 1] = REASONS[math.floor(code / 2) % NREASONS + 1]
fields[#fields + 1] = 'vio'
fields[#fields + 1] = tostring(code % 2)
redis.call('XADD', KEYS[5], '*', unpack(fields))
if code < DSTRIDE and not exempt then
  if day > 0 or week > 0 then
    local span = DAY_US
    if week > 0 then span = WEEK_US end
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', string.format('%d', now_us - span))
    redis.call('ZADD', KEYS[6], ARGV[6], fields[2])
    redis.call('PEXPIRE', KEYS[6], span / 1000)
  end
  if org_cap > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', string.format('%d', now_us - DAY_US))
    redis.call('ZADD', KEYS[7], ARGV[6], fields[2])
    redis.call('PEXPIRE', KEYS[7], DAY_US / 1000)
  end
end
return idx + NCASES * math.ceil(capped_until / 1000)
"""
)

# The script for a chunk of callees. KEYS: READY, MODES, CALLS, then per valid callee its preference and
# consent hashes, and with any cap on (across orgs, or a group's org's own) her counted calls and those
# from her group's org. ARGV: ready value, now_us, default
# monitor ("1"/"0"), the caps per day and per week (0: off), the number of groups, then _GROUP_ARGS per
# group (caller, agent, org, campaign, category, category bit, outcomes, org and agent consent scopes,
# org-list scope, the org's own daily cap), then six per callee (group number, field or "" for an
# invalid number, call id, callee key in hex, mask, request id). Returns the case indices as letters
# ("A" + index), then for each callee at a cap, in order, ";" and the millisecond a slot frees up; or
# -1. A scrub takes no slot: it reads the caps (a callee at one scrubs as case 5, 6 or 7) and counts
# nothing. All reads come before the first append, so an error (wrong type, out of memory) leaves none
# of a chunk's events behind: the gateway then answers and logs the chunk as unavailable.
_BATCH_SCRIPT = (
    _TABLES
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local now = ARGV[2]
local now_us = tonumber(now)
local day, week = tonumber(ARGV[4]), tonumber(ARGV[5])
local caps = day > 0 or week > 0
local stride = 2
if caps then stride = 4 end
local groups, monitors = {}, {}
local a = 7
for g = 1, tonumber(ARGV[6]) do
  local org = ARGV[a + 2]
  local monitor = monitors[org]
  if monitor == nil then
    local mode = redis.call('HGET', KEYS[2], org)
    if mode then monitor = (mode == 'MONITOR') else monitor = (ARGV[3] == '1') end
    monitors[org] = monitor
  end
  local outcomes = {}
  for i = 1, NCASES do
    local code = string.byte(ARGV[a + 6], i) - 65
    outcomes[i] = {
      DECISIONS[math.floor(code / DSTRIDE) + 1], REASONS[math.floor(code / 2) % NREASONS + 1], tostring(code % 2)}
  end
  groups[tostring(g)] = {
    ARGV[a], ARGV[a + 1], org, ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5]), ARGV[a + 7], ARGV[a + 8],
    monitor, outcomes, ARGV[a + 9], tonumber(ARGV[a + 10])}
  if groups[tostring(g)][12] > 0 then stride = 4 end
  a = a + 11
end
local first, last = a, #ARGV
local picked, letters, untils, n, k = {}, {}, {}, 0, 4
while a <= last do
  local g = groups[ARGV[a]]
  local f = ARGV[a + 1]
  local case = 0
  local idx = 0
  if f ~= '' then
    local exempt
    case, exempt = classify(KEYS[k], f, KEYS[k + 1], f .. g[7], f .. g[8], f .. g[11], g[6], now_us)
    if (caps or g[12] > 0) and case <= 2 and not exempt then
      local t = cap_full(KEYS[k + 2], KEYS[k + 3], now_us, day, week, g[12])
      if t > 0 then
        idx = CAPPED
        untils[#untils + 1] = string.format(';%d', math.ceil(t / 1000))
      end
    end
    k = k + stride
  end
  idx = idx + case * 2
  if g[9] then idx = idx + 1 end
  n = n + 1
  picked[n] = idx
  letters[n] = string.char(65 + idx)
  a = a + 6
end
a = first
for i = 1, n do
  local g = groups[ARGV[a]]
  local o = g[10][picked[i] + 1]
  redis.call('XADD', KEYS[3], '*', 'id', ARGV[a + 2], 'us', now, 'caller', g[1], 'callee', ARGV[a + 3],
    'mask', ARGV[a + 4], 'agent', g[2], 'org', g[3], 'campaign', g[4], 'cat', g[5], 'rid', ARGV[a + 5],
    'dec', o[1], 'rsn', o[2], 'vio', o[3])
  a = a + 6
end
return table.concat(letters) .. table.concat(untils)
"""
)
_GROUP_ARGS = 11
_FIRST_CAPPED = 2 * CAPPED_STATE_OFFSET


# Derived from the tables' sizes, as the script's DSTRIDE and NREASONS are: a Reason added later moves both.
_DECISION_CODE = {d: 65 + 2 * len(_REASONS) * i for i, d in enumerate(_DECISIONS)}
_REASON_CODE = {r: 2 * i for i, r in enumerate(_REASONS)}
assert max(_DECISION_CODE.values()) + max(_REASON_CODE.values()) + 1 < 256


def encode_outcomes(verdicts: Sequence[Verdict]) -> bytes:
    """One letter per case: A + 2 * len(Reason) * decision + 2 * reason + violation (decoded by the script)."""
    return bytes([_DECISION_CODE[v.decision] + _REASON_CODE[v.reason] + v.violation for v in verdicts])


def category_bit(category: Category) -> int:
    """The category's bit in a preference mask; 0 for UNSPECIFIED (then any registered category covers)."""
    return 0 if category is Category.UNSPECIFIED else 1 << category


class CheckScript:
    """The classify-and-log scripts: loads them, and builds their calls (`command`, `chunk`)."""

    def __init__(self, hot: HotRegistry) -> None:
        self.hot = hot
        self.sha = hashlib.sha1(_SINGLE_SCRIPT.encode()).hexdigest()
        self.batch_sha = hashlib.sha1(_BATCH_SCRIPT.encode()).hexdigest()
        # The `dnc:ready` value the scripts expect: the registry's, or one no Redis holds while the
        # registry is held (not yet caught up with the journal), so every script call fails closed.
        self.ready_arg = hot.ready_value
        self._specs: dict[tuple[tuple[int, int], int], bytes] = {}  # the caps argument, per caps and org cap

    def hold(self) -> None:
        """Every Check from now on is BLOCK / REGISTRY_UNAVAILABLE (its event still logged) until release."""
        self.ready_arg = HELD

    def release(self) -> None:
        self.ready_arg = self.hot.ready_value

    @property
    def held(self) -> bool:
        return self.ready_arg == HELD

    async def load(self) -> None:
        """Load the scripts into Redis (after a restart or SCRIPT FLUSH they are gone: see is_noscript)."""
        await self.hot.client.script_load(_SINGLE_SCRIPT)
        await self.hot.client.script_load(_BATCH_SCRIPT)

    def command(
        self,
        key: bytes,
        org_id: str,
        org_scope: bytes,
        agent_scope: bytes,
        list_scope: bytes,
        category_bit: int,
        now_us: int,
        default_monitor: bool,
        outcomes: bytes,
        context: bytes,
        caps: tuple[int, int] = (0, 0),
        org_cap: int = 0,
    ) -> tuple[Any, ...]:
        """The EVALSHA for one callee. `org_scope` and `agent_scope` are the `consent_scope` of the org
        and of its agent, `list_scope` the org's `org_list_scope`, `outcomes` the `encode_outcomes` of
        the sixteen verdicts, `context` the event's other fields and values joined by `calls.SEPARATOR`
        (`calls.single_context`), `caps` the caps per day and per week (0: off), `org_cap` the org's own
        daily cap (0: none). Its reply is a pick (`split_pick`)."""
        pkey, ckey, field = self.hot.callee_location(key)
        if not (caps[0] or caps[1] or org_cap):
            return (
                "EVALSHA",
                self.sha,
                5,
                READY,
                pkey,
                ckey,
                MODES,
                CALLS,
                self.ready_arg,
                field,
                field + org_scope,
                field + agent_scope,
                org_id,
                now_us,
                category_bit,
                b"1" if default_monitor else b"0",
                outcomes,
                context,
                field + list_scope,
            )
        spec = self._specs.get((caps, org_cap))
        if spec is None:
            spec = self._specs[(caps, org_cap)] = b"%d %d %d" % (caps[0], caps[1], org_cap)
        return (
            "EVALSHA",
            self.sha,
            7,
            READY,
            pkey,
            ckey,
            MODES,
            CALLS,
            CAP_PREFIX + key,  # hot.cap_key
            org_cap_key(key, org_id) if org_cap else CAP_PREFIX,  # the bare prefix: never written
            self.ready_arg,
            field,
            field + org_scope,
            field + agent_scope,
            org_id,
            now_us,
            category_bit,
            b"1" if default_monitor else b"0",
            outcomes,
            context,
            field + list_scope,
            spec,
        )

    def chunk(self, now_us: int, default_monitor: bool, caps: tuple[int, int] = (0, 0)) -> CheckChunk:
        return CheckChunk(self, now_us, default_monitor, caps)


def split_pick(pick: int) -> tuple[int, int]:
    """A script's answer for one callee: (case index, the millisecond a slot frees up under the
    frequency caps, 0 unless the callee is at one)."""
    return pick % CASES, pick // CASES


class CheckChunk:
    """One script call for up to CHUNK callees, built callee by callee.

    `group` registers what a run of callees shares and gives its number; `add` appends one callee of
    a group; `command` is the EVALSHA and `decode` reads its reply.
    """

    __slots__ = ("_args", "_callees", "_caps_on", "_groups", "_head", "_keys", "_locate", "_orgs", "_sha", "size")

    def __init__(self, script: CheckScript, now_us: int, default_monitor: bool, caps: tuple[int, int]) -> None:
        self._sha = script.batch_sha
        self._locate = script.hot.callee_location
        self._keys: list[bytes] = [READY, MODES, CALLS]
        self._head = (script.ready_arg, now_us, b"1" if default_monitor else b"0", caps[0], caps[1])
        self._groups: list[Any] = []
        self._orgs: list[str] = []  # each group's org
        self._callees: list[Any] = []  # key, group of each valid callee (for the count keys, with a cap on)
        self._caps_on = bool(caps[0] or caps[1])
        self._args: list[Any] = []
        self.size = 0

    def group(
        self,
        caller_e164: str,
        org_id: str,
        agent_id: str,
        campaign_id: str,
        category: Category,
        outcomes: bytes,
        org_cap: int = 0,
    ) -> bytes:
        """Register a group of callees; `outcomes` is `encode_outcomes` of its sixteen verdicts, `org_cap`
        the org's own daily cap (0: none)."""
        self._orgs.append(org_id)
        self._groups += (
            caller_e164,
            agent_id,
            org_id,
            campaign_id,
            b"%d" % category,
            category_bit(category),
            outcomes,
            consent_scope(org_id, ""),
            consent_scope(org_id, agent_id),
            org_list_scope(org_id),
            org_cap,
        )
        return b"%d" % (len(self._groups) // _GROUP_ARGS)

    def add(self, group: bytes, key: bytes | None, call_id: str, mask: str, request_id: str) -> None:
        """One callee: its storage key (None for an invalid number, which is logged but not looked up)."""
        if key is None:
            self._args += (group, b"", call_id, b"", mask, request_id)
        else:
            pkey, ckey, field = self._locate(key)
            self._keys += (pkey, ckey)
            self._callees += (key, group)
            self._args += (group, field, call_id, key.hex(), mask, request_id)
        self.size += 1

    def command(self) -> tuple[Any, ...]:
        """The EVALSHA. With a cap on (across orgs, or any group's org's own), each callee's two count keys
        follow her registry hashes; without, her two hashes alone, as before caps."""
        keys = self._keys
        if self._caps_on or any(self._groups[i] for i in range(_GROUP_ARGS - 1, len(self._groups), _GROUP_ARGS)):
            callees, orgs = self._callees, self._orgs
            keys = keys[:3]
            for i in range(0, len(callees), 2):
                key = callees[i]
                keys += (
                    self._keys[3 + i],
                    self._keys[4 + i],
                    cap_key(key),
                    org_cap_key(key, orgs[int(callees[i + 1]) - 1]),
                )
        groups = len(self._groups) // _GROUP_ARGS
        return ("EVALSHA", self._sha, len(keys), *keys, *self._head, groups, *self._groups, *self._args)

    def decode(self, reply: Any) -> list[int] | None:
        """Each callee's pick (`split_pick`: case index + CASES * the millisecond a slot frees up), in
        order; None when the call failed (NOT_LOADED: an error, or -1: `dnc:ready` does not match)."""
        if not isinstance(reply, bytes) or len(reply) < self.size:
            return None
        letters, *untils = reply.split(b";")
        if len(letters) != self.size:
            return None
        picks = [c - 65 for c in letters]
        if untils:
            it = iter(untils)
            picks = [p + CASES * int(next(it)) if p >= _FIRST_CAPPED else p for p in picks]
        return picks


def is_noscript(exc: BaseException) -> bool:
    return isinstance(exc, redis.exceptions.NoScriptError) or (
        isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith("NOSCRIPT")
    )
