"""Call events: the record of every Check, the evidence complaints are matched against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dncgate.domain.types import Category, Decision, Reason


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One Check as it was answered. `callee_key` is the hex keyed hash; the clear number is absent."""

    call_id: str
    at: datetime
    caller_e164: str
    callee_key: str
    callee_masked: str
    agent_id: str
    org_id: str
    campaign_id: str
    category: Category
    decision: Decision
    reason: Reason
    violation: bool
    request_id: str


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What the dialer reported after a Check. Reports only add information: a flag once set stays set."""

    call_id: str
    dialled: bool
    connected: bool
    duration_seconds: int
    consumer_opted_out: bool

    def implied(self) -> CallOutcome:
        """The report with what it implies: a call that connected, or where the consumer opted out, was dialled."""
        connected = self.connected or self.consumer_opted_out
        dialled = self.dialled or connected or self.duration_seconds > 0
        return CallOutcome(self.call_id, dialled, connected, self.duration_seconds, self.consumer_opted_out)
