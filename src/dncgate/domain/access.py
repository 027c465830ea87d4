"""Who may call what: principals, the role table, and the token format (pure; no store, no clock).

Deny by default: a method that no role names is refused to everyone, `admin` included, so an RPC
that forgets its row fails its own tests instead of being open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

_CALLGATE = "dncgate.v1.CallGate"
_REGISTRY = "dncgate.v1.Registry"
_COMPENSATION = "dncgate.v1.Compensation"
_ACCESS = "dncgate.v1.Access"


def _methods(service: str, *names: str) -> frozenset[str]:
    return frozenset(f"/{service}/{n}" for n in names)


_HOTLINE = _methods(
    _COMPENSATION,
    "FileComplaint",
    "GetComplaint",
    "ListComplaints",
    "ConfirmResolution",
    "AddComplaintUpdate",
    "ExtendComplaint",
    "AssignComplaint",
    "SetOperatorAvailability",
    "ListNotifications",
    "EscalateComplaint",
    "GetComplaintStatus",
    "RecordRevisit",
)

# Each role and the full method names (`/package.Service/Method`) it may call. Every later RPC gets a
# row here from the issue that brings it.
ROLE_METHODS: dict[str, frozenset[str]] = {
    "dialer": _methods(_CALLGATE, "Check", "CheckStream", "CheckBatch", "ReportCallOutcome"),
    "registry": _methods(
        _REGISTRY,
        "SetPreference",
        "GetPreference",
        "GrantConsent",
        "RevokeConsent",
        "AddToOrgList",
        "RemoveFromOrgList",
        "GetOrgListHistory",
    ),
    "importer": _methods(_REGISTRY, "ImportRegistry"),
    "hotline": _HOTLINE,
    "supervisor": _HOTLINE | _methods(_COMPENSATION, "ReviewComplaint", "ReportService"),
    "payments": _methods(_COMPENSATION, "ListPayouts", "MarkPayoutPaid", "GetFundSummary"),
    # The consumer app's backend, looking a case up for the consumer who names it and her number.
    "consumer": _methods(_COMPENSATION, "GetComplaintStatus"),
    # ListCallerLines: whose line a number was is what a compliance review of calls outside the
    # gateway starts from; registering lines stays admin's.
    # GetOrgListHistory: whether a consumer had told an org not to call her, as of a call's time.
    # ListRangeRules: which ranges bound an org's calls at a time; setting them stays admin's.
    "compliance": _methods(
        _REGISTRY,
        "GetPreference",
        "GetPreferenceHistory",
        "GetOrgPolicy",
        "ListCallerLines",
        "GetOrgListHistory",
        "ListRangeRules",
    )
    | _methods(
        _COMPENSATION,
        "ReportViolations",
        "GetComplaint",
        "ListComplaints",
        "GetFundSummary",
        "ListNotifications",
        "ReportService",
    ),
}
# What only admin may call, beside everything the other roles may.
ADMIN_ONLY = (
    _methods(_REGISTRY, "SetOrgPolicy", "RegisterCallerLine", "SetRangeRule")
    | _methods(_ACCESS, "CreateToken", "ListTokens", "RevokeToken")
    # A consumer's erasure: irreversible, so no desk role may ask for it.
    | _methods(_COMPENSATION, "ForgetConsumer")
)

ROLES = tuple(ROLE_METHODS)
ADMIN = "admin"
# Who may close a case over payouts still pending (ConfirmResolutionRequest.override_reason).
OVERRIDE_ROLES = frozenset({"supervisor", ADMIN})
# Whose principals take cases from the hotline's queue: the roles with the hotline's methods whose job
# is cases (admin has them too, but an admin token is not an operator at the phone).
QUEUE_ROLES = frozenset({"hotline", "supervisor"})

# The methods of our services that need no credential at all (health and reflection are not ours,
# and are open too). A public key is public: anyone verifying a receipt may fetch it.
PUBLIC = _methods(_CALLGATE, "GetReceiptKey")
ROLE_METHODS["admin"] = frozenset().union(*ROLE_METHODS.values(), ADMIN_ONLY, PUBLIC)

# The methods whose requests name an org: a principal with orgs may call them for those orgs only.
ORG_SCOPED = ROLE_METHODS["dialer"]


# google.rpc.ErrorInfo reasons of PERMISSION_DENIED.
MISSING_ROLE = "MISSING_ROLE"
ORG_NOT_ALLOWED = "ORG_NOT_ALLOWED"


class Kind(Enum):
    TOKEN = "token"
    CERTIFICATE = "certificate"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a bearer token or a client certificate's subject, with its grants.

    `orgs` empty means every org. `expires_at` is seconds since the epoch, None for never.
    """

    id: str
    kind: Kind
    name: str
    subject: str
    roles: frozenset[str]
    orgs: frozenset[str]
    expires_at: float | None
    methods: frozenset[str]

    @property
    def label(self) -> str:
        """How the principal is recorded beside what it did: `name (token id)` or `subject (certificate id)`."""
        if self.kind is Kind.CERTIFICATE:
            return f"{self.subject} (certificate {self.id})"
        return f"{self.name} (token {self.id})"

    def may_act_for(self, org_id: str) -> bool:
        return not self.orgs or org_id in self.orgs

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


def actor(label: str) -> str:
    """`label` (a principal's `Principal.label`) as the name a write is recorded under; every journal
    entry, history entry and payment a request makes names one, so an empty one is a bug (ValueError)."""
    if not label.strip():
        raise ValueError("a write is recorded under the principal that made it: the actor is required")
    return label


def methods_of(roles: Iterable[str]) -> frozenset[str]:
    """Every method the roles together may call."""
    return frozenset().union(*(ROLE_METHODS[r] for r in roles))


def roles_for(method: str) -> tuple[str, ...]:
    """The roles that may call `method`, in table order (empty: no one may)."""
    return tuple(r for r, methods in ROLE_METHODS.items() if method in methods)


def principal(
    id: str,
    kind: Kind,
    name: str,
    subject: str,
    roles: Iterable[str],
    orgs: Iterable[str],
    expires_at: float | None,
) -> Principal:
    roles = frozenset(roles)
    return Principal(id, kind, name, subject, roles, frozenset(orgs), expires_at, methods_of(roles))


# dnc_<id>_<secret>; the id and the secret are alphanumeric only, so `_` splits them unambiguously.
TOKEN_ID_LENGTH = 12
SECRET_LENGTH = 32  # 62**32 is about 2**190: well past the 128 random bits required
_TOKEN = re.compile(r"dnc_([A-Za-z0-9]{1,64})_([A-Za-z0-9]{22,128})")
_NAME = re.compile(r"[\w.@:+-]([\w .@:+-]{0,126}[\w.@:+-])?")


def parse_token(text: str) -> tuple[str, str] | None:
    """The (id, secret) of a well-formed token, None for anything else."""
    m = _TOKEN.fullmatch(text)
    return (m.group(1), m.group(2)) if m else None


def format_token(token_id: str, secret: str) -> str:
    return f"dnc_{token_id}_{secret}"


def valid_name(name: str) -> bool:
    """A token's name: 1-128 letters, digits, spaces and `._@:+-`, not starting or ending with a space."""
    return _NAME.fullmatch(name) is not None
