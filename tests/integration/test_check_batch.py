"""A list scrub (`Gateway.check_many`) over real Redis: the same answers and events as single Checks,
chunk by chunk, and failing closed chunk by chunk."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from dncgate import phone
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.lines import CallerLine
from dncgate.domain.ranges import RangeAction, RangeRule
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, mask_of
from dncgate.embedded import EmbeddedRedis
from dncgate.service.gateway import CheckInput
from dncgate.service.rules_ports import RulesSnapshot
from dncgate.store.checkscript import CHUNK
from tests.integration.support import (
    CALLER,
    FakeClock,
    check_input,
    clear_streams,
    redis_is_stalled,
    set_mode,
    stream_entries,
)
from tests.integration.test_check_script import ORGS, _random_state
from tests.wait import until

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NIGHT = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai, outside 09:00-21:00
HOLIDAY = datetime(2026, 10, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai on National Day
OTHER_COUNTRIES = ["+12125550123", "+442079460958", "+81312345678", "+85221234567"]


def _spellings(rng: random.Random, i: int) -> str:
    """Consumer i's number as a dialer might send it; now and then an invalid or foreign one."""
    national = f"139{i:08d}"
    return rng.choice(
        [
            national,
            national,
            "+86" + national,
            f"+86 {national[:3]} {national[3:7]} {national[7:]}",
            "0086" + national,
            national.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
            "12345",
            "not a number",
            rng.choice(OTHER_COUNTRIES),
        ]
    )


async def _random_batch(app: Any, rng: random.Random, n: int) -> list[CheckInput]:
    reqs = []
    for i in range(n):
        callee = _spellings(rng, i)
        org, agent = rng.choice(ORGS), rng.choice(["", "agent-1", "agent-2"])
        parsed = phone.try_parse(callee)
        if parsed is not None:
            schedule, consents, _, lists = _random_state(rng, org, agent)
            await app.hot.apply(app.gateway.keyer.digest(parsed.e164), schedule, consents, i + 1, lists)
        category = rng.choice(list(Category))
        campaign = rng.choice(["", "spring"])
        reqs.append(check_input(callee, org=org, agent=agent, category=category, campaign=campaign, request_id=f"r{i}"))
    return reqs


async def _events(app: Any) -> list[dict[bytes, bytes]]:
    """Every event in the streams (by call time: the streams do not order one batch's events)."""
    return [fields for _, _, fields in await stream_entries(app.redis)]


def _in_order(events: list[dict[bytes, bytes]], call_ids: list[str]) -> list[dict[bytes, bytes]]:
    """The events in the order of their calls; each call's event once."""
    by_id = {e[b"id"].decode(): e for e in events}
    assert sorted(by_id) == sorted(call_ids) and len(events) == len(call_ids)
    return [by_id[c] for c in call_ids]


def _every_rule() -> RulesSnapshot:
    """Ranges (a block, a longer allow for each of two orgs, one for a category, a foreign one), quiet days for
    one org, registered lines required by two orgs, the batch's caller the line of one of them, opt-in
    for two orgs (one for finance and real estate, one for every category)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def rule(seq: int, prefix: str, action: RangeAction, org: str = "", categories: int = 0) -> RangeRule:
        return RangeRule(seq, prefix, org, action, categories or ALL_CATEGORIES_MASK, t0, t0, "admin")

    return RulesSnapshot(
        version=(1, 1, 1),
        quiet_orgs=frozenset({"acme"}),
        line_orgs=frozenset({"globex", "initech"}),
        lines=(CallerLine(1, CALLER, "initech", "", t0, None, t0, "admin"),),
        ranges=(
            rule(1, "+8613900000", RangeAction.BLOCK),
            rule(2, "+86139000001", RangeAction.ALLOW, org="acme"),
            rule(3, "+8613900002", RangeAction.BLOCK, categories=mask_of([Category.FINANCE])),
            rule(4, "+1212", RangeAction.BLOCK),
            rule(5, "+86139000003", RangeAction.ALLOW, org="initech"),  # where initech's opt-in shows
        ),
        consent_orgs={"acme": mask_of([Category.FINANCE, Category.REAL_ESTATE]), "initech": 0},
    )


@pytest.mark.parametrize(
    ("at", "rules"),
    [(DAY, False), (NIGHT, False), (DAY, True), (HOLIDAY, True)],
    ids=["inside calling hours", "outside calling hours", "every rule", "every rule on a holiday"],
)
async def test_a_batch_answers_and_logs_exactly_as_the_same_checks_one_by_one(
    app: Any, at: datetime, rules: bool
) -> None:
    """A batch spanning several script calls, in random stored states (org lists among them), org modes,
    spellings and countries, gets the verdicts, E.164s, masks and events that the same requests get as
    single Checks; with ranges, quiet days, registered lines and opt-in configured too."""
    rng = random.Random(at.hour)
    app.gateway.clock = FakeClock(at.timestamp())
    if rules:
        app.gateway.rules.load(_every_rule())
    app.gateway.settings = replace(
        app.gateway.settings,
        hours=CallingHours.parse("09:00-21:00"),
        default_mode=rng.choice([Mode.ENFORCE, Mode.MONITOR]),
    )
    for org in ORGS[1:]:
        set_mode(app, org, rng.choice([Mode.ENFORCE, Mode.MONITOR]))
    reqs = await _random_batch(app, rng, 2 * CHUNK + 50)
    # The frequency caps on, across orgs and of one org's own, and each callee with 0 to 4 calls counted
    # already (some at a cap): the batch reads them as the single Checks do before counting their own.
    # A callee may come more than once (the foreign numbers): each single Check is then made on the
    # counts the batch read (`counted` restored), not on those its predecessors added.
    app.gateway.lane.caps = (2, 4)
    app.gateway.org_caps.caps = {ORGS[1]: 1}
    now_us = int(at.timestamp() * 1_000_000)
    counted: dict[bytes, dict[str, int]] = {}
    keys_of: list[tuple[bytes, ...]] = []
    for i, req in enumerate(reqs):
        parsed = phone.try_parse(req.callee_number)
        keys_of.append(())
        if parsed is not None:
            key = app.gateway.keyer.digest(parsed.e164)
            keys_of[-1] = (app.hot.layout.cap_key(key), app.hot.layout.org_cap_key(key, req.org_id))
            for k in keys_of[-1]:
                if k not in counted:
                    n = rng.randint(0, 4)
                    counted[k] = {f"c{i}-{j}": now_us - rng.randrange(8 * 86_400_000_000) for j in range(n)}
                    if counted[k]:
                        await app.redis.zadd(k, counted[k])

    async def as_the_batch_read(keys: tuple[bytes, ...]) -> None:
        for k in keys:
            await app.redis.delete(k)
            if counted[k]:
                await app.redis.zadd(k, counted[k])

    batch = await app.gateway.check_many(reqs)
    batch_events = _in_order(await _events(app), [r.call_id for r in batch])
    await clear_streams(app.redis)
    singles = []
    for r, keys in zip(reqs, keys_of, strict=True):
        await as_the_batch_read(keys)
        singles.append(await app.gateway.check(r))
    single_events = _in_order(await _events(app), [r.call_id for r in singles])

    def answer(r: Any) -> tuple[Any, ...]:
        return (r.verdict, r.callee_e164, r.callee_masked, r.request_id)

    assert [answer(r) for r in batch] == [answer(r) for r in singles]
    assert [e.pop(b"id").decode() for e in batch_events] == [r.call_id for r in batch]
    assert [e.pop(b"id").decode() for e in single_events] == [r.call_id for r in singles]
    assert batch_events == single_events
    for req, r in zip(reqs, batch, strict=True):
        parsed = phone.try_parse(req.callee_number)
        assert (r.callee_e164, r.callee_masked) == (
            (parsed.e164, parsed.masked) if parsed else ("", phone.mask_text(req.callee_number))
        )
    reasons = {r.verdict.reason for r in batch}
    assert {Reason.INVALID_NUMBER, Reason.REGISTERED, Reason.ORG_LIST, Reason.FREQUENCY_CAP} <= reasons
    chinese = {r.verdict.reason for r in batch if r.callee_e164.startswith("+86")}
    assert (Reason.OUTSIDE_CALLING_HOURS in chinese) is (at is NIGHT)
    assert len({r.call_id for r in batch}) == len(batch)
    if rules:
        assert {Reason.RANGE_BLOCKED, Reason.UNKNOWN_CALLER_LINE, Reason.NO_CONSENT} <= reasons
        assert (Reason.QUIET_DAY in reasons) is (at is HOLIDAY)


@pytest.mark.single_node_redis("chunks are slices of the batch on one node (one shard per script call on a cluster)")
async def test_a_failing_chunk_fails_closed_and_the_others_keep_their_answers(app: Any) -> None:
    """When one script call fails (a registry hash of the wrong type), that chunk's numbers are BLOCK
    REGISTRY_UNAVAILABLE (invalid ones stay INVALID_NUMBER) and logged so, none with the script's verdict;
    the other chunks answer from the registry."""
    rng = random.Random(3)
    reqs = await _random_batch(app, rng, 3 * CHUNK)
    expected = await app.gateway.check_many(reqs)
    await clear_streams(app.redis)
    # Break the preference hash of one number of the middle chunk (and of no number outside it).
    buckets = [
        app.hot.callee_location(app.gateway.keyer.digest(r.callee_e164))[1] if r.callee_e164 else None for r in expected
    ]
    victim = next(b for b in buckets[CHUNK + 100 :: -1] if b and b not in buckets[:CHUNK] + buckets[2 * CHUNK :])
    await app.redis.delete(victim)
    await app.redis.set(victim, b"not a hash")

    results = await app.gateway.check_many(reqs)
    for i, (r, before) in enumerate(zip(results, expected, strict=True)):
        if not CHUNK <= i < 2 * CHUNK or before.verdict.reason is Reason.INVALID_NUMBER:
            assert r.verdict == before.verdict, i
        else:
            assert (r.verdict.decision, r.verdict.reason) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE), i
    logged = await _events(app)
    # Each logged exactly once: by its script, or (failed chunk: its script wrote nothing) afterwards.
    assert sorted(e[b"id"].decode() for e in logged) == sorted(r.call_id for r in results)
    events = {e[b"id"].decode(): e for e in logged}
    assert [events[r.call_id][b"rsn"].decode() for r in results] == [r.verdict.reason.value for r in results]


async def test_a_batch_logs_invalid_numbers_and_blocks_the_rest_when_the_registry_is_not_loaded(app: Any) -> None:
    """Without the shards' markers every valid number is REGISTRY_UNAVAILABLE, invalid ones INVALID_NUMBER,
    all logged."""
    await app.redis.delete(*app.hot.layout.readies)
    reqs = [check_input(n) for n in ("13800138000", "12345", "+8613912345678", "nope")]
    results = await app.gateway.check_many(reqs)
    reasons = [Reason.REGISTRY_UNAVAILABLE, Reason.INVALID_NUMBER, Reason.REGISTRY_UNAVAILABLE, Reason.INVALID_NUMBER]
    assert [r.verdict.reason for r in results] == reasons
    assert all(r.verdict.decision is Decision.BLOCK for r in results)
    logged = _in_order(await _events(app), [r.call_id for r in results])
    assert [e[b"rsn"].decode() for e in logged] == [r.value for r in reasons]


async def test_a_batch_survives_a_flushed_script_cache(app: Any) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) a batch still answers from the registry."""
    reqs = [check_input(f"139{i:08d}") for i in range(CHUNK + 1)]
    await app.gateway.check_many(reqs)
    await app.redis.script_flush()
    results = await app.gateway.check_many(reqs)
    assert {r.verdict.reason for r in results} == {Reason.NOT_REGISTERED}


async def test_a_batch_in_a_stalled_redis_fails_closed_within_its_deadline(
    app: Any, private_redis: EmbeddedRedis
) -> None:
    """When Redis does not answer, a batch of several chunks is all REGISTRY_UNAVAILABLE, answered by
    its deadline (the timeout plus half a millisecond a number), not when Redis wakes up."""
    sleeper = aioredis.Redis.from_url(app.redis_url)
    try:
        await sleeper.execute_command("DEBUG", "SLEEP", "0")
    except redis.exceptions.ResponseError:
        pytest.skip("this Redis refuses DEBUG")
    reqs = [check_input(f"139{i:08d}") for i in range(2 * CHUNK + 1)]
    deadline_s = app.gateway.settings.timeout_s + 0.0005 * (len(reqs) - 1)
    stall = asyncio.create_task(sleeper.execute_command("DEBUG", "SLEEP", str(deadline_s * 3)))
    await until(lambda: redis_is_stalled(app.redis_url), what="Redis asleep in DEBUG SLEEP")
    started = asyncio.get_running_loop().time()
    results = await app.gateway.check_many(reqs)
    elapsed = asyncio.get_running_loop().time() - started
    await stall
    await sleeper.aclose()
    assert {(r.verdict.decision, r.verdict.reason, r.call_id) for r in results} == {
        (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE, "")
    }
    assert deadline_s * 0.9 < elapsed < deadline_s * 2
    assert {r.verdict.reason for r in await app.gateway.check_many(reqs)} == {Reason.NOT_REGISTERED}


@pytest.mark.parametrize(
    ("index", "request_id", "callee", "field"),
    [
        (2, "x" * 129, "13800138000", "requests[2].request_id"),
        (1, "a\nb", "13800138000", "requests[1].request_id"),
        (3, "", "  ", "requests[3].callee_number"),
    ],
)
async def test_a_bad_request_after_good_ones_with_the_same_caller_and_org_is_named(
    app: Any, index: int, request_id: str, callee: str, field: str
) -> None:
    """Fields requests share are checked once, yet a bad request id or callee later in the batch is still
    InvalidArgument naming that request, and nothing is logged."""
    reqs = [check_input("13800138000", request_id=f"r{i}") for i in range(5)]
    reqs[index] = check_input(callee, request_id=request_id)
    with pytest.raises(InvalidArgument) as err:
        await app.gateway.check_many(reqs)
    assert err.value.field == field
    assert await _events(app) == []
