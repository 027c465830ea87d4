"""The stage rules of a case: every allowed and refused move, the stage each status puts a case in,
a filing's timeline, and the consumer's sign-off (closes, satisfaction)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dncgate.domain import case as cases
from dncgate.domain.case import Stage, Status
from dncgate.domain.errors import FailedPrecondition, InvalidArgument

S = Stage
ALLOWED = {
    (None, S.RECEIVED),
    (S.RECEIVED, S.VERIFYING),
    (S.VERIFYING, S.RESOLUTION_DRAFTED),
    (S.VERIFYING, S.RESOLVED),
    (S.RESOLUTION_DRAFTED, S.RESOLVED),
    (S.RESOLUTION_DRAFTED, S.CONSUMER_CONFIRMED),
    (S.RESOLUTION_DRAFTED, S.VERIFYING),
    (S.RESOLVED, S.CONSUMER_CONFIRMED),
    (S.RESOLVED, S.VERIFYING),
    (S.CONSUMER_CONFIRMED, S.REVISITED),
}
EVERY_MOVE = list(itertools.product([None, *Stage], Stage))


@pytest.mark.parametrize(("current", "to"), sorted(ALLOWED, key=str))
def test_an_allowed_move_enters_the_stage(current: Stage | None, to: Stage) -> None:
    """Each move of the table is allowed and answers the stage entered."""
    assert cases.move(current, to) is to


@pytest.mark.parametrize(("current", "to"), [m for m in EVERY_MOVE if m not in ALLOWED], ids=str)
def test_every_other_move_is_refused_naming_the_allowed_ones(current: Stage | None, to: Stage) -> None:
    """Any move outside the table (staying put included) is FailedPrecondition, saying where it may go."""
    with pytest.raises(FailedPrecondition, match=f"cannot move to stage {to.value}"):
        cases.move(current, to)


def test_the_table_lists_exactly_the_allowed_moves() -> None:
    """STAGE_MOVES is the table above, no more: a revisited case moves nowhere."""
    table = {(a, b) for a, targets in cases.STAGE_MOVES.items() for b in targets}
    assert table | {(None, S.RECEIVED)} == ALLOWED
    assert cases.STAGE_MOVES[S.REVISITED] == frozenset()


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        (Status.RECEIVED, S.RECEIVED),
        (Status.MANUAL_REVIEW, S.VERIFYING),
        (Status.REOPENED, S.VERIFYING),
        (Status.VERIFIED, S.RESOLUTION_DRAFTED),
        (Status.PARTIALLY_VERIFIED, S.RESOLUTION_DRAFTED),
        (Status.REJECTED, S.RESOLVED),
        (Status.ALREADY_COMPENSATED, S.RESOLVED),
        (Status.PAID, S.RESOLVED),
        (Status.CLOSED, S.CONSUMER_CONFIRMED),
    ],
)
def test_each_status_puts_a_case_in_one_stage(status: Status, stage: Stage) -> None:
    """Money owed and unpaid is drafted; nothing owed or all paid is resolved; a human's turn is verifying."""
    assert cases.stage_for(status) is stage


@pytest.mark.parametrize(
    ("status", "path"),
    [
        (Status.VERIFIED, [S.RECEIVED, S.VERIFYING, S.RESOLUTION_DRAFTED]),
        (Status.PARTIALLY_VERIFIED, [S.RECEIVED, S.VERIFYING, S.RESOLUTION_DRAFTED]),
        (Status.REJECTED, [S.RECEIVED, S.VERIFYING, S.RESOLVED]),
        (Status.ALREADY_COMPENSATED, [S.RECEIVED, S.VERIFYING, S.RESOLVED]),
        (Status.MANUAL_REVIEW, [S.RECEIVED, S.VERIFYING]),
        (Status.RECEIVED, [S.RECEIVED]),
    ],
)
def test_a_filing_shows_each_step_up_to_its_verdict(status: Status, path: list[Stage]) -> None:
    """Verification at filing moves straight on; the path still lists received and verifying."""
    assert cases.stages_after(None, status) == path


def test_later_statuses_move_one_stage_or_none() -> None:
    """Paid: drafted -> resolved; a reopening goes back to verifying; a review decides; the same stage adds nothing."""
    assert cases.stages_after(S.RESOLUTION_DRAFTED, Status.PAID) == [S.RESOLVED]
    assert cases.stages_after(S.RESOLVED, Status.REOPENED) == [S.VERIFYING]
    assert cases.stages_after(S.RESOLUTION_DRAFTED, Status.REOPENED) == [S.VERIFYING]
    assert cases.stages_after(S.VERIFYING, Status.VERIFIED) == [S.RESOLUTION_DRAFTED]
    assert cases.stages_after(S.VERIFYING, Status.REJECTED) == [S.RESOLVED]
    assert cases.stages_after(S.VERIFYING, Status.PAID) == [S.RESOLVED]
    assert cases.stages_after(S.RESOLVED, Status.CLOSED) == [S.CONSUMER_CONFIRMED]
    assert cases.stages_after(S.RESOLUTION_DRAFTED, Status.PARTIALLY_VERIFIED) == []
    assert cases.stages_after(S.REVISITED, Status.CLOSED) == []
    with pytest.raises(FailedPrecondition):
        cases.stages_after(S.CONSUMER_CONFIRMED, Status.REOPENED)
    with pytest.raises(FailedPrecondition):
        cases.stages_after(S.RECEIVED, Status.VERIFIED)


def test_only_a_confirmed_case_is_revisited() -> None:
    """`revisited` is the one way into REVISITED: from CONSUMER_CONFIRMED only."""
    assert cases.revisited(S.CONSUMER_CONFIRMED) is S.REVISITED
    for stage in set(Stage) - {S.CONSUMER_CONFIRMED}:
        with pytest.raises(FailedPrecondition):
            cases.revisited(stage)


@pytest.mark.parametrize(
    ("resolved", "remaining", "closing"),
    [(True, "", True), (True, "  ", True), (True, "still calls at night", False), (False, "", False)],
)
def test_a_case_closes_only_when_resolved_with_nothing_remaining(resolved: bool, remaining: str, closing: bool) -> None:
    """Resolved and no remaining issue closes; anything else reopens."""
    assert cases.closes(resolved, remaining) is closing


def test_satisfaction_is_one_to_five_or_not_given() -> None:
    """0-5 pass; anything else is InvalidArgument naming satisfaction."""
    assert [cases.check_satisfaction(n) for n in range(6)] == list(range(6))
    for bad in (-1, 6, 100):
        with pytest.raises(InvalidArgument) as info:
            cases.check_satisfaction(bad)
        assert info.value.field == "satisfaction"


def test_every_case_but_a_closed_one_can_be_assigned() -> None:
    """check_assignable refuses CLOSED only."""
    for status in set(Status) - {Status.CLOSED}:
        cases.check_assignable(status)
    with pytest.raises(FailedPrecondition):
        cases.check_assignable(Status.CLOSED)


class CaseLifecycle(RuleBasedStateMachine):
    """A case driven through the domain's status rules in any order: every status move it allows takes
    the stage along a legal move, and the stage is always the one its status decides."""

    def __init__(self) -> None:
        super().__init__()
        self.status: Status | None = None
        self.stage: Stage | None = None
        self.timeline: list[Stage] = []

    def _enter(self, status: Status) -> None:
        moves = cases.stages_after(self.stage, status)
        self.timeline += moves
        self.stage = moves[-1] if moves else self.stage
        self.status = status

    @precondition(lambda self: self.status is None)
    @rule(verdict=st.sampled_from([Status.VERIFIED, Status.PARTIALLY_VERIFIED, Status.REJECTED,
                                   Status.ALREADY_COMPENSATED, Status.MANUAL_REVIEW]))  # fmt: skip
    def file(self, verdict: Status) -> None:
        self._enter(verdict)
        assert self.timeline[:2] == [S.RECEIVED, S.VERIFYING]

    @precondition(lambda self: self.status is not None)
    @rule(closing=st.booleans(), pending=st.booleans(), override=st.booleans())
    def confirm(self, closing: bool, pending: bool, override: bool) -> None:
        assert self.status is not None
        try:
            status = cases.after_confirmation(
                self.status, closing, pending_payouts=["PO-1"] if pending else [], override=override
            )
        except FailedPrecondition:
            return
        self._enter(status)

    @precondition(lambda self: self.status is not None)
    @rule(decision=st.sampled_from([Status.VERIFIED, Status.REJECTED]), paid=st.booleans())
    def review(self, decision: Status, paid: bool) -> None:
        assert self.status is not None
        try:
            status = cases.after_review(self.status, decision)
        except FailedPrecondition:
            return
        self._enter(cases.after_payment(status, [paid]))

    @precondition(lambda self: self.status is not None)
    @rule()
    def last_payout_paid(self) -> None:
        assert self.status is not None
        self._enter(cases.after_payment(self.status, [True]))

    @precondition(lambda self: self.stage is S.CONSUMER_CONFIRMED)
    @rule()
    def revisit(self) -> None:
        self.stage = cases.revisited(S.CONSUMER_CONFIRMED)
        self.timeline.append(self.stage)

    @invariant()
    def the_stage_follows_the_status_and_every_step_was_legal(self) -> None:
        if self.status is None:
            return
        if self.stage is not S.REVISITED:
            assert self.stage is cases.stage_for(self.status)
        for a, b in zip([None, *self.timeline], self.timeline, strict=False):
            assert cases.move(a, b) is b


TestCaseLifecycle = CaseLifecycle.TestCase
TestCaseLifecycle.settings = settings(max_examples=200, stateful_step_count=20, deadline=None)
