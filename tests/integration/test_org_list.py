"""An org's own do-not-call list over real stores: the journal, its replication to Redis (single writes,
rebuild, catch-up), history as of a time, and "the later one wins" against consents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from dncgate.domain.errors import Conflict, InvalidArgument
from dncgate.domain.types import Decision, Mode, Reason, Source
from dncgate.service import sync
from dncgate.store.hot import ORG_LISTED
from tests.integration.support import CONSUMER, OTHER_CONSUMER, check_input, key_of, registry_hashes

pytestmark = pytest.mark.integration


async def _listed_in_redis(app: Any, org: str, number: str = CONSUMER) -> bool:
    hkey, field = app.hot.org_list_location(key_of(app, number), org)
    value = await app.redis.hget(hkey, field)
    assert value in (None, ORG_LISTED)
    return value is not None


async def _add(app: Any, org: str = "acme", number: str = CONSUMER, reason: str = "", **kw: Any) -> Any:
    return await app.registry.add_to_org_list(org, number, reason, kw.get("request_id"), actor="registry-desk")


async def _decision(app: Any, org: str = "acme", agent: str = "agent-1") -> tuple[Decision, Reason]:
    v = (await app.gateway.check(check_input(CONSUMER, org=org, agent=agent))).verdict
    return v.decision, v.reason


async def test_an_entry_is_journaled_under_the_keyed_hash_with_its_reason_masked_and_replicated(app: Any) -> None:
    """AddToOrgList appends a row keyed by the number's keyed hash (no number in clear, the reason masked,
    recorded_by the principal) and sets that org's field in the callee's consent hash, and only that org's."""
    view = await _add(app, reason="said stop on 13812348000")
    assert view.listed and view.change.listed and view.number_masked == "+86138****8000"
    assert view.change.recorded_by == "registry-desk"
    assert "13812348000" not in view.change.reason
    async with await psycopg.AsyncConnection.connect(app.settings.database_url) as conn:
        rows = await (await conn.execute("SELECT consumer_key, org_id, reason FROM org_list_journal")).fetchall()
    assert rows == [(key_of(app, CONSUMER), "acme", view.change.reason)]
    assert await _listed_in_redis(app, "acme")
    assert not await _listed_in_redis(app, "rival")
    assert not await _listed_in_redis(app, "acme", OTHER_CONSUMER)


async def test_removal_deletes_the_field_and_history_answers_as_of_a_time(app: Any) -> None:
    """RemoveFromOrgList deletes the Redis field; the history keeps both entries and says she was on the
    list between them, not before, not after."""
    added = await _add(app)
    removed = await app.registry.remove_from_org_list("acme", CONSUMER, None, actor="registry-desk")
    assert not removed.listed and not removed.change.listed
    assert not await _listed_in_redis(app, "acme")
    h = await app.registry.org_list_history(CONSUMER, "acme", None)
    assert [e.seq for e in h.entries] == [added.change.seq, removed.change.seq] and not h.listed
    between = added.change.recorded_at + (removed.change.recorded_at - added.change.recorded_at) / 2
    during = await app.registry.org_list_history(CONSUMER, "acme", between)
    assert during.listed and during.listed_since is not None and during.listed_since.seq == added.change.seq
    before = await app.registry.org_list_history(CONSUMER, "acme", added.change.recorded_at - timedelta(seconds=1))
    assert not before.listed
    assert (await app.registry.org_list_history(CONSUMER, "rival", None)).entries == []


async def test_request_ids_are_idempotent_and_conflict_across_numbers(app: Any) -> None:
    """The same request_id returns the first entry; reused for another number it is a Conflict."""
    first = await _add(app, request_id="ol-1")
    again = await _add(app, request_id="ol-1")
    assert again.change == first.change
    with pytest.raises(Conflict):
        await _add(app, number=OTHER_CONSUMER, request_id="ol-1")
    assert len((await app.registry.org_list_history(CONSUMER, "acme", None)).entries) == 1


async def test_bad_input_names_the_field(app: Any) -> None:
    """No org, no number, an unparsable number: InvalidArgument naming the field."""
    for org, number, field in (("", CONSUMER, "org_id"), ("acme", "", "number"), ("acme", "12", "number")):
        with pytest.raises(InvalidArgument) as exc:
            await _add(app, org, number)
        assert exc.value.field == field


async def test_a_list_entry_after_a_consent_ends_the_consent_and_a_later_consent_ends_the_entry(app: Any) -> None:
    """Registered, consented to acme: allowed; put on acme's list: the consent no longer counts (its field
    leaves Redis, the journal keeps it); an org-wide consent granted after that takes her off the list."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "form", None, actor="test")
    await app.registry.grant_consent(CONSUMER, "rival", "", None, "form", None, actor="test")
    assert await _decision(app) == (Decision.ALLOW, Reason.CONSENT_ON_FILE)
    await _add(app)
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)
    assert await _decision(app, "rival") == (Decision.ALLOW, Reason.CONSENT_ON_FILE)
    ckey, field = app.hot.consent_location(key_of(app, CONSUMER), "acme", "")
    assert await app.redis.hget(ckey, field) is None
    assert len((await app.registry.history(CONSUMER)).consents) == 2
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "new form", None, actor="test")
    assert not await _listed_in_redis(app, "acme")
    assert await _decision(app) == (Decision.ALLOW, Reason.CONSENT_ON_FILE)
    assert not (await app.registry.org_list_history(CONSUMER, "acme", None)).listed


async def test_an_agent_consent_after_the_entry_leaves_her_on_the_list(app: Any) -> None:
    """A consent to one agent granted after the entry is in effect for that agent, and the entry stays."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await _add(app)
    await app.registry.grant_consent(CONSUMER, "acme", "agent-1", None, "call", None, actor="test")
    assert await _listed_in_redis(app, "acme")
    assert await _decision(app, agent="agent-1") == (Decision.ALLOW, Reason.CONSENT_ON_FILE)
    assert await _decision(app, agent="agent-2") == (Decision.BLOCK, Reason.REGISTERED)


async def test_rebuild_and_catch_up_restore_the_list_fields_and_the_consents_they_override(app: Any) -> None:
    """FLUSHDB then rebuild, and a catch-up of entries journaled but never applied, give Redis the same
    hashes as the incremental writes."""
    await app.registry.set_preference(CONSUMER, True, [], Source.APP, None, None, actor="test")
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "form", None, actor="test")
    await _add(app)
    await _add(app, "rival", OTHER_CONSUMER)
    await app.registry.remove_from_org_list("rival", OTHER_CONSUMER, None, actor="test")
    await _add(app, "third", OTHER_CONSUMER)
    before = await registry_hashes(app.redis)
    await app.redis.flushdb()
    await sync.rebuild(app.journal, app.hot)
    assert await registry_hashes(app.redis) == before
    assert await _decision(app) == (Decision.BLOCK, Reason.REGISTERED)

    # Journaled only (a crash after the commit): the catch-up applies it, and the consent it overrides.
    await app.registry.grant_consent(CONSUMER, "fourth", "", None, "form", None, actor="test")
    async with app.journal.consumer(key_of(app, CONSUMER)) as session:
        await session.append_org_list("fourth", True, "", None, recorded_by="test")
    assert not await _listed_in_redis(app, "fourth")
    await sync.catch_up(app.registry, app.journal, app.hot)
    assert await _listed_in_redis(app, "fourth")
    assert await _decision(app, "fourth") == (Decision.BLOCK, Reason.REGISTERED)
    after = await registry_hashes(app.redis)
    await app.registry.reapply(key_of(app, CONSUMER))
    assert await registry_hashes(app.redis) == after


async def test_the_check_blocks_an_org_listed_callee_for_that_org_only(app: Any) -> None:
    """On acme's list: acme's Checks are BLOCK / ORG_LIST, rival's ALLOW; in monitor mode ALLOW with a
    violation; taken off the list, acme may call again."""
    assert await _decision(app) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    await _add(app)
    assert await _decision(app) == (Decision.BLOCK, Reason.ORG_LIST)
    assert await _decision(app, "rival") == (Decision.ALLOW, Reason.NOT_REGISTERED)
    await app.registry.set_org_policy("acme", Mode.MONITOR, None, actor="test")
    v = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (v.decision, v.reason, v.violation) == (Decision.ALLOW, Reason.ORG_LIST, True)
    await app.registry.set_org_policy("acme", Mode.ENFORCE, None, actor="test")
    await app.registry.remove_from_org_list("acme", CONSUMER, None, actor="test")
    assert await _decision(app) == (Decision.ALLOW, Reason.NOT_REGISTERED)


async def test_the_later_of_a_consent_and_a_list_entry_decides_the_check(app: Any) -> None:
    """Listed then an org-wide consent: allowed; a new entry after it: blocked again; an agent's consent
    after that excuses that agent only."""
    await _add(app)
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "form", None, actor="test")
    assert await _decision(app) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    await _add(app)
    assert await _decision(app) == (Decision.BLOCK, Reason.ORG_LIST)
    await app.registry.grant_consent(CONSUMER, "acme", "agent-1", None, "call", None, actor="test")
    assert await _decision(app, agent="agent-1") == (Decision.ALLOW, Reason.NOT_REGISTERED)
    assert await _decision(app, agent="agent-2") == (Decision.BLOCK, Reason.ORG_LIST)
