"""A Check as the gateway takes and answers it, and what makes a request acceptable."""

from __future__ import annotations

from typing import NamedTuple

from dncgate import phone
from dncgate.domain.decision import Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.types import Category

# Ids are logged with every call and kept for years: bounded, and printable (the single script's field
# separator is a control character).
MAX_ID_LENGTH = 128
# A phone number in any format a person types (spaces, dashes, +86, 0086, an extension) fits in 64.
MAX_NUMBER_LENGTH = 64


class CheckInput(NamedTuple):
    """One Check as a dialer asked it. A tuple rather than a frozen dataclass: a list scrub builds a
    thousand per batch, and a tuple is built at a third of the cost."""

    caller_number: str
    callee_number: str
    agent_id: str
    org_id: str
    campaign_id: str
    category: Category
    request_id: str


class CheckResult(NamedTuple):
    """How a Check was answered (a tuple for the same reason as CheckInput: one per Check)."""

    verdict: Verdict
    call_id: str
    callee_e164: str
    callee_masked: str
    request_id: str


def validate(req: CheckInput, prefix: str, region: str) -> phone.PhoneNumber:
    """The request's caller number, or InvalidArgument naming the first bad field (after `prefix`).

    The callee is not judged here: an unusable callee is an answer (INVALID_NUMBER), not an error.
    """
    for name in ("caller_number", "callee_number", "org_id"):
        if not getattr(req, name).strip():
            raise InvalidArgument(prefix + name, "is required")
    for name in ("org_id", "agent_id", "campaign_id", "request_id"):
        value: str = getattr(req, name)
        if len(value) > MAX_ID_LENGTH:
            raise InvalidArgument(prefix + name, f"is longer than {MAX_ID_LENGTH} characters")
        if not value.isprintable():
            raise InvalidArgument(prefix + name, "must not contain control characters")
    caller = phone.try_parse(req.caller_number, region)
    if caller is None:
        raise InvalidArgument(prefix + "caller_number", "is not a valid phone number")
    return caller


def own_fields_valid(req: CheckInput) -> bool:
    """Whether what `validate` asks of the fields a Check does not share with others holds: a callee
    given, a request id short and printable. Shared fields are validated once per distinct value."""
    callee, rid = req.callee_number, req.request_id
    return bool(callee) and not callee.isspace() and len(rid) <= MAX_ID_LENGTH and rid.isprintable()
