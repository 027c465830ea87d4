"""Caller lines: which org and agent a company's outbound line belonged to over time (pure).

A line is assigned to (org, agent) for [valid_from, valid_to); valid_to None is open-ended. The rows
are an append-only journal, and two rules make "whose line was X at T" one answer:

- a registration for the *same* line and owner that overlaps earlier rows of that owner supersedes
  them (this is how an owner's assignment is ended or corrected: register it again with the new
  interval);
- a registration overlapping a live (not superseded) assignment of the line to a *different* owner
  (another org, or another agent of the same org) is refused: end the old one first.

So live rows of one line never overlap, and a back-dated registration counts by its interval (the
company's own record of whose line it was), not by when it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dncgate.domain.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True, slots=True)
class CallerLine:
    """One journal entry: `caller_e164` is (org, agent)'s line from `valid_from` until `valid_to`."""

    seq: int
    caller_e164: str
    org_id: str
    agent_id: str  # "" = the org's line, no one agent's
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    recorded_by: str = ""

    @property
    def owner(self) -> tuple[str, str]:
        return (self.org_id, self.agent_id)

    def covers(self, at: datetime) -> bool:
        """Whether the line was this owner's at `at` (valid_from included, valid_to excluded)."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def overlaps(self, valid_from: datetime, valid_to: datetime | None) -> bool:
        """Whether [valid_from, valid_to) shares an instant with this row's interval."""
        starts_before_our_end = self.valid_to is None or valid_from < self.valid_to
        ends_after_our_start = valid_to is None or self.valid_from < valid_to
        return starts_before_our_end and ends_after_our_start


def check_interval(valid_from: datetime, valid_to: datetime | None) -> None:
    """An assignment lasts a while: valid_to, when set, is later than valid_from."""
    if valid_to is not None and valid_to <= valid_from:
        raise InvalidArgument("valid_to", "must be later than valid_from (unset: open-ended)")


def live(lines: Iterable[CallerLine]) -> list[CallerLine]:
    """The rows no later row of the same line and owner overlaps, in journal order."""
    rows = sorted(lines, key=lambda r: r.seq)
    out = []
    for i, r in enumerate(rows):
        later = rows[i + 1 :]
        if not any(
            s.caller_e164 == r.caller_e164 and s.owner == r.owner and s.overlaps(r.valid_from, r.valid_to)
            for s in later
        ):
            out.append(r)
    return out


def conflict(
    lines: Iterable[CallerLine],
    caller_e164: str,
    org_id: str,
    agent_id: str,
    valid_from: datetime,
    valid_to: datetime | None,
) -> CallerLine | None:
    """The live assignment of the line to another owner that a new registration would overlap, if any."""
    for r in live(lines):
        if r.caller_e164 == caller_e164 and r.owner != (org_id, agent_id) and r.overlaps(valid_from, valid_to):
            return r
    return None


def refuse_overlap(existing: CallerLine) -> FailedPrecondition:
    """The error for a registration that overlaps `existing` (another owner's live assignment)."""
    until = existing.valid_to.isoformat() if existing.valid_to else "open-ended"
    agent = f", agent {existing.agent_id}" if existing.agent_id else ""
    return FailedPrecondition(
        f"caller_number {existing.caller_e164} is already org {existing.org_id}{agent}'s line"
        f" from {existing.valid_from.isoformat()} to {until} (entry {existing.seq}):"
        " end that assignment first (register it again with valid_to)"
    )


def owner_at(lines: Iterable[CallerLine], caller_e164: str, at: datetime) -> CallerLine | None:
    """Whose line `caller_e164` was at `at`: its live assignment covering that instant, or None."""
    covering = [r for r in live(lines) if r.caller_e164 == caller_e164 and r.covers(at)]
    # Live rows of one line never overlap (registration refuses it); the latest wins if they ever did.
    return max(covering, key=lambda r: r.seq, default=None)


def lines_at(lines: Sequence[CallerLine], at: datetime) -> list[CallerLine]:
    """The live assignments in force at `at`, in journal order."""
    return [r for r in live(lines) if r.covers(at)]
