"""The role table: deny by default, every method of every service in it, and the token format."""

from __future__ import annotations

from dncgate.api.limits import SERVICES
from dncgate.domain import access

EVERY_METHOD = {f"/{s.full_name}/{m.name}" for s in SERVICES for m in s.methods}


def test_every_method_of_every_service_is_named_by_some_role_and_admin_may_call_them_all() -> None:
    """No method is left out of the table (it would be refused to everyone), and admin has every one."""
    named = set().union(*(m for r, m in access.ROLE_METHODS.items() if r != access.ADMIN))
    assert EVERY_METHOD - named - access.PUBLIC == access.ADMIN_ONLY
    assert access.ROLE_METHODS[access.ADMIN] == EVERY_METHOD


def test_the_receipt_key_is_the_one_method_of_ours_open_without_a_credential() -> None:
    """A public key is public: GetReceiptKey, and nothing else, is in PUBLIC."""
    assert {"/dncgate.v1.CallGate/GetReceiptKey"} == access.PUBLIC


def test_a_method_no_role_names_is_refused_to_every_role_admin_included() -> None:
    """Deny by default: the table is the only way in."""
    assert access.roles_for("/dncgate.v1.Registry/DropEverything") == ()
    p = access.principal("x", access.Kind.TOKEN, "n", "", access.ROLES, (), None)
    assert "/dncgate.v1.Registry/DropEverything" not in p.methods


def test_supervisor_may_do_what_hotline_may_and_review_and_report_besides() -> None:
    """supervisor = hotline + ReviewComplaint + ReportService; compliance reads only."""
    hotline, supervisor = access.ROLE_METHODS["hotline"], access.ROLE_METHODS["supervisor"]
    assert supervisor - hotline == {
        "/dncgate.v1.Compensation/ReviewComplaint",
        "/dncgate.v1.Compensation/ReportService",
    }
    writes = {"SetPreference", "GrantConsent", "RevokeConsent", "SetOrgPolicy", "ImportRegistry", "MarkPayoutPaid"}
    assert not {m.rsplit("/", 1)[1] for m in access.ROLE_METHODS["compliance"]} & writes


def test_a_token_parses_only_in_its_one_form() -> None:
    """dnc_<id>_<secret>, alphanumeric parts, the secret long enough for 128 random bits."""
    assert access.parse_token("dnc_abc123_" + "Z" * 32) == ("abc123", "Z" * 32)
    secret = "a" * 32
    for bad in ("", f"dnc__{secret}", "dnc_a_short", f"dnc_a-b_{secret}", f"xyz_a_{secret}", f"dnc_a_{secret} "):
        assert access.parse_token(bad) is None, bad
    # 62 symbols per character: 32 of them are about 190 bits.
    assert access.SECRET_LENGTH * 5.95 > 128


def test_a_principal_labels_itself_by_name_and_id_or_by_subject() -> None:
    """What history, journals and payouts record beside a change."""
    token = access.principal("Ab1", access.Kind.TOKEN, "alice", "", ["hotline"], [], None)
    cert = access.principal("Cd2", access.Kind.CERTIFICATE, "d7", "CN=dialer-7", ["dialer"], ["wuhan-01"], None)
    assert (token.label, cert.label) == ("alice (token Ab1)", "CN=dialer-7 (certificate Cd2)")
    assert token.may_act_for("any") and cert.may_act_for("wuhan-01") and not cert.may_act_for("wuhan-02")
