"""The preference journal: what it says at a time, as known at a time, and the hot-path schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dncgate.domain.registry import EPOCH, PreferenceChange, Schedule, epoch_us, preference_at, schedule_of
from dncgate.domain.types import ALL_CATEGORIES_MASK, Category, Source, mask_of
from tests.reference import mask_at

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
FINANCE = mask_of([Category.FINANCE])
HEALTH = mask_of([Category.HEALTH])


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def change(
    seq: int,
    effective: float,
    *,
    dnd: bool = True,
    mask: int = ALL_CATEGORIES_MASK,
    recorded: float | None = None,
    source: Source = Source.APP,
) -> PreferenceChange:
    """A journal entry effective `effective` minutes after T0, recorded then unless told otherwise."""
    return PreferenceChange(seq, dnd, mask, source, at(effective), at(effective if recorded is None else recorded))


# --- PreferenceChange.mask ------------------------------------------------------------------------


def test_a_do_not_disturb_entry_blocks_its_categories() -> None:
    """mask is the stored categories when do-not-disturb is on."""
    assert change(1, 0, mask=FINANCE).mask == FINANCE


def test_an_entry_switching_do_not_disturb_off_blocks_nothing() -> None:
    """mask is 0 when do-not-disturb is off, whatever categories were stored with it."""
    assert change(1, 0, dnd=False, mask=FINANCE).mask == 0


# --- preference_at ------------------------------------------------------------------------------


def test_an_empty_journal_has_no_preference() -> None:
    """No entry at all is None, not an 'off' entry."""
    assert preference_at([], T0) is None


def test_an_entry_is_in_effect_from_its_effective_time_on() -> None:
    """effective_from is inclusive: at that instant the entry applies, a microsecond earlier it does not."""
    e = change(1, 10)
    assert preference_at([e], at(10)) == e
    assert preference_at([e], at(10) - timedelta(microseconds=1)) is None
    assert preference_at([e], at(10_000)) == e


def test_the_latest_effective_entry_wins() -> None:
    """A later opt-out replaces an earlier one once it is in effect."""
    first, second = change(1, 0, mask=FINANCE), change(2, 30, dnd=False)
    assert preference_at([first, second], at(29)) == first
    assert preference_at([first, second], at(30)) == second


def test_journal_order_does_not_matter_for_entries_with_different_effective_times() -> None:
    """A back-dated entry with a higher seq loses to an entry that takes effect later."""
    later_effective = change(1, 60, mask=HEALTH)
    backdated = change(2, 30, mask=FINANCE, recorded=90)
    assert preference_at([later_effective, backdated], at(100)) == later_effective
    assert preference_at([backdated, later_effective], at(45)) == backdated


def test_a_correction_with_the_same_effective_time_wins_by_seq() -> None:
    """Two entries effective at the same instant: the later journal entry (higher seq) is the answer."""
    original, correction = change(7, 10, mask=FINANCE), change(8, 10, mask=HEALTH, recorded=11)
    assert preference_at([original, correction], at(20)) == correction
    assert preference_at([correction, original], at(20)) == correction


def test_a_future_entry_is_not_yet_in_effect() -> None:
    """An opt-out scheduled for tomorrow does not apply today."""
    today, tomorrow = change(1, 0, dnd=False), change(2, 24 * 60, recorded=0)
    assert preference_at([today, tomorrow], at(60)) == today


def test_known_at_ignores_entries_recorded_later() -> None:
    """What the registry said at 10:00 excludes an entry recorded at 11:00, even if back-dated to 09:00."""
    before = change(1, 0, dnd=False)
    backdated = change(2, 180, recorded=300)
    assert preference_at([before, backdated], at(240)) == backdated
    assert preference_at([before, backdated], at(240), known_at=at(240)) == before


def test_known_at_includes_an_entry_recorded_at_that_very_instant() -> None:
    """recorded_at <= known_at counts: a change recorded at the moment of the question is known."""
    e = change(1, 0, recorded=5)
    assert preference_at([e], at(10), known_at=at(5)) == e
    assert preference_at([e], at(10), known_at=at(5) - timedelta(microseconds=1)) is None


def test_known_at_equal_to_at_judges_a_past_call_by_what_was_known_then() -> None:
    """A registration back-dated after the call does not make the call a violation."""
    registered_later = change(1, 0, recorded=60)
    assert preference_at([registered_later], at(30), known_at=at(30)) is None
    assert preference_at([registered_later], at(90), known_at=at(90)) == registered_later


def test_preference_at_accepts_any_iterable_once() -> None:
    """A generator (e.g. rows streamed from the journal) is read once and gives the same answer."""
    entries = [change(1, 0, mask=FINANCE), change(2, 5, mask=HEALTH)]
    assert preference_at(iter(entries), at(6)) == entries[1]


# --- Schedule.mask_at -----------------------------------------------------------------------------


def us(t: datetime) -> int:
    return epoch_us(t)


def test_a_schedule_without_upcoming_changes_always_gives_its_mask() -> None:
    """mask_at is constant when nothing is scheduled."""
    s = Schedule(FINANCE)
    assert [mask_at(s, t) for t in (EPOCH, T0, at(10**6))] == [FINANCE] * 3


def test_an_upcoming_change_applies_from_its_microsecond_on() -> None:
    """The change at T0 applies at T0 and after, not one microsecond before."""
    s = Schedule(0, ((us(T0), FINANCE),))
    before = T0 - timedelta(microseconds=1)
    assert (mask_at(s, before), mask_at(s, T0), mask_at(s, at(0.5))) == (0, FINANCE, FINANCE)


def test_several_upcoming_changes_apply_in_turn() -> None:
    """Between two scheduled changes the first one's mask holds."""
    s = Schedule(HEALTH, ((us(at(1)), FINANCE), (us(at(2)), 0), (us(at(3)), ALL_CATEGORIES_MASK)))
    assert [mask_at(s, at(m)) for m in (0.5, 1, 1.99, 2, 2.99, 3, 10**5)] == [
        HEALTH,
        FINANCE,
        FINANCE,
        0,
        0,
        ALL_CATEGORIES_MASK,
        ALL_CATEGORIES_MASK,
    ]


# --- schedule_of ----------------------------------------------------------------------------------


def test_the_schedule_of_an_empty_journal_is_not_registered() -> None:
    """No journal: mask 0, nothing upcoming."""
    assert schedule_of([], T0) == Schedule(0, ())


def test_the_schedule_of_a_past_entry_has_its_mask_and_nothing_upcoming() -> None:
    """An opt-out already in effect is the current mask."""
    assert schedule_of([change(1, -60, mask=FINANCE)], T0) == Schedule(FINANCE, ())


def test_an_entry_effective_exactly_now_is_current_not_upcoming() -> None:
    """effective_from == now is already in effect."""
    assert schedule_of([change(1, 0, mask=FINANCE)], T0) == Schedule(FINANCE, ())


def test_a_future_opt_out_is_scheduled_at_its_epoch_second() -> None:
    """An opt-out effective tomorrow is upcoming, keyed by its Unix time."""
    future = change(1, 24 * 60, mask=HEALTH, recorded=0)
    s = schedule_of([future], T0)
    assert s == Schedule(0, ((us(at(24 * 60)), HEALTH),))
    assert mask_at(s, T0) == 0
    assert mask_at(s, at(24 * 60)) == HEALTH


def test_a_future_opt_in_is_scheduled_as_mask_zero() -> None:
    """Switching do-not-disturb off later appears as an upcoming 0."""
    s = schedule_of([change(1, -10, mask=FINANCE), change(2, 10, dnd=False, recorded=0)], T0)
    assert s == Schedule(FINANCE, ((us(at(10)), 0),))


def test_future_changes_are_scheduled_in_effective_order_not_journal_order() -> None:
    """Entries recorded out of order come out ascending by effective time."""
    s = schedule_of([change(5, 20, mask=HEALTH, recorded=0), change(6, 10, mask=FINANCE, recorded=0)], T0)
    assert s.upcoming == ((us(at(10)), FINANCE), (us(at(20)), HEALTH))


def test_future_changes_at_the_same_instant_collapse_to_the_highest_seq() -> None:
    """Only the last journal entry of several sharing an effective time is scheduled."""
    entries = [change(9, 10, mask=HEALTH, recorded=0), change(3, 10, mask=FINANCE, recorded=0)]
    assert schedule_of(entries, T0).upcoming == ((us(at(10)), HEALTH),)


def test_a_future_change_overridden_at_the_same_time_by_a_later_off_is_off() -> None:
    """A scheduled opt-out corrected to 'off' at the same instant schedules 0."""
    entries = [change(1, 10, mask=HEALTH, recorded=0), change(2, 10, dnd=False, recorded=1)]
    assert schedule_of(entries, T0).upcoming == ((us(at(10)), 0),)


def test_the_schedule_switches_at_the_exact_microsecond_of_a_sub_second_effective_time() -> None:
    """Epochs are microseconds, like timestamptz: a change at :30.600 applies neither early nor late."""
    effective = T0 + timedelta(seconds=30, milliseconds=600)
    entry = PreferenceChange(1, True, FINANCE, Source.APP, effective, T0)
    s = schedule_of([entry], T0)
    assert s.upcoming == ((us(effective), FINANCE),)
    assert mask_at(s, effective) == FINANCE
    before = effective - timedelta(microseconds=1)
    assert (mask_at(s, before), preference_at([entry], before)) == (0, None)
