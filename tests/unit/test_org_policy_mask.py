"""SetOrgPolicy's update_mask (AIP-134): only the fields named change; without one, the mode alone."""

from __future__ import annotations

import pytest

from dncgate.domain import org_policy
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.registry import OrgPolicyEntry
from dncgate.domain.types import Category, Mode

CURRENT = OrgPolicyEntry(Mode.MONITOR, "alice", signed_receipts=True)
GIVEN = {
    "mode": Mode.ENFORCE,
    "signed_receipts": False,
    "quiet_on_public_holidays": True,
    "require_registered_lines": True,
    "max_calls_per_day": 2,
    "consent_required": True,
    "consent_required_categories": 1 << Category.FINANCE,
}


def test_without_a_mask_only_the_mode_changes() -> None:
    """`org set-mode` sends no mask: the org's receipts stay on."""
    assert org_policy.updated(CURRENT, GIVEN, [], "bob") == OrgPolicyEntry(Mode.ENFORCE, "bob", signed_receipts=True)


def test_a_mask_changes_exactly_the_fields_it_names() -> None:
    assert org_policy.updated(CURRENT, GIVEN, ["signed_receipts"], "bob") == OrgPolicyEntry(
        Mode.MONITOR, "bob", signed_receipts=False
    )
    both = org_policy.updated(CURRENT, GIVEN, ["mode", "signed_receipts", "mode"], "bob")
    assert both == OrgPolicyEntry(Mode.ENFORCE, "bob", signed_receipts=False)
    everything = OrgPolicyEntry(
        Mode.ENFORCE,
        "bob",
        signed_receipts=False,
        quiet_on_public_holidays=True,
        require_registered_lines=True,
        max_calls_per_day=2,
        consent_required=True,
        consent_required_categories=1 << Category.FINANCE,
    )
    assert org_policy.updated(CURRENT, GIVEN, ["*"], "bob") == everything
    capped = org_policy.updated(CURRENT, GIVEN, ["max_calls_per_day"], "bob")
    assert capped == OrgPolicyEntry(Mode.MONITOR, "bob", signed_receipts=True, max_calls_per_day=2)


def test_quiet_days_and_registered_lines_change_only_when_named() -> None:
    quiet = org_policy.updated(CURRENT, GIVEN, ["quiet_on_public_holidays"], "bob")
    assert quiet == OrgPolicyEntry(Mode.MONITOR, "bob", signed_receipts=True, quiet_on_public_holidays=True)
    lines = org_policy.updated(quiet, GIVEN, ["require_registered_lines"], "carol")
    assert lines.quiet_on_public_holidays and lines.require_registered_lines and lines.mode is Mode.MONITOR
    assert org_policy.updated(lines, GIVEN, ["mode"], "d").require_registered_lines  # set-mode keeps it


def test_opt_in_and_its_categories_change_only_when_named() -> None:
    """`org set-mode ORG enforce --consent-required` names mode and consent_required: the categories stay."""
    limited = OrgPolicyEntry(Mode.MONITOR, "a", consent_required_categories=1 << Category.HEALTH)
    on = org_policy.updated(limited, GIVEN, ["mode", "consent_required"], "bob")
    assert on == OrgPolicyEntry(
        Mode.ENFORCE, "bob", consent_required=True, consent_required_categories=1 << Category.HEALTH
    )
    cats = org_policy.updated(on, GIVEN, ["consent_required_categories"], "carol")
    assert cats.consent_required and cats.consent_required_categories == 1 << Category.FINANCE
    off = org_policy.updated(cats, {**GIVEN, "consent_required": False}, ["consent_required"], "d")
    assert not off.consent_required and off.consent_required_categories == 1 << Category.FINANCE


def test_opt_in_binds_its_categories_and_a_call_of_no_category() -> None:
    every = OrgPolicyEntry(Mode.ENFORCE, consent_required=True)
    assert all(every.requires_consent(c) for c in Category)
    finance = OrgPolicyEntry(Mode.ENFORCE, consent_required=True, consent_required_categories=1 << Category.FINANCE)
    assert finance.requires_consent(Category.FINANCE) and finance.requires_consent(Category.UNSPECIFIED)
    assert not finance.requires_consent(Category.REAL_ESTATE)
    off = OrgPolicyEntry(Mode.ENFORCE, consent_required_categories=1 << Category.FINANCE)
    assert not any(off.requires_consent(c) for c in Category)


def test_a_mask_without_the_mode_needs_no_mode() -> None:
    """A mode left unspecified is fine when the mask does not name it; named, it is required."""
    given = {"mode": None, "signed_receipts": True}
    assert org_policy.updated(OrgPolicyEntry(Mode.ENFORCE), given, ["signed_receipts"], "b").signed_receipts
    with pytest.raises(InvalidArgument) as exc:
        org_policy.updated(OrgPolicyEntry(Mode.ENFORCE), given, ["mode"], "b")
    assert exc.value.field == "mode"


@pytest.mark.parametrize("paths", [["colour"], ["mode", "Mode"], ["*", "mode"], ["recorded_by"], [""]])
def test_an_unknown_path_is_invalid_argument_naming_update_mask(paths: list[str]) -> None:
    with pytest.raises(InvalidArgument) as exc:
        org_policy.updated(CURRENT, GIVEN, paths, "bob")
    assert exc.value.field == "update_mask"


def test_every_policy_field_is_a_field_of_the_entry() -> None:
    """A later policy field is one name in POLICY_FIELDS and one field of OrgPolicyEntry."""
    assert set(org_policy.POLICY_FIELDS) <= set(OrgPolicyEntry.__dataclass_fields__)


@pytest.mark.parametrize("cap", [-1, 1001])
def test_a_daily_cap_out_of_range_is_invalid_argument_naming_it(cap: int) -> None:
    with pytest.raises(InvalidArgument) as exc:
        org_policy.updated(CURRENT, {**GIVEN, "max_calls_per_day": cap}, ["max_calls_per_day"], "bob")
    assert exc.value.field == "max_calls_per_day"
