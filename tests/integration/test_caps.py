"""Frequency caps on the Check path: counted atomically by the Check's script, read by a scrub, given
back by a not-dialled report, over rolling windows (a fixed clock drives the script's `now`)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.config import Settings
from dncgate.domain.types import Decision, Mode, Reason, Source
from dncgate.service.outcome import OutcomeReport
from tests.integration.support import CONSUMER, OTHER_CONSUMER, FakeClock, check_input, key_of, set_mode

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PER_DAY, PER_WEEK = 3, 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with the caps on (the suite runs with them off)."""
    return replace(settings, cap_per_day=PER_DAY, cap_per_week=PER_WEEK)


def _at(app: Any, t: datetime) -> None:
    app.gateway.clock = FakeClock(t.timestamp())


async def _check(app: Any, callee: str = CONSUMER, org: str = "acme") -> Any:
    return await app.gateway.check(check_input(callee, org=org))


async def test_fifty_concurrent_checks_for_one_consumer_allow_exactly_the_cap(app: Any) -> None:
    """Two dialers can't both take the last slot: of 50 Checks at once, exactly PER_DAY are ALLOWed, the
    rest BLOCK / FREQUENCY_CAP with the slot's time a day after the first."""
    _at(app, T0)
    results = await asyncio.gather(*(_check(app, org=f"org-{i % 5}") for i in range(50)))
    allowed = [r for r in results if r.verdict.decision is Decision.ALLOW]
    assert len(allowed) == PER_DAY
    blocked = [r.verdict for r in results if r.verdict.decision is Decision.BLOCK]
    assert {(v.reason, v.next_allowed_time) for v in blocked} == {(Reason.FREQUENCY_CAP, T0 + DAY)}
    key = app.hot.layout.cap_key(key_of(app, CONSUMER))
    assert await app.redis.zcard(key) == PER_DAY
    assert 0 < await app.redis.pttl(key) <= 7 * 86_400_000
    assert (await _check(app, OTHER_CONSUMER)).verdict.decision is Decision.ALLOW  # her cap, not his


async def test_the_day_window_rolls_and_the_week_cap_binds_across_days(app: Any) -> None:
    for minute in range(PER_DAY):
        _at(app, T0 + timedelta(minutes=minute))
        assert (await _check(app)).verdict.reason is Reason.NOT_REGISTERED
    _at(app, T0 + timedelta(hours=5))
    v = (await _check(app)).verdict
    assert (v.decision, v.reason, v.next_allowed_time) == (Decision.BLOCK, Reason.FREQUENCY_CAP, T0 + DAY)
    _at(app, T0 + DAY - timedelta(microseconds=1))
    assert (await _check(app)).verdict.reason is Reason.FREQUENCY_CAP
    _at(app, T0 + DAY)  # the first call is exactly a day old: aged out
    assert (await _check(app)).verdict.decision is Decision.ALLOW
    _at(app, T0 + DAY + timedelta(hours=1))
    assert (await _check(app)).verdict.decision is Decision.ALLOW  # five in the week now
    _at(app, T0 + DAY + timedelta(hours=2))
    v = (await _check(app)).verdict
    # The day holds two calls; the week five: the week's oldest frees its slot.
    assert (v.reason, v.next_allowed_time) == (Reason.FREQUENCY_CAP, T0 + 7 * DAY)
    _at(app, T0 + 7 * DAY)
    assert (await _check(app)).verdict.decision is Decision.ALLOW


async def test_a_scrub_takes_no_slot_and_reads_the_caps(app: Any) -> None:
    _at(app, T0)
    for _ in range(2):
        results = await app.gateway.check_many([check_input(CONSUMER)] * 4)
        assert {r.verdict.reason for r in results} == {Reason.NOT_REGISTERED}
    for _ in range(PER_DAY):
        assert (await _check(app)).verdict.decision is Decision.ALLOW
    results = await app.gateway.check_many([check_input(CONSUMER), check_input(OTHER_CONSUMER)])
    assert [(r.verdict.reason, r.verdict.next_allowed_time) for r in results] == [
        (Reason.FREQUENCY_CAP, T0 + DAY),
        (Reason.NOT_REGISTERED, None),
    ]
    assert await app.redis.zcard(app.hot.layout.cap_key(key_of(app, CONSUMER))) == PER_DAY


async def test_monitor_mode_allows_a_capped_call_flags_it_and_counts_it(app: Any) -> None:
    """Monitor mode: the capped call is ALLOW with a violation, and is counted (it is placed)."""
    set_mode(app, "acme", Mode.MONITOR)
    _at(app, T0)
    verdicts = [(await _check(app)).verdict for _ in range(PER_DAY + 1)]
    assert [v.violation for v in verdicts] == [False] * PER_DAY + [True]
    last = verdicts[-1]
    assert (last.decision, last.reason, last.next_allowed_time) == (Decision.ALLOW, Reason.FREQUENCY_CAP, T0 + DAY)
    assert await app.redis.zcard(app.hot.layout.cap_key(key_of(app, CONSUMER))) == PER_DAY + 1


async def test_do_not_disturb_comes_before_the_caps_and_a_consented_call_counts(app: Any) -> None:
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    _at(app, T0)
    assert (await _check(app)).verdict.reason is Reason.REGISTERED
    assert await app.redis.zcard(app.hot.layout.cap_key(key_of(app, CONSUMER))) == 0  # a BLOCK is not counted
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "signed form", None, actor="test")
    reasons = [(await _check(app)).verdict.reason for _ in range(PER_DAY + 1)]
    assert reasons == [Reason.CONSENT_ON_FILE] * PER_DAY + [Reason.FREQUENCY_CAP]


async def test_a_call_reported_not_dialled_gives_its_slot_back_once(app: Any) -> None:
    app.gateway.clock = FakeClock()  # the call is found by its id, which carries the real time
    first = [await _check(app) for _ in range(PER_DAY)]
    assert (await _check(app)).verdict.reason is Reason.FREQUENCY_CAP
    report = OutcomeReport(first[0].call_id, False, False, 0, False, "", not_dialled=True)
    for _ in range(2):  # a repeated report gives nothing more back
        await app.outcomes.report(report, actor="test")
    assert (await _check(app)).verdict.decision is Decision.ALLOW
    assert (await _check(app)).verdict.reason is Reason.FREQUENCY_CAP


async def test_the_scripts_count_as_a_plain_fold_of_the_stored_calls(app: Any) -> None:
    """For random counted calls (times over eight days, at the window edges too) and random caps, the
    single Check and the scrub both answer as a Python fold of the stored times does."""
    rng = random.Random(20261201)
    key = key_of(app, CONSUMER)
    now_us = int(T0.timestamp()) * 1_000_000
    lane = app.gateway.lane
    _at(app, T0)
    for round_ in range(150):
        day, week = rng.choice([0, 1, 2, 3]), rng.choice([0, 2, 4, 6])
        lane.caps = (day, week)
        await app.redis.delete(app.hot.layout.cap_key(key))
        offsets = [
            rng.choice([0, 1, 86_400_000_000, 86_400_000_001, 604_800_000_000, rng.randrange(8 * 86_400_000_000)])
            for _ in range(rng.randint(0, 8))
        ]
        times = sorted(now_us - o for o in offsets)
        if times:
            await app.redis.zadd(app.hot.layout.cap_key(key), {f"c{i}": t for i, t in enumerate(times)})
        until = 0
        for cap, span in ((day, 86_400_000_000), (week, 604_800_000_000)):
            inside = [t for t in times if t > now_us - span]
            if cap and len(inside) >= cap:
                until = max(until, inside[len(inside) - cap] + span)
        expected = (
            # to the millisecond, rounded up: a slot is free by then
            (Reason.FREQUENCY_CAP, datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=-(-until // 1000)))
            if until
            else (Reason.NOT_REGISTERED, None)
        )
        [scrub] = await app.gateway.check_many([check_input(CONSUMER)])
        assert (scrub.verdict.reason, scrub.verdict.next_allowed_time) == expected, (round_, day, week, offsets)
        single = (await _check(app)).verdict
        assert (single.reason, single.next_allowed_time) == expected, (round_, day, week, offsets)
        # A counted call drops those older than the longest window on; a capped one changes nothing.
        counted = await app.redis.zcard(app.hot.layout.cap_key(key))
        if until:
            assert counted == len(times)
        elif day or week:
            longest = 604_800_000_000 if week else 86_400_000_000
            assert counted == len([t for t in times if t > now_us - longest]) + 1
        else:
            assert counted == len(times)  # caps off: nothing counted


async def _set_org_cap(app: Any, org: str, cap: int) -> None:
    await app.registry.set_org_policy(
        org, None, None, actor="test", changes={"max_calls_per_day": cap}, update_mask=["max_calls_per_day"]
    )


async def test_an_orgs_own_daily_cap_binds_its_calls_only(app: Any) -> None:
    """acme's own cap of 1: its second call to her is FREQUENCY_CAP, while another org still has a slot
    under the caps across orgs; a scrub reads the org's cap too; the journal holds it."""
    await _set_org_cap(app, "acme", 1)
    assert app.gateway.org_caps.caps == {"acme": 1}  # this process's Checks, at once
    assert (await app.registry.get_org_policy("acme")).max_calls_per_day == 1
    _at(app, T0)
    assert (await _check(app)).verdict.decision is Decision.ALLOW
    v = (await _check(app)).verdict
    assert (v.reason, v.next_allowed_time) == (Reason.FREQUENCY_CAP, T0 + DAY)
    [scrub] = await app.gateway.check_many([check_input(CONSUMER)])
    assert (scrub.verdict.reason, scrub.verdict.next_allowed_time) == (Reason.FREQUENCY_CAP, T0 + DAY)
    assert (await _check(app, org="globex")).verdict.decision is Decision.ALLOW
    assert (await app.journal.check_policies())[0] == {"acme": 1}
    await _set_org_cap(app, "acme", 0)  # no cap of its own: the caps across orgs still count
    assert app.gateway.org_caps.caps == {}
    assert (await _check(app)).verdict.decision is Decision.ALLOW  # her third call today
    assert (await _check(app)).verdict.reason is Reason.FREQUENCY_CAP


async def test_an_orgs_cap_is_read_from_the_journal_by_other_replicas(app: Any) -> None:
    from dncgate.service.org_caps import OrgCaps

    await _set_org_cap(app, "acme", 2)
    other = OrgCaps()
    await other.refresh(app.journal.check_policies)
    assert other.caps == {"acme": 2}
    assert other.monitors == {"acme": False}  # its mode, read in the same step


@pytest.mark.parametrize("cap", [-1, 1001])
async def test_an_orgs_cap_out_of_range_is_invalid_argument_naming_it(app: Any, cap: int) -> None:
    from dncgate.domain.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as exc:
        await _set_org_cap(app, "acme", cap)
    assert exc.value.field == "max_calls_per_day"


async def test_not_dialled_gives_the_orgs_slot_back_too(app: Any) -> None:
    await _set_org_cap(app, "acme", 1)
    app.gateway.clock = FakeClock()
    first = await _check(app)
    assert (await _check(app)).verdict.reason is Reason.FREQUENCY_CAP
    await app.outcomes.report(OutcomeReport(first.call_id, False, False, 0, False, "", not_dialled=True), actor="test")
    assert (await _check(app)).verdict.decision is Decision.ALLOW


async def test_not_dialled_with_dialled_is_invalid_argument_naming_it(app: Any) -> None:
    from dncgate.domain.errors import InvalidArgument

    app.gateway.clock = FakeClock()
    call = await _check(app)
    with pytest.raises(InvalidArgument) as exc:
        await app.outcomes.report(OutcomeReport(call.call_id, True, False, 0, False, "", not_dialled=True), actor="t")
    assert exc.value.field == "not_dialled"


async def test_a_consent_exempt_from_caps_is_neither_capped_nor_counted(app: Any) -> None:
    """Registered with an exempt consent to acme: every call is CONSENT_ON_FILE and none counts; without a
    registration too; a consent to one agent exempts that agent's calls only."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    view = await app.registry.grant_consent(
        CONSUMER, "acme", "", None, "call-back", None, actor="t", exempt_from_caps=True
    )
    assert view.change.exempt_from_caps
    assert [c.exempt_from_caps for c in (await app.registry.history(CONSUMER)).consents] == [True]
    _at(app, T0)
    reasons = {(await _check(app)).verdict.reason for _ in range(PER_WEEK + 2)}
    assert reasons == {Reason.CONSENT_ON_FILE}
    assert await app.redis.zcard(app.hot.layout.cap_key(key_of(app, CONSUMER))) == 0

    await app.registry.grant_consent(
        OTHER_CONSUMER, "acme", "agent-1", None, "cb", None, actor="t", exempt_from_caps=True
    )
    assert {(await _check(app, OTHER_CONSUMER)).verdict.reason for _ in range(PER_DAY + 1)} == {Reason.NOT_REGISTERED}
    other_agent = [
        (await app.gateway.check(check_input(OTHER_CONSUMER, agent="agent-2"))).verdict.reason
        for _ in range(PER_DAY + 1)
    ]
    assert other_agent == [Reason.NOT_REGISTERED] * PER_DAY + [Reason.FREQUENCY_CAP]
