"""The gateway over real Redis: decisions, the dnc:calls evidence stream, batches and fail-closed paths."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from dncgate.bootstrap import build_gateway
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.types import Category, Decision, Mode, Reason, Source
from dncgate.embedded import EmbeddedRedis
from tests.integration.support import (
    ALL_STREAMS,
    CALLER,
    CONSUMER,
    OTHER_CONSUMER,
    check_input,
    key_of,
    redis_is_stalled,
    stream_entries,
    stream_events,
)
from tests.wait import until

pytestmark = pytest.mark.integration


async def _entries(app: Any, call_ids: list[str] | None = None) -> list[dict[bytes, bytes]]:
    """The events in the streams, by call time, or in the order of `call_ids` (the streams do not order
    one batch's events across shards)."""
    events = [fields for _, _, fields in await stream_entries(app.redis)]
    if call_ids is None:
        return events
    by_id = {e[b"id"].decode(): e for e in events}
    assert len(by_id) == len(events) == len(call_ids)
    return [by_id[c] for c in call_ids]


async def test_check_appends_a_call_event_with_decision_reason_and_hashed_callee(app: Any) -> None:
    """A Check writes one stream entry with the verdict, the callee's hex HMAC and mask, and the caller in E.164."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    result = await app.gateway.check(
        check_input("+86 138-0013-8000", caller="021-6123-4567", category=Category.FINANCE, request_id="rq-7")
    )
    assert (result.verdict.decision, result.verdict.reason) == (Decision.BLOCK, Reason.REGISTERED)
    assert (result.callee_e164, result.callee_masked, result.request_id) == ("+8613800138000", "+86138****8000", "rq-7")
    [event] = await _entries(app)
    assert {k: v for k, v in event.items() if k not in (b"ts", b"us")} == {
        b"id": result.call_id.encode(),
        b"caller": CALLER.encode(),
        b"callee": key_of(app, CONSUMER).hex().encode(),
        b"mask": b"+86138****8000",
        b"agent": b"agent-1",
        b"org": b"acme",
        b"campaign": b"spring",
        b"cat": b"%d" % Category.FINANCE,
        b"dec": b"BLOCK",
        b"rsn": b"REGISTERED",
        b"vio": b"0",
        b"rid": b"rq-7",
    }
    [decoded] = await stream_events(app.redis)
    assert abs((decoded.at - datetime.now(UTC)).total_seconds()) < 5
    assert re.fullmatch(rb"[0-9a-f]{64}", event[b"callee"])
    assert re.fullmatch(r"[0-9a-f]{32}", result.call_id)


async def test_every_check_is_logged_including_allowed_and_monitored_calls(app: Any) -> None:
    """Allowed, blocked and monitor-mode calls each leave one decoded event, violations flagged."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.set_org_policy("loose", Mode.MONITOR, None, actor="test")
    await app.gateway.check(check_input(OTHER_CONSUMER))
    await app.gateway.check(check_input(CONSUMER))
    await app.gateway.check(check_input(CONSUMER, org="loose"))
    events = await stream_events(app.redis)
    assert [(e.decision, e.reason, e.violation, e.org_id) for e in events] == [
        (Decision.ALLOW, Reason.NOT_REGISTERED, False, "acme"),
        (Decision.BLOCK, Reason.REGISTERED, False, "acme"),
        (Decision.ALLOW, Reason.REGISTERED, True, "loose"),
    ]


async def test_check_many_keeps_order_and_answers_invalid_numbers_in_the_batch(app: Any) -> None:
    """A batch is answered and logged in request order, with INVALID_NUMBER for numbers that cannot exist."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    callees = [CONSUMER, "12345", OTHER_CONSUMER, "１３８００１３８０００", "not-a-number", "0086 138 0013 8000"]
    reqs = [check_input(c, request_id=f"r{i}") for i, c in enumerate(callees)]
    results = await app.gateway.check_many(reqs)
    assert [r.request_id for r in results] == [f"r{i}" for i in range(len(callees))]
    assert [(r.verdict.decision, r.verdict.reason) for r in results] == [
        (Decision.BLOCK, Reason.REGISTERED),
        (Decision.BLOCK, Reason.INVALID_NUMBER),
        (Decision.ALLOW, Reason.NOT_REGISTERED),
        (Decision.BLOCK, Reason.REGISTERED),
        (Decision.BLOCK, Reason.INVALID_NUMBER),
        (Decision.BLOCK, Reason.REGISTERED),
    ]
    assert [r.callee_e164 for r in results] == [
        "+8613800138000",
        "",
        "+8613912345678",
        "+8613800138000",
        "",
        "+8613800138000",
    ]
    events = await _entries(app, [r.call_id for r in results])
    assert [e[b"rid"] for e in events] == [f"r{i}".encode() for i in range(len(callees))]
    assert [e[b"id"].decode() for e in events] == [r.call_id for r in results]
    assert len({r.call_id for r in results}) == len(results)
    assert events[1][b"callee"] == b""
    assert events[1][b"mask"] == b"<invalid:5 chars,\xe2\x80\xa645>"


@pytest.mark.parametrize(
    ("index", "changes", "field"),
    [
        (1, {"org": ""}, "requests[1].org_id"),
        (2, {"caller": " "}, "requests[2].caller_number"),
        (0, {"caller": "12"}, "requests[0].caller_number"),
        (2, {"callee": ""}, "requests[2].callee_number"),
    ],
)
async def test_batch_with_a_missing_field_raises_invalid_argument_naming_the_request(
    app: Any, index: int, changes: dict[str, str], field: str
) -> None:
    """A missing org_id or caller anywhere in a batch rejects the batch, naming requests[i].field, and logs nothing."""
    reqs = [check_input(CONSUMER) for _ in range(3)]
    kw = {"caller": CALLER, "org": "acme", **changes}
    reqs[index] = check_input(kw.pop("callee", CONSUMER), **kw)
    with pytest.raises(InvalidArgument) as err:
        await app.gateway.check_many(reqs)
    assert err.value.field == field
    assert await _entries(app) == []


async def test_single_check_names_the_field_without_a_batch_prefix(app: Any) -> None:
    """A single Check without org_id raises InvalidArgument on plain `org_id`."""
    with pytest.raises(InvalidArgument) as err:
        await app.gateway.check(check_input(CONSUMER, org=""))
    assert err.value.field == "org_id"


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("callee_number", {"callee": "  "}),
        ("request_id", {"request_id": "r" * 129}),
        ("request_id", {"request_id": "a\x1fb"}),
        ("agent_id", {"agent": "a\nb"}),
        ("caller_number", {"caller": "12"}),
        ("org_id", {"org": " "}),
    ],
)
async def test_a_bad_field_is_refused_even_after_good_checks_from_the_same_dialer(
    app: Any, field: str, bad: dict[str, str]
) -> None:
    """The fields a dialer repeats are validated once and remembered, but a Check with a bad field (its own,
    or one that makes another dialer route) is still INVALID_ARGUMENT naming it, and logs nothing."""
    await app.gateway.check(check_input(CONSUMER, request_id="ok"))
    with pytest.raises(InvalidArgument) as err:
        await app.gateway.check(check_input(**({"callee": CONSUMER} | bad)))  # type: ignore[arg-type]
    assert err.value.field == field
    assert len(await _entries(app)) == 1
    assert (await app.gateway.check(check_input(CONSUMER, request_id="ok"))).verdict.decision is Decision.ALLOW


async def test_many_dialers_past_the_route_limit_are_answered_alike(app: Any) -> None:
    """Once more dialer routes come than are kept, they are forgotten and rebuilt: the answers and events
    are those of the same Checks with routes kept."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    app.gateway.single.limit = 3
    reqs = [check_input(CONSUMER if i % 2 else OTHER_CONSUMER, agent=f"agent-{i % 7}") for i in range(30)]
    results = [await app.gateway.check(r) for r in reqs]
    assert len(app.gateway.single.routes) <= 3
    assert [r.verdict.reason for r in results] == [
        Reason.REGISTERED if i % 2 else Reason.NOT_REGISTERED for i in range(30)
    ]
    events = await _entries(app)
    assert [e[b"agent"] for e in events] == [b"agent-%d" % (i % 7) for i in range(30)]
    assert [e[b"id"].decode() for e in events] == [r.call_id for r in results]


async def test_allowed_calls_are_blocked_when_the_event_cannot_be_logged(app: Any) -> None:
    """If the call stream cannot be written, no call is allowed: every Check, an invalid callee's too, single
    or batched, is BLOCK REGISTRY_UNAVAILABLE with no call_id (there is no event to point to)."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    for stream in ALL_STREAMS:
        await app.redis.set(stream, b"not a stream")  # XADD now fails with WRONGTYPE
    callees = [OTHER_CONSUMER, CONSUMER, "12345"]
    results = await app.gateway.check_many([check_input(c) for c in callees])
    results += [await app.gateway.check(check_input(c)) for c in callees]
    assert [(r.verdict.decision, r.verdict.reason, r.call_id) for r in results] == [
        (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE, "")
    ] * 6


async def test_a_ten_megabyte_callee_is_invalid_number_with_its_event_stored(app: Any) -> None:
    """Parsing and masking a 10 MB callee takes longer than the Redis deadline; the deadline starts with
    the round trip, so the Check is still INVALID_NUMBER with a call_id whose event is in the stream."""
    app.gateway.settings = replace(app.gateway.settings, timeout_s=0.05)
    callee = "1" * 10_000_000
    single = await app.gateway.check(check_input(callee))
    batched = await app.gateway.check_many([check_input(OTHER_CONSUMER), check_input(callee)])
    for r in (single, batched[1]):
        assert (r.verdict.decision, r.verdict.reason) == (Decision.BLOCK, Reason.INVALID_NUMBER)
    events = {e.call_id: e for e in await stream_events(app.redis)}
    assert set(events) == {single.call_id, *(r.call_id for r in batched)}
    assert events[single.call_id].reason is Reason.INVALID_NUMBER
    assert len(events[single.call_id].callee_masked) < 40


async def test_a_registry_read_slower_than_the_deadline_fails_closed(app: Any, private_redis: EmbeddedRedis) -> None:
    """When Redis does not answer within the gateway's timeout, the Check is BLOCK REGISTRY_UNAVAILABLE."""
    sleeper = aioredis.Redis.from_url(app.redis_url)  # no socket timeout of its own
    try:
        await sleeper.execute_command("DEBUG", "SLEEP", "0")
    except redis.exceptions.ResponseError:
        pytest.skip("this Redis refuses DEBUG")
    stall = asyncio.create_task(sleeper.execute_command("DEBUG", "SLEEP", str(app.gateway.settings.timeout_s * 3)))
    await until(lambda: redis_is_stalled(app.redis_url), what="Redis asleep in DEBUG SLEEP")
    started = asyncio.get_running_loop().time()
    result = await app.gateway.check(check_input(OTHER_CONSUMER))
    elapsed = asyncio.get_running_loop().time() - started
    await stall
    await sleeper.aclose()
    assert (result.verdict.decision, result.verdict.reason) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    assert result.call_id == ""  # no time was left to store its event
    assert elapsed < app.gateway.settings.timeout_s * 2.5
    assert (await app.gateway.check(check_input(OTHER_CONSUMER))).verdict.decision is Decision.ALLOW


@pytest.mark.parametrize("multiplex", [True, False], ids=["multiplexed", "redis-py pool (TLS)"])
async def test_both_redis_paths_answer_alike_single_and_batched(app: Any, multiplex: bool) -> None:
    """The multiplexed connection and the redis-py fallback (used over TLS) give the same answers and events."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    gw = build_gateway(
        replace(app.settings, redis_timeout_ms=1000, mode=Mode.ENFORCE), app.hot, app.gateway.keyer, multiplex=multiplex
    )
    try:
        assert (gw.lane.mux is not None) is multiplex
        single = await gw.check(check_input(CONSUMER))
        batch = await gw.check_many([check_input(CONSUMER), check_input(OTHER_CONSUMER), check_input("12")])
    finally:
        await gw.aclose()
    assert single.verdict.reason is Reason.REGISTERED
    assert [r.verdict.reason for r in batch] == [Reason.REGISTERED, Reason.NOT_REGISTERED, Reason.INVALID_NUMBER]
    events = await _entries(app, [single.call_id, *(r.call_id for r in batch)])
    assert [e[b"rsn"] for e in events] == [b"REGISTERED", b"REGISTERED", b"NOT_REGISTERED", b"INVALID_NUMBER"]
    assert single._replace(call_id="", request_id="") == batch[0]._replace(call_id="", request_id="")


async def test_batches_of_any_size_use_their_own_connection(app: Any) -> None:
    """A live Check never queues behind a scrub's script on the same socket, even for a batch of two."""

    async def last_commands() -> dict[str, str]:
        clients = await app.redis.client_list()
        return {c["name"]: c["cmd"] for c in clients if c["name"].startswith("dncgate-")}

    await app.gateway.check(check_input(CONSUMER))
    assert (await last_commands()).get("dncgate-check") == "evalsha"
    assert "dncgate-batch" not in await last_commands()
    await app.gateway.check_many([check_input(CONSUMER), check_input(OTHER_CONSUMER)])
    assert (await last_commands()).get("dncgate-batch") == "evalsha"
