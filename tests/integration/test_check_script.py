"""The Lua script that classifies the stored state agrees with the Python fold, state by state."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.domain import decision as rules
from dncgate.domain.decision import CallAttempt
from dncgate.domain.registry import Consent, Schedule, epoch_us
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Mode, Source
from dncgate.phone import zone
from dncgate.store.hot import MODES
from tests.integration.support import CONSUMER, FakeClock, check_input, key_of

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai: inside the default calling hours
ORG, AGENT = "acme", "agent-1"


def _random_state(rng: random.Random) -> tuple[Schedule, dict[tuple[str, str], Consent | None], Mode | None]:
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
        return Consent(ORG, agent, expiry.replace(microsecond=0) if expiry else None)

    consents = {(ORG, ""): consent(""), (ORG, AGENT): consent(AGENT)}
    return schedule, consents, rng.choice([None, Mode.ENFORCE, Mode.MONITOR])


async def test_the_script_and_the_python_fold_give_the_same_verdict_for_random_states(app: Any) -> None:
    """For 300 random stored states, categories and default modes, one round trip decides as the fold does."""
    rng = random.Random(20261123)
    key = key_of(app, CONSUMER)
    app.gateway.clock = FakeClock(NOW.timestamp())
    for case in range(300):
        schedule, consents, mode = _random_state(rng)
        await app.hot.apply(key, schedule, consents, seq=case + 1)
        if mode is None:
            await app.redis.hdel(MODES, ORG)
        else:
            await app.hot.set_mode(ORG, mode)
        app.gateway.default_mode = rng.choice([Mode.ENFORCE, Mode.MONITOR])
        category = rng.choice(list(Category))

        snap = await app.hot.lookup(key, ORG, AGENT)
        attempt = CallAttempt(True, (zone("Asia/Shanghai"),), ORG, AGENT, category)
        expected = rules.decide(
            attempt,
            snap.schedule.mask_at(NOW),
            snap.consents,
            snap.mode or app.gateway.default_mode,
            app.gateway.hours,
            NOW,
        )
        got = (await app.gateway.check(check_input(CONSUMER, org=ORG, agent=AGENT, category=category))).verdict
        assert got == expected, (case, schedule, consents, mode, category)


async def test_a_flushed_script_cache_is_reloaded_transparently(app: Any) -> None:
    """After SCRIPT FLUSH (as after a Redis restart) the next Check still answers from the registry."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None)
    await app.gateway.check(check_input(CONSUMER))
    await app.redis.script_flush()
    result = await app.gateway.check(check_input(CONSUMER))
    assert result.verdict.reason.value == "REGISTERED"
