"""RegistryService over real stores: journal first, then Redis; idempotency, time travel, validation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dncgate.domain.errors import Conflict, InvalidArgument
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Decision, Mode, Reason, Source, mask_of
from dncgate.service.registry import OrgPolicyView
from tests.integration.support import CONSUMER, OTHER_CONSUMER, FakeClock, check_input, key_of
from tests.reference import lookup

pytestmark = pytest.mark.integration


async def _set(app: Any, dnd: bool, number: str = CONSUMER, **kw: Any) -> Any:
    return await app.registry.set_preference(
        number, dnd, kw.get("categories", []), Source.APP, kw.get("effective_from"), kw.get("request_id"), actor="test"
    )


async def test_set_preference_journals_then_applies_to_redis(app: Any) -> None:
    """A do-not-disturb is written to the journal and is at once what Redis and the gateway see."""
    view = await _set(app, True)
    assert view.number_masked == "+86138****8000"
    history = await app.registry.history(CONSUMER)
    assert [c.seq for c in history.preferences] == [view.change.seq]
    snap = await lookup(app.hot, key_of(app, CONSUMER), "acme", "agent-1")
    assert snap.schedule.mask == ALL_CATEGORIES_MASK
    assert await app.hot.applied_seq() == view.change.seq
    verdict = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (verdict.decision, verdict.reason) == (Decision.BLOCK, Reason.REGISTERED)


async def test_clearing_do_not_disturb_removes_the_redis_field(app: Any) -> None:
    """Switching do-not-disturb off deletes the number's Redis field and the gateway allows again."""
    await _set(app, True)
    await _set(app, False)
    pkey, field = app.hot.pref_location(key_of(app, CONSUMER))
    assert await app.redis.hget(pkey, field) is None
    verdict = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (verdict.decision, verdict.reason) == (Decision.ALLOW, Reason.NOT_REGISTERED)


async def test_categories_limit_what_a_registration_blocks(app: Any) -> None:
    """A finance-only registration blocks finance and uncategorised calls but not real-estate calls."""
    await _set(app, True, categories=[Category.FINANCE])
    results = {}
    for cat in (Category.FINANCE, Category.REAL_ESTATE, Category.UNSPECIFIED):
        results[cat] = (await app.gateway.check(check_input(CONSUMER, category=cat))).verdict.decision
    assert results == {
        Category.FINANCE: Decision.BLOCK,
        Category.REAL_ESTATE: Decision.ALLOW,
        Category.UNSPECIFIED: Decision.BLOCK,
    }


async def test_same_request_id_twice_records_one_entry(app: Any) -> None:
    """A retried set_preference with the same request_id returns the first entry and journals nothing new."""
    first = await _set(app, True, request_id="req-1")
    again = await _set(app, False, request_id="req-1")
    assert again.change == first.change
    assert len((await app.registry.history(CONSUMER)).preferences) == 1
    assert (await app.gateway.check(check_input(CONSUMER))).verdict.decision is Decision.BLOCK


async def test_request_id_reused_for_another_number_is_a_conflict(app: Any) -> None:
    """Reusing a preference request_id for a different number raises Conflict and journals nothing."""
    await _set(app, True, request_id="req-1")
    with pytest.raises(Conflict):
        await _set(app, True, number=OTHER_CONSUMER, request_id="req-1")
    assert (await app.registry.history(OTHER_CONSUMER)).preferences == []


async def test_consent_and_policy_request_ids_are_idempotent_and_conflict_across_subjects(app: Any) -> None:
    """Consent and org-policy request_ids replay the first entry, and raise Conflict for another subject."""
    a = await app.registry.grant_consent(CONSUMER, "acme", "", None, "call 1", "c-1", actor="test")
    b = await app.registry.grant_consent(CONSUMER, "acme", "", None, "call 1", "c-1", actor="test")
    assert a.change == b.change
    assert len((await app.registry.history(CONSUMER)).consents) == 1
    with pytest.raises(Conflict):
        await app.registry.grant_consent(OTHER_CONSUMER, "acme", "", None, "call 1", "c-1", actor="test")
    assert (await app.registry.set_org_policy("acme", Mode.MONITOR, "p-1", actor="test")).mode is Mode.MONITOR
    assert (await app.registry.set_org_policy("acme", Mode.ENFORCE, "p-1", actor="test")).mode is Mode.MONITOR
    with pytest.raises(Conflict):
        await app.registry.set_org_policy("other-org", Mode.MONITOR, "p-1", actor="test")


async def test_get_preference_as_of_a_past_time_returns_the_entry_then_in_effect(app: Any) -> None:
    """Asking as of a moment between two changes returns the earlier one; before both returns nothing."""
    before = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await _set(app, True)
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await _set(app, False)
    assert (await app.registry.get_preference(CONSUMER, before)).change is None
    assert (await app.registry.get_preference(CONSUMER, between)).change.do_not_disturb is True
    assert (await app.registry.get_preference(CONSUMER, None)).change.do_not_disturb is False


async def test_backdated_entry_is_not_visible_as_of_a_time_before_it_was_recorded(app: Any) -> None:
    """A change recorded now but effective an hour ago is invisible as of 30 minutes ago, visible now."""
    now = datetime.now(UTC)
    await _set(app, True, effective_from=now - timedelta(hours=1))
    assert (await app.registry.get_preference(CONSUMER, now - timedelta(minutes=30))).change is None
    current = (await app.registry.get_preference(CONSUMER, None)).change
    assert current is not None
    assert current.do_not_disturb is True
    assert current.effective_from == now - timedelta(hours=1)


async def test_history_lists_every_change_in_journal_order(app: Any) -> None:
    """History returns preference and consent entries in the order they were journalled, back-dated ones too."""
    now = datetime.now(UTC)
    p1 = await _set(app, True)
    p2 = await _set(app, False, effective_from=now - timedelta(days=1))
    c1 = await app.registry.grant_consent(CONSUMER, "acme", "", None, "e", None, actor="test")
    p3 = await _set(app, True, effective_from=now + timedelta(days=1), categories=[Category.HEALTH])
    c2 = await app.registry.revoke_consent(CONSUMER, "acme", "", None, actor="test")
    h = await app.registry.history(CONSUMER)
    assert h.number_masked == "+86138****8000"
    assert [c.seq for c in h.preferences] == [p1.change.seq, p2.change.seq, p3.change.seq]
    assert [c.seq for c in h.consents] == [c1.change.seq, c2.change.seq]
    assert [c.granted for c in h.consents] == [True, False]
    assert h.preferences[2].categories_mask == mask_of([Category.HEALTH])


async def test_future_effective_from_is_registered_later_not_now(app: Any, clock: FakeClock) -> None:
    """A registration effective in a minute is not in effect now: the gateway allows now and blocks after."""
    app.gateway.clock = clock
    starts = datetime.fromtimestamp(int(clock() + 60), UTC)
    await _set(app, True, effective_from=starts)
    assert (await app.registry.get_preference(CONSUMER, None)).change is None
    later = (await app.registry.get_preference(CONSUMER, starts + timedelta(seconds=1))).change
    assert later is not None
    assert later.do_not_disturb is True
    snap = await lookup(app.hot, key_of(app, CONSUMER), "acme", "agent-1")
    assert snap.schedule.mask == 0
    assert [m for _, m in snap.schedule.upcoming] == [ALL_CATEGORIES_MASK]
    verdict = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (verdict.decision, verdict.reason) == (Decision.ALLOW, Reason.NOT_REGISTERED)
    clock.advance(61)
    verdict = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (verdict.decision, verdict.reason) == (Decision.BLOCK, Reason.REGISTERED)


async def _decisions(app: Any, *pairs: tuple[str, str]) -> list[tuple[Decision, Reason]]:
    out = []
    for org, agent in pairs:
        v = (await app.gateway.check(check_input(CONSUMER, org=org, agent=agent))).verdict
        out.append((v.decision, v.reason))
    return out


ALLOWED = (Decision.ALLOW, Reason.CONSENT_ON_FILE)
BLOCKED = (Decision.BLOCK, Reason.REGISTERED)


async def test_org_wide_consent_lets_every_agent_of_that_org_only(app: Any) -> None:
    """A consent to an org allows all its agents to call a registered number, and no other org."""
    await _set(app, True)
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "signed form", None, actor="test")
    assert await _decisions(app, ("acme", "agent-1"), ("acme", "agent-2"), ("rival", "agent-1")) == [
        ALLOWED,
        ALLOWED,
        BLOCKED,
    ]


async def test_agent_consent_lets_only_that_agent(app: Any) -> None:
    """A consent to one agent allows that agent only; revoking the org-wide consent does not remove it."""
    await _set(app, True)
    await app.registry.grant_consent(CONSUMER, "acme", "agent-1", None, "call", None, actor="test")
    await app.registry.revoke_consent(CONSUMER, "acme", "", None, actor="test")
    assert await _decisions(app, ("acme", "agent-1"), ("acme", "agent-2")) == [ALLOWED, BLOCKED]


async def test_revoked_consent_blocks_again_and_leaves_redis(app: Any) -> None:
    """Revoking a consent deletes its Redis field and the registered number is blocked again."""
    await _set(app, True)
    await app.registry.grant_consent(CONSUMER, "acme", "", None, "call", None, actor="test")
    await app.registry.revoke_consent(CONSUMER, "acme", "", None, actor="test")
    ckey, field = app.hot.consent_location(key_of(app, CONSUMER), "acme", "")
    assert await app.redis.hget(ckey, field) is None
    assert await _decisions(app, ("acme", "agent-1")) == [BLOCKED]


async def test_consent_expires_at_its_expiry_time(app: Any, clock: FakeClock) -> None:
    """A consent expiring in a minute allows calls now and no longer once the minute has passed."""
    app.gateway.clock = clock
    await _set(app, True)
    expires = datetime.fromtimestamp(int(clock() + 60), UTC)
    await app.registry.grant_consent(CONSUMER, "acme", "", expires, "call", None, actor="test")
    assert await _decisions(app, ("acme", "agent-1")) == [ALLOWED]
    clock.advance(61)
    assert await _decisions(app, ("acme", "agent-1")) == [BLOCKED]


async def test_org_policy_defaults_then_follows_the_journal_into_redis(app: Any) -> None:
    """An org with no policy gets the default; a MONITOR policy is journalled, put in the gateway's copy of
    the policies (Redis holds no mode), and flags calls."""
    assert await app.registry.get_org_policy("acme") == OrgPolicyView(Mode.ENFORCE, explicit=False)
    await _set(app, True)
    await app.registry.set_org_policy("acme", Mode.MONITOR, None, actor="test")
    assert await app.registry.get_org_policy("acme") == OrgPolicyView(Mode.MONITOR, True, "test")
    assert app.gateway.org_caps.monitors == {"acme": True}
    assert not await app.redis.exists(b"dnc:mode")
    v = (await app.gateway.check(check_input(CONSUMER))).verdict
    assert (v.decision, v.reason, v.violation) == (Decision.ALLOW, Reason.REGISTERED, True)
    await app.registry.set_org_policy("acme", Mode.ENFORCE, None, actor="test")
    assert await _decisions(app, ("acme", "agent-1")) == [BLOCKED]


async def test_replaying_an_old_policy_request_id_keeps_the_latest_mode_in_force(app: Any) -> None:
    """Retrying an earlier set_org_policy after a newer one returns the old entry, with who made it;
    the Checks keep the newest mode."""
    await app.registry.set_org_policy("acme", Mode.MONITOR, "p-1", actor="alice (token a1)")
    await app.registry.set_org_policy("acme", Mode.ENFORCE, "p-2", actor="bob (token b2)")
    replayed = await app.registry.set_org_policy("acme", Mode.MONITOR, "p-1", actor="carol (token c3)")
    assert replayed == OrgPolicyEntry(Mode.MONITOR, "alice (token a1)")
    assert await app.registry.get_org_policy("acme") == OrgPolicyView(Mode.ENFORCE, True, "bob (token b2)")
    assert app.gateway.org_caps.monitors == {"acme": False}


async def test_a_masked_policy_change_keeps_the_other_fields_and_the_gateway_signs_at_once(app: Any) -> None:
    """signed_receipts by mask leaves the mode; a mode change without a mask leaves the receipts; the
    journal's receipt orgs and this process's gateway follow each change; a replayed request_id
    returns its own entry, whole."""
    await app.registry.set_org_policy("acme", Mode.MONITOR, None, actor="test")
    on = await app.registry.set_org_policy(
        "acme", None, "r-1", actor="alice", changes={"signed_receipts": True}, update_mask=["signed_receipts"]
    )
    assert on == OrgPolicyEntry(Mode.MONITOR, "alice", signed_receipts=True)
    assert await app.journal.receipt_orgs() == {"acme"} and app.gateway.receipts.orgs == {"acme"}
    assert (await app.gateway.check(check_input(CONSUMER))).receipt is not None
    await app.registry.set_org_policy("acme", Mode.ENFORCE, None, actor="bob")
    assert await app.registry.get_org_policy("acme") == OrgPolicyView(Mode.ENFORCE, True, "bob", signed_receipts=True)
    replayed = await app.registry.set_org_policy("acme", Mode.MONITOR, "r-1", actor="carol")
    assert replayed == on
    await app.registry.set_org_policy(
        "acme", None, None, actor="dan", changes={"signed_receipts": False}, update_mask=["signed_receipts"]
    )
    assert await app.journal.receipt_orgs() == frozenset() and app.gateway.receipts.orgs == frozenset()
    assert (await app.gateway.check(check_input(CONSUMER))).receipt is None
    assert (await app.journal.org_policies())["acme"] == OrgPolicyEntry(Mode.ENFORCE, "dan", signed_receipts=False)


INVALID_CALLS = [
    ("number", lambda r: r.set_preference("12345", True, [], Source.APP, None, None, actor="test")),
    ("number", lambda r: r.set_preference("  ", True, [], Source.APP, None, None, actor="test")),
    ("source", lambda r: r.set_preference(CONSUMER, True, [], Source.UNSPECIFIED, None, None, actor="test")),
    ("number", lambda r: r.get_preference("not a number", None)),
    ("number", lambda r: r.history("")),
    ("consumer_number", lambda r: r.grant_consent("999", "acme", "", None, "", None, actor="test")),
    ("org_id", lambda r: r.grant_consent(CONSUMER, " ", "", None, "", None, actor="test")),
    ("org_id", lambda r: r.revoke_consent(CONSUMER, "", "", None, actor="test")),
    ("agent_id", lambda r: r.grant_consent(CONSUMER, "acme", "a\x00b", None, "", None, actor="test")),
    (
        "expires_at",
        lambda r: r.grant_consent(CONSUMER, "acme", "", datetime(2000, 1, 1, tzinfo=UTC), "", None, actor="test"),
    ),
    ("org_id", lambda r: r.set_org_policy("", Mode.MONITOR, None, actor="test")),
    ("mode", lambda r: r.set_org_policy("acme", None, None, actor="test")),
    ("update_mask", lambda r: r.set_org_policy("acme", Mode.ENFORCE, None, actor="test", update_mask=["modes"])),
    ("org_id", lambda r: r.get_org_policy("")),
]


@pytest.mark.parametrize(("field", "call"), INVALID_CALLS)
async def test_invalid_or_missing_fields_raise_invalid_argument_naming_the_field(
    app: Any, field: str, call: Any
) -> None:
    """Bad input raises InvalidArgument naming the offending field, and nothing reaches the journal."""
    with pytest.raises(InvalidArgument) as err:
        await call(app.registry)
    assert err.value.field == field
    async with app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM preference_journal) + (SELECT count(*) FROM consent_journal)"
                " + (SELECT count(*) FROM org_policy_journal)"
            )
        ).fetchone()
    assert row is not None
    assert row[0] == 0
