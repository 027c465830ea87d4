"""A consumer's erasure (ForgetConsumer): what it destroys, what it keeps, and when it must wait."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dncgate.domain.errors import FailedPrecondition

# What stands where her masked number stood: in the consumer_masked columns and in free text.
ERASED = "[erased]"


@dataclass(frozen=True, slots=True)
class Erasure:
    """One erasure as recorded (table `erasures`): who, when, and what was destroyed.

    `complaints` and `payouts`: the rows whose sealed number was dropped; `calls`: the call-log rows
    whose callee mask was replaced; `texts`: the masked-text fields rewritten (descriptions, consent
    evidence, history notes, updates, payment references). The keyed hash of her number stays, on her
    cases, payouts, calls and do-not-disturb entry: it is what keeps her from being called and from
    being paid twice, and it names no number by itself.
    """

    erasure_id: str
    at: datetime
    actor: str
    complaints: int
    payouts: int
    calls: int
    texts: int


def check_erasable(pending_payouts: Sequence[str]) -> None:
    """A consumer with a payout still PENDING cannot be erased: the money must reach her first."""
    if pending_payouts:
        raise FailedPrecondition(
            f"payouts still pending ({', '.join(sorted(pending_payouts))}): the consumer is paid before"
            " her number is erased; mark them paid, then ask again"
        )
