"""The service report's folding: shares as counts, figures added per period and over the range."""

from __future__ import annotations

from datetime import UTC, datetime

from dncgate.domain.reports import Period, ServiceFigures, Share, service_report

MAY, JUNE = datetime(2026, 4, 30, 16, tzinfo=UTC), datetime(2026, 5, 31, 16, tzinfo=UTC)
NOW = datetime(2026, 6, 20, 2, tzinfo=UTC)


def _f(filed: int, answered: Share, rated: int = 0, satisfaction: int = 0, **kw: int) -> ServiceFigures:
    return ServiceFigures(cases_filed=filed, answered=answered, rated=rated, satisfaction_sum=satisfaction, **kw)


def test_a_share_adds_its_counts_and_has_no_ratio_when_nothing_was_counted() -> None:
    """2 of 3 plus 1 of 1 is 3 of 4; 0 of 0 is no ratio at all, not zero."""
    assert Share(2, 3) + Share(1, 1) == Share(3, 4)
    assert Share(3, 4).ratio == 0.75
    assert Share().ratio is None


def test_mean_satisfaction_is_over_the_rated_cases_only_and_unset_when_none() -> None:
    """Unrated cases do not pull the mean down; with no rating there is no mean."""
    assert _f(5, Share(), rated=2, satisfaction=9).mean_satisfaction == 4.5
    assert _f(5, Share()).mean_satisfaction is None


def test_figures_add_field_by_field() -> None:
    """Every count and share of two sets of cases adds up, the pending ones included."""
    a = ServiceFigures(1, Share(1, 1), 0, Share(0, 1), 0, 1, Share(1, 1), 5, 1, 1, 1, 0, 1, Share(1, 2))
    b = ServiceFigures(2, Share(0, 1), 1, Share(1, 1), 1, 0, Share(0, 1), 3, 1, 0, 0, 1, 0, Share(0, 1))
    assert a + b == ServiceFigures(3, Share(1, 2), 1, Share(1, 2), 1, 1, Share(1, 2), 8, 2, 1, 1, 1, 1, Share(1, 3))
    assert a + ServiceFigures() == a


def test_the_report_orders_periods_and_assignees_and_totals_each_period_and_the_range() -> None:
    """Periods oldest first, assignees by name, a period's total over its assignees, the range's over
    its periods; a period and assignee named twice is added, not repeated."""
    rows = [
        (JUNE, "op-b", _f(1, Share(0, 1))),
        (MAY, "op-b", _f(2, Share(1, 2), rated=1, satisfaction=4)),
        (MAY, "", _f(1, Share(0, 0), answer_pending=1)),
        (MAY, "op-a", _f(1, Share(1, 1), rated=1, satisfaction=5)),
        (JUNE, "op-b", _f(1, Share(1, 1))),
    ]
    r = service_report(Period.MONTH, rows, NOW)
    assert (r.period, r.generated_at) == (Period.MONTH, NOW)
    assert [p.start for p in r.periods] == [MAY, JUNE]
    assert [a.assignee for a in r.periods[0].assignees] == ["", "op-a", "op-b"]
    assert r.periods[0].total == _f(4, Share(2, 3), rated=2, satisfaction=9, answer_pending=1)
    assert r.periods[1].assignees[0].figures == _f(2, Share(1, 2))
    assert r.periods[1].total == _f(2, Share(1, 2))
    assert r.total == _f(6, Share(3, 5), rated=2, satisfaction=9, answer_pending=1)
    assert r.total.mean_satisfaction == 4.5


def test_a_report_of_no_case_has_no_period_and_a_zero_total() -> None:
    """Nothing filed: no rows, totals all zero, no ratio and no mean."""
    r = service_report(Period.DAY, [], NOW)
    assert r.periods == () and r.total == ServiceFigures()
    assert r.total.answered.ratio is None and r.total.mean_satisfaction is None
