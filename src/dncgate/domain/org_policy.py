"""What SetOrgPolicy changes: the fields its update_mask names (AIP-134), and nothing else.

A policy field is a field of `OrgPolicyEntry` named in POLICY_FIELDS, spelled as the request spells
it. A later field (a daily cap, opt-in mode...) is one more name here, one more field of the entry,
one more line of `api.convert.POLICY_FROM_PB` and one more journal column (`store.journal`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from dncgate.domain.errors import InvalidArgument
from dncgate.domain.registry import OrgPolicyEntry

POLICY_FIELDS: tuple[str, ...] = (
    "mode",
    "signed_receipts",
    "quiet_on_public_holidays",
    "require_registered_lines",
    "max_calls_per_day",
    "consent_required",
    "consent_required_categories",
)
MAX_CALLS_PER_DAY = 1000  # the most `max_calls_per_day` may be
# Without a mask only `mode` changes, as before masks existed: `org set-mode` can't wipe other fields.
DEFAULT_MASK: tuple[str, ...] = ("mode",)
_REQUIRED = {"mode": "is required (MODE_ENFORCE or MODE_MONITOR)"}


def mask_paths(paths: Sequence[str]) -> tuple[str, ...]:
    """The fields a request's mask names: DEFAULT_MASK for none, every field for `*`; an unknown path
    (or `*` beside others) is InvalidArgument naming update_mask."""
    if not paths:
        return DEFAULT_MASK
    if "*" in paths:
        if len(paths) > 1:
            raise InvalidArgument("update_mask", "'*' replaces the whole policy: name no other path beside it")
        return POLICY_FIELDS
    unknown = [p for p in paths if p not in POLICY_FIELDS]
    if unknown:
        raise InvalidArgument("update_mask", f"unknown path {unknown[0]!r}: expected {', '.join(POLICY_FIELDS)} or '*'")
    return tuple(dict.fromkeys(paths))


def updated(current: OrgPolicyEntry, given: Mapping[str, object], paths: Sequence[str], actor: str) -> OrgPolicyEntry:
    """`current` with each field the mask names taken from `given` (None there: not given), recorded by
    `actor`. A named field that must have a value and has none is InvalidArgument naming it."""
    names = mask_paths(paths)
    changes: dict[str, object] = {}
    for name in names:
        value = given.get(name)
        if value is None:
            raise InvalidArgument(name, _REQUIRED.get(name, "is required when update_mask names it"))
        if name == "max_calls_per_day" and not (isinstance(value, int) and 0 <= value <= MAX_CALLS_PER_DAY):
            raise InvalidArgument(name, f"must be 0 (no cap of the org's own) to {MAX_CALLS_PER_DAY}")
        changes[name] = value
    return dataclasses.replace(current, recorded_by=actor, **changes)  # type: ignore[arg-type]
