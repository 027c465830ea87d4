"""A closed case's revisit: allowed only on a CLOSED case at stage CONSUMER_CONFIRMED and once, its
rating 0-5, its due time, and when it is overdue."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from dncgate.domain import case as cases
from dncgate.domain.case import Case, Channel, Revisit, Stage, Status
from dncgate.domain.errors import FailedPrecondition, InvalidArgument
from dncgate.domain.money import Money
from dncgate.domain.verification import Window

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=7)


def _case(status: Status = Status.CLOSED, stage: Stage = Stage.CONSUMER_CONFIRMED, **kw: object) -> Case:
    base = Case(
        case_id="DNC-20261102-000001",
        status=status,
        consumer_masked="+86138****8000",
        channel=Channel.HOTLINE,
        description="",
        window=Window(T0 - timedelta(days=30), T0),
        findings=(),
        total=Money.zero("CNY"),
        created_at=T0 - timedelta(days=1),
        first_response_due=T0,
        resolution_due=T0,
        stage=stage,
        closed_at=T0 if status is Status.CLOSED else None,
        revisit_due=DUE if status is Status.CLOSED else None,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_closed_confirmed_case_may_be_revisited_once() -> None:
    cases.check_revisitable(_case())
    done = _case(stage=Stage.REVISITED, revisit=Revisit(DUE, "op (token 1)", False))
    with pytest.raises(FailedPrecondition, match="revisited already"):
        cases.check_revisitable(done)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.CLOSED])
def test_a_case_not_closed_is_not_revisited(status: Status) -> None:
    with pytest.raises(FailedPrecondition, match="only CLOSED cases"):
        cases.check_revisitable(_case(status, cases.stage_for(status)))


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.CONSUMER_CONFIRMED])
def test_a_closed_case_in_another_stage_is_not_revisited(stage: Stage) -> None:
    with pytest.raises(FailedPrecondition, match="cannot move to stage REVISITED"):
        cases.check_revisitable(_case(stage=stage))


@pytest.mark.parametrize("rating", [0, 1, 3, 5])
def test_a_rating_is_1_to_5_or_0_for_none(rating: int) -> None:
    assert cases.check_rating(rating) == rating


@pytest.mark.parametrize("rating", [-1, 6, 100])
def test_a_rating_outside_0_to_5_names_rating(rating: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        cases.check_rating(rating)
    assert info.value.field == "rating"


def test_the_revisit_is_due_days_after_closing() -> None:
    assert cases.revisit_due(T0, 7) == DUE
    assert cases.revisit_due(T0, 1) == T0 + timedelta(days=1)


def test_overdue_only_closed_unrevisited_and_past_due() -> None:
    after = DUE + timedelta(seconds=1)
    assert not _case().revisit_overdue(DUE)
    assert _case().revisit_overdue(after)
    assert not _case(revisit=Revisit(DUE - timedelta(days=1), "op", False)).revisit_overdue(after)
    assert not _case(revisit_due=None).revisit_overdue(after)  # closed before revisits were promised
    reopened = _case(Status.REOPENED, Stage.VERIFYING, revisit_due=DUE)
    assert not reopened.revisit_overdue(after)
