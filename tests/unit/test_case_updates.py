"""Updates and extensions of a case: where they are allowed, and when the next update is due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dncgate.domain import case as cases
from dncgate.domain.case import Case, Channel, Status, Update, UpdateKind
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.domain.money import Money
from dncgate.domain.verification import Window

T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
H = timedelta(hours=1)


def case(status: Status = Status.VERIFIED, *updates: Update) -> Case:
    return Case(
        case_id="DNC-20261122-000001",
        status=status,
        consumer_masked="+86138****8000",
        channel=Channel.HOTLINE,
        description="",
        window=Window(T0 - 24 * H, T0),
        findings=(),
        total=Money(0, "CNY"),
        created_at=T0,
        first_response_due=T0 + 24 * H,
        resolution_due=T0 + 72 * H,
        updates=updates,
    )


def update(at: datetime, visible: bool) -> Update:
    return Update(at, "zhao (token t1)", "called the org", visible)


@pytest.mark.parametrize("status", list(Status))
def test_every_status_but_closed_takes_an_update(status: Status) -> None:
    if status is Status.CLOSED:
        with pytest.raises(FailedPrecondition, match="CLOSED"):
            cases.check_updatable(status)
    else:
        cases.check_updatable(status)


def test_the_next_update_is_due_after_the_filing_then_after_the_last_visible_update() -> None:
    assert cases.next_update_due(case(), 24) == T0 + 24 * H
    internal = case(Status.VERIFIED, update(T0 + 5 * H, False))
    assert cases.next_update_due(internal, 24) == T0 + 24 * H  # an internal note moves nothing
    visible = case(Status.VERIFIED, update(T0 + 5 * H, True), update(T0 + 9 * H, True), update(T0 + 10 * H, False))
    assert cases.next_update_due(visible, 24) == T0 + 33 * H
    assert cases.next_update_due(visible, 6) == T0 + 15 * H
    extended = Update(T0 + 12 * H, "qian", "waiting", True, UpdateKind.EXTENSION, T0 + 72 * H, T0 + 96 * H)
    assert cases.next_update_due(case(Status.MANUAL_REVIEW, extended), 24) == T0 + 36 * H


def test_a_closed_case_has_no_update_due_and_is_never_update_overdue() -> None:
    closed = case(Status.CLOSED)
    assert cases.next_update_due(closed, 24) is None
    assert not cases.update_overdue(None, T0 + 1000 * H)
    due = cases.next_update_due(case(Status.REJECTED), 24)
    assert not cases.update_overdue(due, T0 + 24 * H)  # at the due time itself, not yet
    assert cases.update_overdue(due, T0 + 24 * H + timedelta(microseconds=1))


@pytest.mark.parametrize("status", sorted(cases.OPEN, key=lambda s: s.value))
def test_an_open_case_extends_to_a_later_future_time(status: Status) -> None:
    c = replace(case(), status=status)
    assert cases.extended_due(status, c.resolution_due, T0 + 96 * H, T0 + H) == T0 + 96 * H


@pytest.mark.parametrize("status", sorted(set(Status) - cases.OPEN, key=lambda s: s.value))
def test_a_settled_case_cannot_be_extended(status: Status) -> None:
    with pytest.raises(FailedPrecondition, match=status.value):
        cases.extended_due(status, T0 + 72 * H, T0 + 96 * H, T0)


@pytest.mark.parametrize(
    ("new", "now", "why"),
    [
        (None, T0, "required"),
        (T0 + 72 * H, T0, "later than the current"),
        (T0 + 24 * H, T0, "later than the current"),
        (T0 + 80 * H, T0 + 90 * H, "future"),
    ],
)
def test_an_extension_needs_a_due_later_than_the_current_one_and_now(
    new: datetime | None, now: datetime, why: str
) -> None:
    with pytest.raises(InvalidArgument, match=why) as info:
        cases.extended_due(Status.VERIFIED, T0 + 72 * H, new, now)
    assert info.value.field == "new_resolution_due"
