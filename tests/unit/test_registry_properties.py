"""Properties of the journals: the hot-path schedule agrees with the journal, and folds match replays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.registry import (
    Consent,
    ConsentChange,
    PreferenceChange,
    consents_at,
    epoch_us,
    preference_at,
    schedule_of,
)
from dncgate.domain.types import ALL_CATEGORIES_MASK, Source
from tests.reference import mask_at

EPOCH = datetime(2026, 11, 23, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)
masks = st.sampled_from([0b10, 0b100, 0b1_0010, ALL_CATEGORIES_MASK])


def whole_seconds(lo: int = 0, hi: int = 40) -> st.SearchStrategy[datetime]:
    """Instants on whole seconds in a narrow range, so that equal effective times are common."""
    return st.integers(lo, hi).map(lambda s: EPOCH + s * SECOND)


def any_instant(lo: int = 0, hi: int = 40) -> st.SearchStrategy[datetime]:
    return st.integers(lo * 10**6, hi * 10**6).map(lambda us: EPOCH + us * MICRO)


@st.composite
def preference_journals(draw: st.DrawFn, effective: st.SearchStrategy[datetime]) -> list[PreferenceChange]:
    """A journal in arbitrary order with unique seqs; recorded_at is free (back-dating is allowed)."""
    n = draw(st.integers(0, 8))
    seqs = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n, unique=True))
    return [
        PreferenceChange(seq, draw(st.booleans()), draw(masks), Source.APP, draw(effective), draw(any_instant()))
        for seq in seqs
    ]


def probe_times(changes: Sequence[PreferenceChange], now: datetime, extra: Sequence[datetime]) -> list[datetime]:
    """Instants at and after now, including each effective time, its neighbours and the next whole seconds."""
    around = [c.effective_from + d for c in changes for d in (-SECOND, -MICRO, 0 * MICRO, MICRO, SECOND / 2)]
    return sorted({t for t in [now, now + MICRO, *around, *extra] if t >= now})


def mask_of_entry(entry: PreferenceChange | None) -> int:
    return entry.mask if entry else 0


@settings(max_examples=400)
@given(preference_journals(whole_seconds()), any_instant(), st.lists(any_instant(0, 60), max_size=5))
def test_the_schedule_agrees_with_the_journal_at_every_later_instant(
    changes: list[PreferenceChange], now: datetime, extra: list[datetime]
) -> None:
    """With effective times on whole seconds, mask_at(t) is the journal's mask at t for every t >= now."""
    schedule = schedule_of(changes, now)
    for t in probe_times(changes, now, extra):
        assert mask_at(schedule, t) == mask_of_entry(preference_at(changes, t)), t


@settings(max_examples=400)
@given(preference_journals(any_instant()), any_instant(), st.lists(any_instant(0, 60), max_size=5))
def test_with_sub_second_effective_times_the_schedule_still_agrees_at_every_instant(
    changes: list[PreferenceChange], now: datetime, extra: list[datetime]
) -> None:
    """Epochs are microseconds, so even sub-second effective times switch exactly when the journal says."""
    schedule = schedule_of(changes, now)
    for t in probe_times(changes, now, extra):
        assert mask_at(schedule, t) == mask_of_entry(preference_at(changes, t)), t


@given(preference_journals(whole_seconds()), any_instant())
def test_the_schedule_upcoming_epochs_are_strictly_after_now_and_ascending(
    changes: list[PreferenceChange], now: datetime
) -> None:
    """Scheduled changes are later than now, one per instant, in order."""
    epochs = [epoch for epoch, _ in schedule_of(changes, now).upcoming]
    assert all(epoch > epoch_us(now) for epoch in epochs)
    assert epochs == sorted(set(epochs))


def replay_preference(
    changes: Sequence[PreferenceChange], at: datetime, known_at: datetime | None = None
) -> PreferenceChange | None:
    """Reference: apply every known entry in (effective time, seq) order, stopping after `at`."""
    state = None
    known = [c for c in changes if known_at is None or c.recorded_at <= known_at]
    for c in sorted(known, key=lambda c: (c.effective_from, c.seq)):
        if c.effective_from <= at:
            state = c
    return state


@settings(max_examples=300)
@given(preference_journals(any_instant()), any_instant())
def test_preference_at_equals_a_replay_of_the_journal(changes: list[PreferenceChange], at: datetime) -> None:
    """Without known_at, preference_at picks what replaying every entry in order would leave."""
    assert preference_at(changes, at) == replay_preference(changes, at)
    assert preference_at(list(reversed(changes)), at) == replay_preference(changes, at)


@settings(max_examples=300)
@given(preference_journals(any_instant()), any_instant(), any_instant())
def test_preference_at_known_at_equals_a_replay_of_the_entries_known_then(
    changes: list[PreferenceChange], at: datetime, known_at: datetime
) -> None:
    """With known_at, it is the replay of only the entries recorded by then."""
    assert preference_at(changes, at, known_at=known_at) == replay_preference(changes, at, known_at)


@given(preference_journals(any_instant()), any_instant())
def test_knowing_everything_is_the_same_as_not_asking(changes: list[PreferenceChange], at: datetime) -> None:
    """known_at after every recorded_at gives the same answer as known_at=None."""
    assert preference_at(changes, at, known_at=EPOCH + 100 * SECOND) == preference_at(changes, at)


# --- consents -------------------------------------------------------------------------------------

parties = st.sampled_from([("org-a", ""), ("org-a", "a1"), ("org-a", "a2"), ("org-b", "")])


@st.composite
def consent_journals(draw: st.DrawFn) -> list[ConsentChange]:
    n = draw(st.integers(0, 8))
    seqs = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n, unique=True))
    out = []
    for seq in seqs:
        org, agent = draw(parties)
        granted, expires = draw(st.booleans()), draw(st.none() | any_instant())
        effective, recorded = draw(any_instant()), draw(any_instant())
        out.append(ConsentChange(seq, org, agent, granted, expires, "", effective, recorded))
    return out


def replay_consents(changes: Sequence[ConsentChange], at: datetime, known_at: datetime | None) -> set[Consent]:
    """Reference: per (org, agent), the last known entry in effect decides; a grant counts until it expires."""
    state: dict[tuple[str, str], ConsentChange] = {}
    known = [c for c in changes if (known_at is None or c.recorded_at <= known_at) and c.effective_at <= at]
    for c in sorted(known, key=lambda c: (c.effective_at, c.seq)):
        state[(c.org_id, c.agent_id)] = c
    return {
        Consent(c.org_id, c.agent_id, c.expires_at)
        for c in state.values()
        if c.granted and (c.expires_at is None or at < c.expires_at)
    }


@settings(max_examples=300)
@given(consent_journals(), any_instant(), st.none() | any_instant())
def test_consents_at_equals_a_replay_of_the_consent_journal(
    changes: list[ConsentChange], at: datetime, known_at: datetime | None
) -> None:
    """consents_at gives exactly the grants the reference replay leaves in force, each once."""
    got = consents_at(changes, at, known_at)
    assert len(got) == len(set(got))
    assert set(got) == replay_consents(changes, at, known_at)
