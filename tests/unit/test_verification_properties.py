"""Verification agrees with a brute-force model of calls, preferences and consents over time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.money import Money
from dncgate.domain.registry import ConsentChange, PreferenceChange
from dncgate.domain.types import Category, Decision, Source, mask_of
from dncgate.domain.verification import CallerVerdict, LoggedCall, Window, verify

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
FEE = Money(10000, "CNY")
CALLERS = ("+862759001111", "+862759002222", "+862759003333")
CATEGORY_SETS = (frozenset({Category.REAL_ESTATE}), frozenset({Category.FINANCE}), frozenset())  # () = all


def at(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


# The model: plain records with integer minutes and category sets, no masks and no domain types.
@dataclass(frozen=True)
class Pref:
    seq: int
    on: bool
    categories: frozenset[Category]  # empty = every category
    effective: int
    recorded: int


@dataclass(frozen=True)
class Grant:
    seq: int
    org: str
    agent: str
    granted: bool
    expires: int | None
    effective: int
    recorded: int


@dataclass(frozen=True)
class Call:
    call_id: str
    at: int
    caller: str
    org: str
    agent: str
    category: Category
    allowed: bool
    dialled: bool | None


def model_registered(prefs: list[Pref], t: int, category: Category) -> bool:
    """Replay every entry known and effective at t; the latest effective (then latest seq) wins."""
    state: Pref | None = None
    for p in sorted(prefs, key=lambda p: (p.effective, p.seq)):
        if p.effective <= t and p.recorded <= t:
            state = p
    if state is None or not state.on:
        return False
    return category is Category.UNSPECIFIED or not state.categories or category in state.categories


def model_consented(grants: list[Grant], t: int, org: str, agent: str) -> bool:
    for who in {"", agent}:
        state: Grant | None = None
        for g in sorted(grants, key=lambda g: (g.effective, g.seq)):
            if g.org == org and g.agent == who and g.effective <= t and g.recorded <= t:
                state = g
        if state is not None and state.granted and (state.expires is None or t < state.expires):
            return True
    return False


def model_verdict(
    caller: str, calls: list[Call], lo: int, hi: int, prefs: list[Pref], grants: list[Grant], paid: bool
) -> tuple[CallerVerdict, set[str]]:
    placed = [c for c in calls if c.caller == caller and lo <= c.at <= hi and (c.allowed or c.dialled is True)]
    bad = {
        c.call_id
        for c in placed
        if model_registered(prefs, c.at, c.category) and not model_consented(grants, c.at, c.org, c.agent)
    }
    if paid:
        return CallerVerdict.ALREADY_COMPENSATED, bad
    if bad:
        return CallerVerdict.VERIFIED, bad
    consented = {c.call_id for c in placed if model_registered(prefs, c.at, c.category)}
    if consented:
        return CallerVerdict.CONSENT_ON_FILE, consented
    if placed:
        return CallerVerdict.NOT_REGISTERED_AT_CALL_TIME, {c.call_id for c in placed}
    return CallerVerdict.NO_MATCHING_CALL, set()


minutes = st.integers(0, 40)
prefs_st = st.lists(
    st.builds(Pref, st.just(0), st.booleans(), st.sampled_from(CATEGORY_SETS), minutes, minutes), max_size=6
).map(lambda ps: [replace(p, seq=i + 1) for i, p in enumerate(ps)])
grants_st = st.lists(
    st.builds(
        Grant,
        st.just(0),
        st.sampled_from(["acme", "other"]),
        st.sampled_from(["", "a1", "a2"]),
        st.booleans(),
        st.one_of(st.none(), minutes),
        minutes,
        minutes,
    ),
    max_size=6,
).map(lambda gs: [replace(g, seq=100 + i) for i, g in enumerate(gs)])
calls_st = st.lists(
    st.builds(
        Call,
        st.just(""),
        minutes,
        st.sampled_from(CALLERS),
        st.sampled_from(["acme", "other"]),
        st.sampled_from(["a1", "a2"]),
        st.sampled_from([Category.UNSPECIFIED, Category.REAL_ESTATE, Category.FINANCE]),
        st.booleans(),
        st.sampled_from([None, True, False]),
    ),
    max_size=10,
).map(lambda cs: [replace(c, call_id=f"call-{i}") for i, c in enumerate(cs)])


def to_domain(prefs: list[Pref], grants: list[Grant], calls: list[Call]):
    return (
        [
            PreferenceChange(p.seq, p.on, mask_of(p.categories), Source.APP, at(p.effective), at(p.recorded))
            for p in prefs
        ],
        [
            ConsentChange(
                g.seq,
                g.org,
                g.agent,
                g.granted,
                None if g.expires is None else at(g.expires),
                "",
                at(g.effective),
                at(g.recorded),
            )
            for g in grants
        ],
        [
            LoggedCall(
                c.call_id,
                at(c.at),
                c.caller,
                c.org,
                c.agent,
                c.category,
                Decision.ALLOW if c.allowed else Decision.BLOCK,
                c.dialled,
            )
            for c in calls
        ],
    )


@settings(max_examples=500)
@given(prefs_st, grants_st, calls_st, minutes, minutes, st.sets(st.sampled_from(CALLERS)))
def test_verify_matches_the_brute_force_model(
    prefs: list[Pref], grants: list[Grant], calls: list[Call], a: int, b: int, paid: set[str]
) -> None:
    """For every caller: same verdict and the same calls behind it as the replayed model."""
    lo, hi = min(a, b), max(a, b)
    p, g, c = to_domain(prefs, grants, calls)
    found = verify(list(CALLERS), c, Window(at(lo), at(hi)), p, g, FEE, {x: f"PO-{x}" for x in paid})
    assert [f.caller_number for f in found] == list(CALLERS)
    for f in found:
        verdict, ids = model_verdict(f.caller_number, calls, lo, hi, prefs, grants, f.caller_number in paid)
        assert (f.verdict, set(f.call_ids)) == (verdict, ids), f.caller_number
        assert f.amount == (FEE if verdict is CallerVerdict.VERIFIED else Money(0, "CNY"))


@settings(max_examples=300)
@given(prefs_st, grants_st, calls_st, st.lists(st.tuples(st.booleans(), st.sampled_from(["", "a1", "a2"])), max_size=4))
def test_registry_changes_recorded_after_every_call_change_nothing(
    prefs: list[Pref], grants: list[Grant], calls: list[Call], late: list[tuple[bool, str]]
) -> None:
    """Consents and preferences recorded after the last call, even back-dated, leave every verdict as it was."""
    window = Window(at(0), at(40))
    p, g, c = to_domain(prefs, grants, calls)
    before = verify(list(CALLERS), c, window, p, g, FEE, {})
    extra_grants = [Grant(500 + i, "acme", agent, True, None, 0, 41) for i, (_, agent) in enumerate(late)]
    extra_prefs = [Pref(600 + i, on, frozenset(), 0, 41) for i, (on, _) in enumerate(late)]
    p2, g2, _ = to_domain(prefs + extra_prefs, grants + extra_grants, [])
    assert verify(list(CALLERS), c, window, p2, g2, FEE, {}) == before
