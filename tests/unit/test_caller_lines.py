"""Caller lines over time: whose line a number was, overlaps, supersession, and complaints judged by them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dncgate.domain import case as cases
from dncgate.domain.case import Status
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.domain.lines import CallerLine, check_interval, conflict, lines_at, live, owner_at, refuse_overlap
from dncgate.domain.money import Money
from dncgate.domain.registry import ConsentChange, PreferenceChange
from dncgate.domain.reports import violation_report
from dncgate.domain.types import Category, Decision, Source, mask_of
from dncgate.domain.verification import (
    CallerVerdict,
    LoggedCall,
    Window,
    disputable,
    total,
    upheld_on_review,
    verify,
)

T0 = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
D = timedelta(days=1)
LINE, OTHER = "+862759001111", "+862759002222"
FEE = Money(10000, "CNY")
WINDOW = Window(T0 - 7 * D, T0)
_seq = iter(range(1, 10**6))


def line(
    frm: datetime, to: datetime | None = None, org: str = "acme", agent: str = "a17", number: str = LINE
) -> CallerLine:
    return CallerLine(next(_seq), number, org, agent, frm, to, frm)


def dnd(at: datetime, on: bool = True, mask: int = 0) -> PreferenceChange:
    return PreferenceChange(next(_seq), on, mask or mask_of(()), Source.APP, at, at)


def consent(at: datetime, org: str = "acme", agent: str = "", evidence: str = "form F-1") -> ConsentChange:
    return ConsentChange(next(_seq), org, agent, True, None, evidence, at, at)


def judge(lines, prefs=(), consents=(), calls=(), compensated=None):
    [f] = verify([LINE], list(calls), WINDOW, list(prefs), list(consents), FEE, compensated or {}, list(lines))
    return f


def test_a_line_belongs_to_its_owner_from_valid_from_until_just_before_valid_to() -> None:
    """[valid_from, valid_to): the start instant is the owner's, the end instant no longer."""
    row = line(T0, T0 + D)
    assert owner_at([row], LINE, T0) == row
    assert owner_at([row], LINE, T0 + D - timedelta(microseconds=1)) == row
    assert owner_at([row], LINE, T0 + D) is None
    assert owner_at([row], LINE, T0 - timedelta(microseconds=1)) is None


def test_an_open_ended_line_is_its_owners_ever_after_and_another_number_is_nobodys() -> None:
    """valid_to unset: the line stays the owner's; a different number is not covered by it."""
    row = line(T0)
    assert owner_at([row], LINE, T0 + 1000 * D) == row
    assert owner_at([row], OTHER, T0 + D) is None


def test_a_line_handed_from_one_agent_to_another_answers_by_the_time_asked() -> None:
    """a17 until November 20, a18 from then: each instant has its owner."""
    first, second = line(T0, T0 + 3 * D), line(T0 + 3 * D, agent="a18")
    assert owner_at([first, second], LINE, T0 + D).agent_id == "a17"  # type: ignore[union-attr]
    assert owner_at([first, second], LINE, T0 + 3 * D).agent_id == "a18"  # type: ignore[union-attr]


def test_an_empty_or_reversed_interval_is_refused_naming_valid_to() -> None:
    """valid_to at or before valid_from is INVALID_ARGUMENT on valid_to; unset is open-ended."""
    for to in (T0, T0 - D):
        with pytest.raises(InvalidArgument) as e:
            check_interval(T0, to)
        assert e.value.field == "valid_to"
    check_interval(T0, None)
    check_interval(T0, T0 + timedelta(microseconds=1))


def test_an_overlap_with_another_owner_is_a_conflict_and_touching_intervals_are_not() -> None:
    """Another org or agent overlapping a live row conflicts; [a, b) then [b, c) does not."""
    row = line(T0, T0 + 3 * D)
    assert conflict([row], LINE, "other", "", T0 + D, None) == row
    assert conflict([row], LINE, "acme", "a18", T0 - D, T0 + timedelta(seconds=1)) == row
    assert conflict([row], LINE, "other", "", T0 + 3 * D, None) is None
    assert conflict([row], LINE, "other", "", T0 - D, T0) is None
    assert conflict([row], OTHER, "other", "", T0, None) is None
    assert conflict([line(T0)], LINE, "other", "", T0 + 100 * D, None) is not None  # open-ended overlaps all after


def test_the_same_owner_registering_again_supersedes_its_overlapping_rows() -> None:
    """An open-ended assignment ended by registering it again with valid_to; the old row is no longer live."""
    old = line(T0)
    ended = line(T0, T0 + 2 * D)
    assert live([old, ended]) == [ended]
    assert owner_at([old, ended], LINE, T0 + 5 * D) is None
    assert conflict([old, ended], LINE, "other", "", T0 + 2 * D, None) is None  # free to hand on
    assert lines_at([old, ended], T0 + D) == [ended]


def test_the_overlap_error_names_the_owner_interval_and_entry() -> None:
    """FAILED_PRECONDITION's message says whose line it is, from when to when, and which entry."""
    row = line(T0, None, "acme", "a17")
    err = refuse_overlap(row)
    assert isinstance(err, FailedPrecondition)
    text = str(err)
    assert "acme" in text and "a17" in text and "open-ended" in text and f"entry {row.seq}" in text


def test_a_registered_line_with_no_check_calling_a_dnd_consumer_is_called_outside_gateway() -> None:
    """No Check on record, the line is acme/a17's at the window's end, DND in force, no consent: paid."""
    f = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)])
    assert (f.verdict, f.org_id, f.agent_id, f.amount, f.call_ids) == (
        CallerVerdict.CALLED_OUTSIDE_GATEWAY,
        "acme",
        "a17",
        FEE,
        (),
    )
    assert f.owed and total([f], "CNY") == FEE


def test_the_line_is_judged_at_the_window_end_not_before_it() -> None:
    """A line registered from after the complaint's time does not match: NO_MATCHING_CALL."""
    f = judge([line(T0 + timedelta(seconds=1))], [dnd(T0 - 60 * D)])
    assert (f.verdict, f.org_id) == (CallerVerdict.NO_MATCHING_CALL, "")
    f = judge([line(T0 - 30 * D, T0)], [dnd(T0 - 60 * D)])  # ended exactly at the complaint's time
    assert f.verdict is CallerVerdict.NO_MATCHING_CALL


def test_without_do_not_disturb_at_the_complaint_time_nothing_is_owed() -> None:
    """No DND (or DND switched off by then): NOT_REGISTERED_AT_CALL_TIME, naming the line's owner."""
    for prefs in ([], [dnd(T0 - 60 * D), dnd(T0 - D, on=False)]):
        f = judge([line(T0 - 30 * D)], prefs)
        assert (f.verdict, f.org_id, f.agent_id, f.amount) == (
            CallerVerdict.NOT_REGISTERED_AT_CALL_TIME,
            "acme",
            "a17",
            Money.zero("CNY"),
        )


def test_do_not_disturb_for_any_one_category_is_enough() -> None:
    """The call's category is unknown without a Check: DND for one category counts."""
    f = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D, mask=mask_of([Category.FINANCE]))])
    assert f.verdict is CallerVerdict.CALLED_OUTSIDE_GATEWAY


def test_a_consent_to_the_lines_org_makes_it_consent_on_file_and_another_orgs_does_not() -> None:
    """Consent to acme (org-wide or to a17) excuses acme/a17's line; consent to another org does not."""
    for c in (consent(T0 - 10 * D), consent(T0 - 10 * D, agent="a17")):
        f = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)], [c])
        assert (f.verdict, f.consent_evidence, f.org_id) == (CallerVerdict.CONSENT_ON_FILE, "form F-1", "acme")
        assert disputable(f)
    for c in (consent(T0 - 10 * D, org="other"), consent(T0 - 10 * D, agent="a18")):
        assert judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)], [c]).verdict is CallerVerdict.CALLED_OUTSIDE_GATEWAY


def test_a_consent_upheld_against_on_review_becomes_called_outside_gateway() -> None:
    """A review that finds the consent invalid pays the line finding as calls outside the gateway."""
    f = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)], [consent(T0 - 10 * D)])
    g = upheld_on_review(f, FEE)
    assert (g.verdict, g.amount, g.org_id) == (CallerVerdict.CALLED_OUTSIDE_GATEWAY, FEE, "acme")


def test_a_pair_already_paid_is_already_compensated_naming_the_line() -> None:
    """Filed again: ALREADY_COMPENSATED, nothing owed, the line's owner still named."""
    f = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)], compensated={LINE: "p-1"})
    assert (f.verdict, f.payout_id, f.org_id, f.owed) == (CallerVerdict.ALREADY_COMPENSATED, "p-1", "acme", False)


def test_a_line_with_checks_on_record_gets_the_usual_verdicts() -> None:
    """Any Check from the caller in the window (even a blocked, undialled one) means the gateway was used."""
    prefs = [dnd(T0 - 60 * D)]
    blocked = LoggedCall("c1", T0 - D, LINE, "acme", "a17", Category.FINANCE, Decision.BLOCK)
    assert judge([line(T0 - 30 * D)], prefs, calls=[blocked]).verdict is CallerVerdict.NO_MATCHING_CALL
    allowed = LoggedCall("c2", T0 - D, LINE, "acme", "a17", Category.FINANCE, Decision.ALLOW)
    f = judge([line(T0 - 30 * D)], prefs, calls=[allowed])
    assert (f.verdict, f.call_ids, f.org_id) == (CallerVerdict.VERIFIED, ("c2",), "")
    outside = LoggedCall("c3", T0 - 8 * D, LINE, "acme", "a17", Category.FINANCE, Decision.ALLOW)
    assert judge([line(T0 - 30 * D)], prefs, calls=[outside]).verdict is CallerVerdict.CALLED_OUTSIDE_GATEWAY


def test_a_case_of_outside_gateway_findings_is_verified_or_partially() -> None:
    """CALLED_OUTSIDE_GATEWAY counts as a verified finding for the case's status."""
    paid = judge([line(T0 - 30 * D)], [dnd(T0 - 60 * D)])
    none = judge([], [dnd(T0 - 60 * D)])
    assert cases.status_of([paid]) is Status.VERIFIED
    assert cases.status_of([paid, none]) is Status.PARTIALLY_VERIFIED


def test_the_violation_report_counts_calls_outside_the_gateway_as_verified_complaints_too() -> None:
    """Per agent: calls_outside_gateway, a part of verified_complaints; the org's totals likewise."""
    r = violation_report("acme", {"a17": 2}, {("a17", "DNC-1", 0)}, {("a17", "DNC-2", 0), ("", "DNC-3", 1)})
    by_agent = {a.agent_id: a for a in r.agents}
    assert (by_agent["a17"].violating_calls, by_agent["a17"].verified_complaints) == (2, 2)
    assert by_agent["a17"].calls_outside_gateway == 1
    assert (by_agent[""].verified_complaints, by_agent[""].calls_outside_gateway) == (1, 1)
    assert (r.verified_complaints, r.calls_outside_gateway, r.violating_calls) == (3, 2, 2)
