"""The Lua scripts that classify the stored state agree with the Python fold, state by state.

The single-callee script (a Check) and the batch script (a chunk of a list scrub) are each held to the
fold: the same case index for every stored state, and the same event logged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.domain import decision as rules
from dncgate.domain.calls import CallEvent
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.registry import Consent, Schedule, epoch_us
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, Source, mask_covers
from dncgate.phone import zone
from dncgate.service.rules_ports import RulesSnapshot
from dncgate.store.calls import SEPARATOR, decode_event, event_context
from dncgate.store.checkscript import CHUNK, CheckChunk, category_bit, encode_outcomes
from dncgate.store.hot import consent_scope, org_list_scope
from tests.integration.support import (
    CALLER,
    CONSUMER,
    FakeClock,
    check_input,
    clear_streams,
    key_of,
    set_mode,
    stream_entries,
)
from tests.reference import cap_until, lookup, mask_at

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: inside the default calling hours
ORG, AGENT = "acme", "agent-1"


def _random_state(
    rng: random.Random, org: str = ORG, agent: str = AGENT
) -> tuple[Schedule, dict[tuple[str, str], Consent | None], Mode | None, dict[str, bool]]:
    masks = [0, 1 << Category.FINANCE, 1 << Category.REAL_ESTATE | 1 << Category.HEALTH, ALL_CATEGORIES_MASK]
    upcoming = []
    t = epoch_us(NOW) + rng.choice([-3, -1, 0, 1, 5]) * 1_000_000  # changes may have come due already
    for _ in range(rng.randint(0, 3)):
        upcoming.append((t, rng.choice(masks)))
        t += rng.randint(0, 3) * 1_000_000 + 1
    schedule = Schedule(rng.choice(masks), tuple(upcoming))

    def consent(agent: str) -> Consent | None:
        kind = rng.choice(["none", "forever", "expired", "future", "now"])
        if kind == "none":
            return None
        expiry = {
            "forever": None,
            "expired": NOW - timedelta(seconds=rng.randint(1, 100)),
            "future": NOW + timedelta(seconds=rng.randint(1, 100)),
            "now": NOW,
        }[kind]
        return Consent(org, agent, expiry.replace(microsecond=0) if expiry else None, rng.random() < 0.2)

    consents = {(org, ""): consent(""), (org, agent): consent(agent)}
    # On the org's own list about half the time (with or without consents beside it: an agent's consent
    # granted after the entry stays, and the fold must read the fields as the script does either way).
    lists = {org: rng.random() < 0.5}
    return schedule, consents, rng.choice([None, Mode.ENFORCE, Mode.MONITOR]), lists


async def _random_counts(app: Any, rng: random.Random, key: bytes) -> tuple[list[int], list[int]]:
    """Random counted calls of the callee, across orgs and from ORG (times over eight days, window edges
    among them), and random caps across orgs and of ORG's own (0: off)."""
    now_us, day = epoch_us(NOW), 86_400_000_000
    app.gateway.lane.caps = (rng.choice([0, 0, 1, 2, 3]), rng.choice([0, 0, 2, 4]))
    app.gateway.org_caps.caps = {ORG: rng.choice([1, 2])} if rng.random() < 0.3 else {}
    counted = []
    for k in (app.hot.layout.cap_key(key), app.hot.layout.org_cap_key(key, ORG)):
        await app.redis.delete(k)
        times = [
            now_us - rng.choice([1, day, day + 1, 7 * day, rng.randrange(8 * day)]) for _ in range(rng.randint(0, 6))
        ]
        if times:
            await app.redis.zadd(k, {f"c{i}": t for i, t in enumerate(times)})
        counted.append(times)
    return counted[0], counted[1]


def _random_opt_in(rng: random.Random) -> dict[str, int]:
    """ORG's opt-in about half the time: for every category (0) or for finance, or real estate and health."""
    if rng.random() < 0.5:
        return {}
    return {ORG: rng.choice([0, 1 << Category.FINANCE, 1 << Category.REAL_ESTATE | 1 << Category.HEALTH])}


async def test_the_script_and_the_python_fold_give_the_same_verdict_for_random_states(app: Any) -> None:
    """For 300 random stored states (org-list fields, consents exempt from the caps and counted calls
    among them), caps, opt-in policies, categories and default modes, one round trip decides as the fold
    does, and counts the call exactly when it is ALLOWed under a cap on and no exempt consent."""
    rng = random.Random(20261123)
    reasons: set[Reason] = set()
    key = key_of(app, CONSUMER)
    app.gateway.clock = FakeClock(NOW.timestamp())
    for case in range(300):
        schedule, consents, mode, lists = _random_state(rng)
        await app.hot.apply(key, schedule, consents, case + 1, lists)
        times, org_times = await _random_counts(app, rng, key)
        set_mode(app, ORG, mode)
        app.gateway.settings = replace(app.gateway.settings, default_mode=rng.choice([Mode.ENFORCE, Mode.MONITOR]))
        category = rng.choice(list(Category))
        opt_in = _random_opt_in(rng)
        app.gateway.rules.load(RulesSnapshot((case, 0, 0), frozenset(), frozenset(), (), (), opt_in))
        required = ORG in opt_in and (opt_in[ORG] == 0 or mask_covers(opt_in[ORG], category))

        snap = await lookup(app.hot, key, ORG, AGENT)
        attempt = CallAttempt(True, (zone("Asia/Shanghai"),), ORG, AGENT, category)
        exempt = any(c.exempt_from_caps and c.covers(ORG, AGENT) and c.active_at(NOW) for c in snap.consents)
        day, week = app.gateway.lane.caps
        org_cap = app.gateway.org_caps.caps.get(ORG, 0)
        until = 0 if exempt else cap_until(times, org_times, epoch_us(NOW), day, week, org_cap)
        expected = rules.decide(
            attempt,
            mask_at(snap.schedule, NOW),
            snap.consents,
            mode or app.gateway.settings.default_mode,
            app.gateway.settings.hours,
            NOW,
            snap.org_listed,
            capped=until > 0,
            standing=rules.CONSENT_REQUIRED if required else rules.NO_RULES,
        )
        if expected.reason is Reason.FREQUENCY_CAP:  # to the millisecond, rounded up
            expected = replace(expected, next_allowed_time=datetime.fromtimestamp(-(-until // 1000) / 1000, UTC))
        result = await app.gateway.check(check_input(CONSUMER, org=ORG, agent=AGENT, category=category))
        got = result.verdict
        state = (case, schedule, consents, mode, lists, category, times, org_times, day, week, org_cap, opt_in)
        assert got == expected, state
        counts = got.allowed and not exempt
        counted = await app.redis.zscore(app.hot.layout.cap_key(key), result.call_id) is not None
        assert counted == (counts and (day > 0 or week > 0)), state
        counted_for_org = await app.redis.zscore(app.hot.layout.org_cap_key(key, ORG), result.call_id) is not None
        assert counted_for_org == (counts and org_cap > 0), state
        reasons.add(got.reason)
    assert {
        Reason.ORG_LIST,
        Reason.REGISTERED,
        Reason.CONSENT_ON_FILE,
        Reason.NOT_REGISTERED,
        Reason.FREQUENCY_CAP,
        Reason.NO_CONSENT,
    } <= reasons


async def test_a_flushed_script_cache_is_reloaded_transparently(app: Any) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) the next Check still answers from the registry."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.gateway.check(check_input(CONSUMER))
    await app.redis.script_flush()
    result = await app.gateway.check(check_input(CONSUMER))
    assert result.verdict.reason.value == "REGISTERED"


# Sixteen verdicts that differ in (decision, reason, violation), so the logged event shows which case the
# script picked even where the real verdicts of two cases coincide.
DISTINCT = (
    Verdict(Decision.ALLOW, Reason.NOT_REGISTERED),
    Verdict(Decision.BLOCK, Reason.NOT_REGISTERED),
    Verdict(Decision.ALLOW, Reason.CONSENT_ON_FILE),
    Verdict(Decision.BLOCK, Reason.CONSENT_ON_FILE, violation=True),
    Verdict(Decision.BLOCK, Reason.REGISTERED),
    Verdict(Decision.ALLOW, Reason.REGISTERED, violation=True),
    Verdict(Decision.BLOCK, Reason.ORG_LIST),
    Verdict(Decision.ALLOW, Reason.ORG_LIST, violation=True),
    Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP),
    Verdict(Decision.ALLOW, Reason.FREQUENCY_CAP, violation=True),
    Verdict(Decision.BLOCK, Reason.FREQUENCY_CAP, violation=True),
    Verdict(Decision.ALLOW, Reason.FREQUENCY_CAP),
    Verdict(Decision.BLOCK, Reason.NO_CONSENT),
    Verdict(Decision.ALLOW, Reason.NO_CONSENT, violation=True),
    Verdict(Decision.BLOCK, Reason.NO_CONSENT, violation=True),
    Verdict(Decision.ALLOW, Reason.NO_CONSENT),
)
assert len(set(DISTINCT)) == len(rules.CASES)
ORGS = ("acme", "globex", "initech")
AGENTS = ("", "agent-1", "agent-2")


@dataclass
class Callee:
    key: bytes | None  # None: an invalid number (logged, never looked up)
    org: str
    agent: str
    category: Category
    call_id: str
    mask: str
    rid: str


async def _random_callees(app: Any, rng: random.Random, n: int, first: int) -> list[Callee]:
    """`n` callees with random stored states, orgs, agents and categories; about one in twenty invalid."""
    out = []
    for i in range(first, first + n):
        org, agent = rng.choice(ORGS), rng.choice(AGENTS)
        category = rng.choice(list(Category))
        call_id, rid = f"{i:032x}", rng.choice(["", f"r{i}"])
        if rng.random() < 0.05:
            out.append(Callee(None, org, agent, category, call_id, f"<invalid:{i}>", rid))
            continue
        key = key_of(app, f"139{i:08d}")
        schedule, consents, _, lists = _random_state(rng, org, agent)
        await app.hot.apply(key, schedule, consents, i + 1, lists)
        out.append(Callee(key, org, agent, category, call_id, f"+86139****{i % 10000:04d}", rid))
    return out


async def _expected_index(app: Any, c: Callee, default: Mode) -> int:
    """The case index the fold gives: 2 * (0 not covered, no consent, 1 covered with consent, 2 not covered
    with consent, 3 covered, 4 not covered but on the org's list with no consent) + monitor."""
    mode = _modes.get(c.org) or default
    monitor = int(mode is Mode.MONITOR)
    if c.key is None:
        return monitor
    snap = await lookup(app.hot, c.key, c.org, c.agent)
    consented = rules.consent_on_file(snap.consents, c.org, c.agent, NOW)
    if not mask_covers(mask_at(snap.schedule, NOW), c.category):
        return (4 if consented else 8 if snap.org_listed else 0) + monitor
    return (2 if consented else 6) + monitor


def _event(c: Callee, index: int) -> list[tuple[bytes, bytes]]:
    """The stream entry for this callee when the script picked `index` (field order included)."""
    v = DISTINCT[index]
    return [
        (b"id", c.call_id.encode()),
        (b"us", b"%d" % epoch_us(NOW)),
        (b"caller", CALLER.encode()),
        (b"callee", c.key.hex().encode() if c.key else b""),
        (b"mask", c.mask.encode()),
        (b"agent", c.agent.encode()),
        (b"org", c.org.encode()),
        (b"campaign", b"spring"),
        (b"cat", b"%d" % c.category),
        (b"rid", c.rid.encode()),
        (b"dec", v.decision.value.encode()),
        (b"rsn", v.reason.value.encode()),
        (b"vio", b"1" if v.violation else b"0"),
    ]


def _chunks(app: Any, callees: list[Callee], default: Mode) -> list[CheckChunk]:
    """The batch script calls for these callees, CHUNK a call, a group per (org, agent, category)."""
    chunks: list[CheckChunk] = []
    groups: dict[tuple[str, str, Category], bytes] = {}
    for c in callees:
        if not chunks or chunks[-1].size == CHUNK:
            chunks.append(app.gateway.lane.script.chunk(epoch_us(NOW)))
            groups = {}
        chunk = chunks[-1]
        g = (c.org, c.agent, c.category)
        if g not in groups:
            monitor = (_modes.get(c.org) or default) is Mode.MONITOR
            groups[g] = chunk.group(CALLER, c.org, c.agent, "spring", c.category, encode_outcomes(DISTINCT), 0, monitor)
        shard = app.hot.layout.shard(c.key) if c.key else 0
        chunk.add(groups[g], c.key, c.call_id, c.mask, c.rid, shard)
    return chunks


async def _entries(app: Any) -> list[list[tuple[bytes, bytes]]]:
    """Every event in the streams, by call id (the streams do not order events across shards), each in
    its callee's shard's stream (an invalid number's in shard 0's)."""
    found = []
    for stream, _, fields in await stream_entries(app.redis):
        callee = fields.get(b"callee", b"")
        assert stream == app.hot.layout.streams[app.hot.layout.shard_of_hex(callee.decode())], fields
        found.append(list(fields.items()))
    return sorted(found, key=lambda f: dict(f)[b"id"])


def _by_id(events: list[list[tuple[bytes, bytes]]]) -> list[list[tuple[bytes, bytes]]]:
    return sorted(events, key=lambda f: dict(f)[b"id"])


# The orgs' modes of the batch test's round (None: the default), as the gateway's copy holds them.
_modes: dict[str, Mode | None] = {}


@pytest.mark.single_node_redis(
    "script calls mixing shards, as one node takes them; tests/cluster/test_cluster_layout.py runs the per-shard calls"
)
async def test_the_batch_script_classifies_and_logs_like_the_fold_and_the_single_script(app: Any) -> None:
    """For chunks of callees in random stored states (schedules due or not, category bits, consent expiries
    at the boundary, org modes, default mode), spanning several script calls: the batch script returns the
    fold's case index for each, logs each event with that case's outcome, and the single-callee script
    agrees with both."""
    rng = random.Random(20261124)
    await app.gateway.lane.script.load()
    first = 0
    for round_ in range(3):
        for org in ORGS:
            _modes[org] = rng.choice([None, Mode.ENFORCE, Mode.MONITOR])
        default = rng.choice([Mode.ENFORCE, Mode.MONITOR])
        callees = await _random_callees(app, rng, 2 * CHUNK + 37, first)
        first += len(callees)
        expected = [await _expected_index(app, c, default) for c in callees]
        await clear_streams(app.redis)

        chunks = _chunks(app, callees, default)
        assert len(chunks) == 3
        replies = [await app.redis.execute_command(*chunk.command()) for chunk in chunks]
        assert b"".join(replies) == bytes(65 + i for i in expected), round_
        assert [p for chunk, r in zip(chunks, replies, strict=True) for p in chunk.decode(r) or ()] == expected
        assert await _entries(app) == _by_id([_event(c, i) for c, i in zip(callees, expected, strict=True)])

        await clear_streams(app.redis)
        for c, i in zip(callees, expected, strict=True):
            if c.key is not None:
                context = SEPARATOR.join(event_context(_decode(_event(c, 0))))
                command = app.gateway.lane.script.command(
                    c.key,
                    c.org,
                    consent_scope(c.org, ""),
                    consent_scope(c.org, c.agent),
                    org_list_scope(c.org),
                    category_bit(c.category),
                    epoch_us(NOW),
                    (_modes.get(c.org) or default) is Mode.MONITOR,
                    encode_outcomes(DISTINCT),
                    context,
                )
                assert await app.redis.execute_command(*command) == i
        assert await _entries(app) == _by_id([_event(c, i) for c, i in zip(callees, expected, strict=True) if c.key])


def _decode(fields: list[tuple[bytes, bytes]]) -> CallEvent:
    return decode_event(dict(fields))


@pytest.mark.single_node_redis(
    "script calls mixing shards, as one node takes them; tests/cluster/test_cluster_layout.py runs the per-shard calls"
)
async def test_the_batch_script_answers_minus_one_and_logs_nothing_when_the_registry_is_not_loaded(
    app: Any,
) -> None:
    """With the shards' markers absent or of another layout, every chunk returns -1 (fail closed) and
    appends nothing."""
    rng = random.Random(7)
    await app.gateway.lane.script.load()
    callees = await _random_callees(app, rng, CHUNK + 5, 0)
    for ready in (None, b"2/16/pepper"):  # the layout before shards wrote "2/<bits>/<pepper>"
        for marker in app.hot.layout.readies:
            if ready is None:
                await app.redis.delete(marker)
            else:
                await app.redis.set(marker, ready)
        chunks = _chunks(app, callees, Mode.ENFORCE)
        replies = [await app.redis.execute_command(*chunk.command()) for chunk in chunks]
        assert replies == [-1, -1]
        assert [chunk.decode(r) for chunk, r in zip(chunks, replies, strict=True)] == [None, None]
        assert await _entries(app) == []


async def test_a_shard_without_its_marker_fails_closed_alone(app: Any) -> None:
    """A shard whose marker is gone (its node lost its data) blocks its callees' Checks as unavailable;
    a callee of another shard is answered from the registry as before."""
    layout = app.hot.layout
    numbers = [f"139{i:08d}" for i in range(200)]
    by_shard: dict[int, str] = {}
    for n in numbers:
        by_shard.setdefault(layout.shard(key_of(app, n)), n)
    (lost, victim), (_, other) = list(by_shard.items())[:2]
    for n in (victim, other):
        await app.registry.set_preference(n, True, [], Source.APP, None, None, actor="test")
    await app.redis.delete(layout.readies[lost])
    assert (await app.gateway.check(check_input(victim))).verdict == rules.REGISTRY_UNAVAILABLE
    assert (await app.gateway.check(check_input(other))).verdict.reason is Reason.REGISTERED
    assert not await app.hot.is_ready()  # the sync loop rebuilds
