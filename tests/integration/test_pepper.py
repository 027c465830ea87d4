"""The pepper's fingerprint with the journal and in Redis: another pepper is refused, never read as unregistered."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import replace
from typing import Any

import pytest

from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.errors import PepperMismatch
from dncgate.domain.types import Decision, Reason, Source
from dncgate.phone import NumberKeyer
from dncgate.service import sync
from dncgate.store.hot import LAYOUT_VERSION
from tests.conftest import TEST_PEPPER
from tests.integration.support import CONSUMER, check_input

pytestmark = pytest.mark.integration

OTHER_PEPPER = bytes.fromhex("07e4" * 16)


async def stored_fingerprints(app: Any) -> list[str]:
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT fingerprint FROM pepper_fingerprint")).fetchall()
    return [r[0] for r in rows]


async def forget_fingerprint(app: Any) -> None:
    """What a database restored from elsewhere looks like: no fingerprint (TRUNCATE: rows can't be deleted)."""
    async with app.pool.connection() as conn:
        await conn.execute("TRUNCATE pepper_fingerprint")


async def decision(app: Any, number: str = CONSUMER) -> tuple[Decision, Reason]:
    r = await app.gateway.check(check_input(number))
    return r.verdict.decision, r.verdict.reason


async def test_the_journal_keeps_a_keyed_hash_of_the_pepper_never_the_pepper(app: Any) -> None:
    """The first process records HMAC-SHA256(pepper, constant)[:16] in hex; neither the pepper nor its hex is stored."""
    expected = hmac.new(TEST_PEPPER, b"dncgate pepper fingerprint v1", hashlib.sha256).digest()[:16].hex()
    assert await stored_fingerprints(app) == [expected]
    assert TEST_PEPPER.hex() not in expected and expected != NumberKeyer(OTHER_PEPPER).fingerprint()
    ready = b"%d/%d/%d/%s" % (LAYOUT_VERSION, app.hot.bits, app.hot.shards, expected.encode())
    assert [await app.redis.get(m) for m in app.hot.layout.readies] == [ready] * app.hot.shards


async def test_another_pepper_on_the_same_database_is_refused_before_touching_anything(
    app: Any, settings: Settings
) -> None:
    """Opening the stores with another pepper raises PepperMismatch naming DNCGATE_PEPPER; journal and Redis are as
    they were."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    ready = await app.redis.get(app.hot.layout.readies[0])
    with pytest.raises(PepperMismatch) as err:
        async with open_app(replace(settings, pepper=OTHER_PEPPER)):
            pass
    assert "DNCGATE_PEPPER" in err.value.message
    assert TEST_PEPPER.hex() not in err.value.message and OTHER_PEPPER.hex() not in err.value.message
    assert await stored_fingerprints(app) == [app.hot.fingerprint]
    assert await app.redis.get(app.hot.layout.readies[0]) == ready
    assert await decision(app) == (Decision.BLOCK, Reason.REGISTERED)


async def test_of_processes_starting_together_on_a_new_database_the_first_fingerprint_wins(app: Any) -> None:
    """Eight first starts with eight peppers at once: exactly one records its fingerprint, the others are refused."""
    await forget_fingerprint(app)
    fingerprints = [NumberKeyer(bytes([i]) * 32).fingerprint() for i in range(8)]
    outcomes = await asyncio.gather(*(app.journal.claim_pepper(f) for f in fingerprints), return_exceptions=True)
    winners = [f for f, o in zip(fingerprints, outcomes, strict=True) if o is None]
    assert len(winners) == 1
    assert all(isinstance(o, PepperMismatch) for o in outcomes if o is not None)
    assert await stored_fingerprints(app) == winners


async def test_a_rebuild_over_a_journal_of_another_pepper_is_refused_and_leaves_redis_alone(app: Any) -> None:
    """`rebuild` refuses a journal keyed with another pepper before it empties Redis."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await forget_fingerprint(app)
    await app.journal.claim_pepper(NumberKeyer(OTHER_PEPPER).fingerprint())
    with pytest.raises(PepperMismatch):
        await sync.rebuild(app.journal, app.hot)
    assert await app.hot.is_ready()
    assert await decision(app) == (Decision.BLOCK, Reason.REGISTERED)


async def test_a_redis_loaded_under_another_pepper_fails_closed_and_is_rebuilt_from_our_journal(app: Any) -> None:
    """Redis marked ready by another pepper reads as not loaded (BLOCK, never ALLOW); over a journal of ours, the
    start-up load rebuilds it."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    other = NumberKeyer(OTHER_PEPPER).fingerprint().encode()
    for marker in app.hot.layout.readies:
        await app.redis.set(marker, b"%d/%d/%d/%s" % (LAYOUT_VERSION, app.hot.bits, app.hot.shards, other))
    assert await decision(app) == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    assert await decision(app, "13912345678") == (Decision.BLOCK, Reason.REGISTRY_UNAVAILABLE)
    await sync.ensure_loaded(app.registry, app.journal, app.hot)
    assert await app.hot.is_ready()
    assert await decision(app) == (Decision.BLOCK, Reason.REGISTERED)
