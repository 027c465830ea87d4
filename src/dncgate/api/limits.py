"""The one table of input limits of the v1 API, enforced on every request before a servicer sees it.

Every string field of every request message has a kind (`FIELDS`): how long it may be and which
characters it may hold; some repeated fields have a count (`ITEMS`). A string field with no entry
stops its method from being registered (and tests/unit/test_limits.py walks every request message to
catch it first), so a new field cannot slip past the table.

Where: in the request deserializer that `api.interceptors.instrument` installs for every method of
our services (`guard`), rather than in each servicer. gRPC runs it before the handler for a unary
request and as the servicer reads each message of a stream, so one place covers every method, no
servicer can forget it, and nothing (a store, a log line quoting the value) happens before it. It is
also the one place that sees a message protobuf cannot decode (invalid UTF-8 in a string field), which
gRPC would otherwise answer UNKNOWN (unary) or the servicer INTERNAL (streams). Either refusal is
INVALID_ARGUMENT with a BadRequest naming the field (`rows[3].number`, `requests[17].org_id`,
`caller_numbers[1]`). A unary request that fails reaches the handler as `Refused`, which `instrument`
answers; a stream's message raises where the servicer iterates, and is mapped like any other error.

Cost, measured on this 2-core machine (`FromString` alone against the decoder, a /tmp timeit script):
about 1.1 us more per Check (its six strings read once more, joined, one `isprintable`, one `max` of
lengths), 0.8 us per request of a CheckBatch, 0.4 us per imported row. Repeated messages are checked a
field at a time across all of them (`Shape.fine`), one message at a time only to name a refusal.

Servicers and services keep their own checks (required fields, formats, a batch's configured size):
this table is the outer bound of what any of them is handed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from dncgate.api import wire
from dncgate.domain.errors import InvalidArgument
from dncgate.service.checks import MAX_ID_LENGTH, MAX_NUMBER_LENGTH
from dncgate.service.compensation import MAX_CALLERS, MAX_TEXT
from dncgate.service.payouts import MAX_REFERENCE
from dncgate.v1 import access_pb2, compensation_pb2, gateway_pb2, registry_pb2

PACKAGE = "dncgate.v1"
SERVICES = tuple(
    m.DESCRIPTOR.services_by_name[name]
    for m, name in (
        (gateway_pb2, "CallGate"),
        (registry_pb2, "Registry"),
        (compensation_pb2, "Compensation"),
        (access_pb2, "Access"),
    )
)
_CONTROLS = "\x00-\x1f\x7f-\x9f"  # C0, DEL and C1
# The largest request message the gRPC port takes, and the largest body the HTTP/JSON face takes.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Kind:
    """What a string field may hold: at most `max_chars` characters (code points), and either printable
    characters only (`str.isprintable`: no control character, no separator but the space) or anything
    but the characters `forbidden` matches."""

    name: str
    max_chars: int
    forbidden: re.Pattern[str] | None  # None: printable characters only
    refusal: str
    means: str  # for the README's table

    def check(self, value: str, path: str) -> None:
        if len(value) > self.max_chars:
            raise InvalidArgument(path, f"is longer than {self.max_chars} characters")
        if not value.isprintable() and (self.forbidden is None or self.forbidden.search(value)):
            raise InvalidArgument(path, self.refusal)

    def fine(self, values: Sequence[str]) -> bool:
        """Whether `check` passes every value (a fast test; False says only "look closer")."""
        return not values or (max(map(len, values)) <= self.max_chars and "".join(values).isprintable())


ID = Kind("id", MAX_ID_LENGTH, None, "must not contain control characters", "printable characters only")
CODE = Kind("code", 16, None, "must not contain control characters", "printable characters only")
NUMBER = Kind(
    "number",
    MAX_NUMBER_LENGTH,
    re.compile(f"[{_CONTROLS}]"),
    "must not contain control characters",
    "no control characters (spaces, dashes, full-width digits are fine)",
)
REFERENCE = Kind(
    "reference",
    MAX_REFERENCE,
    re.compile(f"[{_CONTROLS}]"),
    "must not contain control characters",
    "no control characters",
)
TEXT = Kind(
    "text",
    MAX_TEXT,
    re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"),  # \t, \n and \r (a browser's line breaks) pass
    "must not contain NUL or control characters other than tab and line breaks",
    "tab and line breaks allowed, no NUL or other control characters",
)
KINDS = (ID, NUMBER, CODE, REFERENCE, TEXT)

# Every string field of every request message, by `Message.field` within dncgate.v1.
FIELDS: dict[str, Kind] = {
    "CheckRequest.caller_number": NUMBER,
    "CheckRequest.callee_number": NUMBER,
    "CheckRequest.agent_id": ID,
    "CheckRequest.org_id": ID,
    "CheckRequest.campaign_id": ID,
    "CheckRequest.request_id": ID,
    "ReportCallOutcomeRequest.call_id": ID,
    "ReportCallOutcomeRequest.request_id": ID,
    "SetPreferenceRequest.number": NUMBER,
    "SetPreferenceRequest.request_id": ID,
    "GetPreferenceRequest.number": NUMBER,
    "GetPreferenceHistoryRequest.number": NUMBER,
    "GrantConsentRequest.consumer_number": NUMBER,
    "GrantConsentRequest.org_id": ID,
    "GrantConsentRequest.agent_id": ID,
    "GrantConsentRequest.evidence": TEXT,
    "GrantConsentRequest.request_id": ID,
    "RevokeConsentRequest.consumer_number": NUMBER,
    "RevokeConsentRequest.org_id": ID,
    "RevokeConsentRequest.agent_id": ID,
    "RevokeConsentRequest.request_id": ID,
    "SetOrgPolicyRequest.org_id": ID,
    "SetOrgPolicyRequest.request_id": ID,
    "GetOrgPolicyRequest.org_id": ID,
    # SetOrgPolicyRequest.update_mask's paths: field names (domain.org_policy.POLICY_FIELDS).
    "google.protobuf.FieldMask.paths": ID,
    "ImportRegistryRequest.number": NUMBER,
    "RegisterCallerLineRequest.caller_number": NUMBER,
    "RegisterCallerLineRequest.org_id": ID,
    "RegisterCallerLineRequest.agent_id": ID,
    "RegisterCallerLineRequest.request_id": ID,
    "ListCallerLinesRequest.org_id": ID,
    "ListCallerLinesRequest.caller_number": NUMBER,
    "ListCallerLinesRequest.page_token": ID,
    "AddToOrgListRequest.org_id": ID,
    "AddToOrgListRequest.number": NUMBER,
    "AddToOrgListRequest.reason": TEXT,
    "AddToOrgListRequest.request_id": ID,
    "RemoveFromOrgListRequest.org_id": ID,
    "RemoveFromOrgListRequest.number": NUMBER,
    "RemoveFromOrgListRequest.request_id": ID,
    "GetOrgListHistoryRequest.number": NUMBER,
    "GetOrgListHistoryRequest.org_id": ID,
    "SetRangeRuleRequest.prefix": NUMBER,
    "SetRangeRuleRequest.org_id": ID,
    "SetRangeRuleRequest.request_id": ID,
    "ListRangeRulesRequest.org_id": ID,
    "FileComplaintRequest.consumer_number": NUMBER,
    "FileComplaintRequest.caller_numbers": NUMBER,
    "FileComplaintRequest.description": TEXT,
    "FileComplaintRequest.request_id": ID,
    "GetComplaintRequest.case_id": ID,
    "ListComplaintsRequest.consumer_number": NUMBER,
    "ListComplaintsRequest.page_token": ID,
    "ListComplaintsRequest.assignee": ID,
    "ConfirmResolutionRequest.case_id": ID,
    "ConfirmResolutionRequest.comment": TEXT,
    "ConfirmResolutionRequest.request_id": ID,
    "ConfirmResolutionRequest.override_reason": TEXT,
    "ConfirmResolutionRequest.remaining_issue": TEXT,
    "ReviewComplaintRequest.case_id": ID,
    "ReviewComplaintRequest.note": TEXT,
    "ReviewComplaintRequest.request_id": ID,
    "AddComplaintUpdateRequest.case_id": ID,
    "AddComplaintUpdateRequest.text": TEXT,
    "AddComplaintUpdateRequest.request_id": ID,
    "ExtendComplaintRequest.case_id": ID,
    "ExtendComplaintRequest.reason": TEXT,
    "ExtendComplaintRequest.request_id": ID,
    "AssignComplaintRequest.case_id": ID,
    "AssignComplaintRequest.assignee": ID,
    "AssignComplaintRequest.note": TEXT,
    "AssignComplaintRequest.request_id": ID,
    "SetOperatorAvailabilityRequest.operator": ID,
    "EscalateComplaintRequest.case_id": ID,
    "EscalateComplaintRequest.reason": TEXT,
    "EscalateComplaintRequest.request_id": ID,
    "ForgetConsumerRequest.consumer_number": NUMBER,
    "ForgetConsumerRequest.request_id": ID,
    "GetComplaintStatusRequest.case_id": ID,
    "GetComplaintStatusRequest.consumer_number": NUMBER,
    "RecordRevisitRequest.case_id": ID,
    "RecordRevisitRequest.note": TEXT,
    "RecordRevisitRequest.request_id": ID,
    "ListPayoutsRequest.page_token": ID,
    "ListNotificationsRequest.case_id": ID,
    "ListNotificationsRequest.page_token": ID,
    "MarkPayoutPaidRequest.payout_id": ID,
    "MarkPayoutPaidRequest.payment_reference": REFERENCE,
    "MarkPayoutPaidRequest.request_id": ID,
    "GetFundSummaryRequest.period": CODE,
    "ReportViolationsRequest.org_id": ID,
    "ReportServiceRequest.period": CODE,
    "ReportServiceRequest.assignee": ID,
    "CreateTokenRequest.name": ID,
    "CreateTokenRequest.roles": CODE,
    "CreateTokenRequest.orgs": ID,
    "CreateTokenRequest.certificate_subject": TEXT,
    "RevokeTokenRequest.id": ID,
}

# Repeated fields with a count: (at most, what is counted). The count is checked before the items.
ITEMS: dict[str, tuple[int, str]] = {
    "ImportRegistryRequest.rows": (5000, "rows per message"),
    "FileComplaintRequest.caller_numbers": (MAX_CALLERS, "numbers per complaint"),
    # DNCGATE_MAX_BATCH's own ceiling; the configured batch size is the servicer's to enforce.
    "CheckBatchRequest.requests": (100_000, "requests per batch"),
    "CreateTokenRequest.roles": (16, "roles per token"),
    "CreateTokenRequest.orgs": (1000, "orgs per token"),
    "google.protobuf.FieldMask.paths": (64, "paths per mask"),
}


def key(field: FieldDescriptor) -> str:
    return field.full_name.removeprefix(PACKAGE + ".")


def request_messages() -> list[Descriptor]:
    """Every message a request of our services can carry: the methods' input types and what they nest
    (of other packages, those with strings: google.protobuf.FieldMask)."""
    found: dict[str, Descriptor] = {}
    todo = [m.input_type for s in SERVICES for m in s.methods]
    while todo:
        desc = todo.pop()
        ours = desc.full_name.startswith(PACKAGE + ".")
        if desc.full_name not in found and (ours or _has_strings(desc, set())):
            found[desc.full_name] = desc
            todo.extend(f.message_type for f in desc.fields if f.message_type is not None)
    return list(found.values())


def _has_strings(desc: Descriptor, seen: set[str]) -> bool:
    if desc.full_name in seen:
        return False
    seen.add(desc.full_name)
    return any(
        f.type == FieldDescriptor.TYPE_STRING or (f.message_type is not None and _has_strings(f.message_type, seen))
        for f in desc.fields
    )


def _nested(name: str, index: int | None, exc: InvalidArgument) -> InvalidArgument:
    where = name if index is None else f"{name}[{index}]"
    return InvalidArgument(f"{where}.{exc.field}", exc.description)


def _strings_check(strings: Sequence[tuple[str, Kind]]) -> Callable[[Any], None] | None:
    """The check of a message's (non-repeated) string fields: read at once, one test of them joined
    (printable, none longer than the shortest limit), field by field only when that fails."""
    if not strings:
        return None
    names = [name for name, _ in strings]
    get, one = attrgetter(*names), len(names) == 1
    shortest = min(kind.max_chars for _, kind in strings)

    def check_strings(msg: Any) -> None:
        got: tuple[str, ...] = (get(msg),) if one else get(msg)
        joined = "".join(got)
        if not joined.isprintable() or (len(joined) > shortest and max(map(len, got)) > shortest):
            for (name, kind), value in zip(strings, got, strict=True):
                kind.check(value, name)

    return check_strings


class Shape:
    """The checks of one message type, compiled from its descriptor and the table."""

    def __init__(self, desc: Descriptor, shapes: dict[str, Shape]) -> None:
        shapes[desc.full_name] = self  # first: a message may nest its own type (ImportRegistryRequest.rows)
        self.name = desc.full_name
        strings: list[tuple[str, Kind]] = []
        # Repeated fields: (name, getter, kind or shape, count: (at most, what) or None)
        self.lists: list[tuple[str, attrgetter[Any], Kind, tuple[int, str] | None]] = []
        self.repeated: list[tuple[str, attrgetter[Any], Shape, tuple[int, str] | None]] = []
        self.singles: list[tuple[str, Shape]] = []
        for f in desc.fields:
            count = ITEMS.get(key(f))
            if f.type == FieldDescriptor.TYPE_STRING:
                kind = FIELDS.get(key(f))
                if kind is None:
                    raise LookupError(f"{f.full_name} has no entry in dncgate.api.limits.FIELDS")
                if f.is_repeated:
                    self.lists.append((f.name, attrgetter(f.name), kind, count))
                else:
                    strings.append((f.name, kind))
            elif (sub := f.message_type) is not None and _has_strings(sub, set()):
                shape = shapes.get(sub.full_name) or Shape(sub, shapes)
                if f.is_repeated:
                    self.repeated.append((f.name, attrgetter(f.name), shape, count))
                else:
                    self.singles.append((f.name, shape))
            elif count is not None:
                raise LookupError(f"{f.full_name}: counts are kept for repeated strings and messages only")
        self.columns = [(attrgetter(n), kind) for n, kind in strings]
        self.counted = [(n, get, count) for n, get, _, count in (*self.lists, *self.repeated) if count is not None]
        self.deep = bool(self.lists or self.repeated or self.singles)
        self.check_strings = _strings_check(strings)

    def checker(self) -> Callable[[Any], None]:
        """`check`, or for a message with no nested or repeated field (a CheckRequest) the check of its
        strings itself: a tenth of a microsecond less per Check."""
        return self.check if self.deep or self.check_strings is None else self.check_strings

    def check(self, msg: Any) -> None:
        """Raise InvalidArgument naming the first field of `msg` past its limit (path relative to `msg`)."""
        if self.check_strings is not None:
            self.check_strings(msg)
        if self.deep:
            self.check_nested(msg)

    def check_nested(self, msg: Any) -> None:
        """`check` of the repeated and nested fields: counts first, before any list is walked."""
        for name, get, count in self.counted:
            if (n := len(get(msg))) > count[0]:
                raise InvalidArgument(name, f"at most {count[0]} {count[1]}, got {n}")
        for name, get, kind, _ in self.lists:
            values = get(msg)
            if not kind.fine(values):
                for i, value in enumerate(values):
                    kind.check(value, f"{name}[{i}]")
        for name, shape in self.singles:
            if msg.HasField(name):
                try:
                    shape.check(getattr(msg, name))
                except InvalidArgument as exc:
                    raise _nested(name, None, exc) from None
        for name, get, shape, _ in self.repeated:
            items = get(msg)
            if items and not shape.fine(list(items)):
                for i, item in enumerate(items):
                    try:
                        shape.check(item)
                    except InvalidArgument as exc:
                        raise _nested(name, i, exc) from None

    def fine(self, items: list[Any]) -> bool:
        """Whether `check` passes every message of `items`, tested a field at a time across them (fast;
        False says only "look closer"). A list, since each read of a repeated field makes new objects."""
        for get, kind in self.columns:
            if not kind.fine(list(map(get, items))):
                return False
        for _, get, kind, count in self.lists:
            lists = list(map(get, items))
            if count is not None and max(map(len, lists)) > count[0]:
                return False
            if not all(map(kind.fine, lists)):
                return False
        for name, shape in self.singles:
            present = [getattr(m, name) for m in items if m.HasField(name)]
            if present and not shape.fine(present):
                return False
        for _, get, shape, count in self.repeated:
            lists = list(map(get, items))
            if count is not None and max(map(len, lists)) > count[0]:
                return False
            inner = [x for sub in lists if sub for x in sub]
            if inner and not shape.fine(inner):
                return False
        return True


_SHAPES: dict[str, Shape] = {}


def shape_of(desc: Descriptor) -> Shape:
    return _SHAPES.get(desc.full_name) or Shape(desc, _SHAPES)


class Refused:
    """What a unary request that failed decoding or the table reaches its handler as."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def undecodable(desc: Descriptor, raw: bytes) -> InvalidArgument:
    found = wire.locate(desc, raw)
    if found is None or not found[0]:
        return InvalidArgument("request", f"cannot be decoded as {desc.full_name}")
    return InvalidArgument(*found)


def decoder(desc: Descriptor, parse: Callable[[bytes], Message], stream: bool) -> Callable[[bytes], Any]:
    """`parse`, then the table: a refusal is raised for a stream's message, returned as `Refused` else."""
    check = shape_of(desc).checker() if _has_strings(desc, set()) else None

    def decode(raw: bytes) -> Any:
        try:
            msg = parse(raw)
            if check is not None:
                check(msg)
            return msg
        except DecodeError:
            error = undecodable(desc, raw)
        except InvalidArgument as exc:
            error = exc
        if stream:
            raise error
        return Refused(error)

    return decode


def guard(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` decoding its requests with `decoder`; unchanged for a method outside dncgate.v1."""
    service, _, name = method.strip("/").partition("/")
    if not service.startswith(PACKAGE + ".") or handler.request_deserializer is None:
        return handler
    desc = descriptor_pool.Default().FindMethodByName(f"{service}.{name}").input_type
    guarded: grpc.RpcMethodHandler = handler._replace(
        request_deserializer=decoder(desc, handler.request_deserializer, handler.request_streaming)
    )
    return guarded


def _short(f: str) -> str:
    """A table key without its message (`CheckRequest.org_id` -> `org_id`; a well-known type's field by
    its own name: `google.protobuf.FieldMask.paths` -> `FieldMask.paths`)."""
    return f.rsplit(".", 2)[-2] + "." + f.rsplit(".", 1)[-1] if f.startswith("google.") else f.partition(".")[2]


def markdown() -> str:
    """The README's table: each kind with its limit and its fields (by name where a name has one kind
    in every message, else as `Message.field`), then the counts."""
    kinds_of: dict[str, set[str]] = {}
    for f, k in FIELDS.items():
        kinds_of.setdefault(_short(f), set()).add(k.name)
    lines = ["| kind | at most (characters) | may hold | fields |", "|---|---|---|---|"]
    for kind in KINDS:
        names: dict[str, None] = {}
        for f, k in FIELDS.items():
            if k is kind:
                name = _short(f)
                names[name if len(kinds_of[name]) == 1 else f] = None
        lines.append(f"| {kind.name} | {kind.max_chars:,} | {kind.means} | {', '.join(f'`{n}`' for n in names)} |")
    counts = "; ".join(f"`{f}`: {most:,} {what}" for f, (most, what) in ITEMS.items())
    return "\n".join(lines) + f"\n\nAt most: {counts}.\n"
