import datetime

from dncgate.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RangeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANGE_ACTION_UNSPECIFIED: _ClassVar[RangeAction]
    RANGE_ACTION_BLOCK: _ClassVar[RangeAction]
    RANGE_ACTION_ALLOW: _ClassVar[RangeAction]
RANGE_ACTION_UNSPECIFIED: RangeAction
RANGE_ACTION_BLOCK: RangeAction
RANGE_ACTION_ALLOW: RangeAction

class SetRangeRuleRequest(_message.Message):
    __slots__ = ("prefix", "action", "categories", "org_id", "effective_from", "request_id")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    action: RangeAction
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    org_id: str
    effective_from: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, prefix: _Optional[str] = ..., action: _Optional[_Union[RangeAction, str]] = ..., categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., org_id: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class RangeRule(_message.Message):
    __slots__ = ("prefix", "action", "categories", "org_id", "effective_from", "recorded_at", "journal_seq", "recorded_by")
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    action: RangeAction
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    org_id: str
    effective_from: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    journal_seq: int
    recorded_by: str
    def __init__(self, prefix: _Optional[str] = ..., action: _Optional[_Union[RangeAction, str]] = ..., categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., org_id: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., journal_seq: _Optional[int] = ..., recorded_by: _Optional[str] = ...) -> None: ...

class ListRangeRulesRequest(_message.Message):
    __slots__ = ("org_id", "at")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, org_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListRangeRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RangeRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[RangeRule, _Mapping]]] = ...) -> None: ...

class AddToOrgListRequest(_message.Message):
    __slots__ = ("org_id", "number", "reason", "request_id")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    number: str
    reason: str
    request_id: str
    def __init__(self, org_id: _Optional[str] = ..., number: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RemoveFromOrgListRequest(_message.Message):
    __slots__ = ("org_id", "number", "request_id")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    number: str
    request_id: str
    def __init__(self, org_id: _Optional[str] = ..., number: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class OrgListEntry(_message.Message):
    __slots__ = ("number_masked", "org_id", "listed", "reason", "effective_at", "recorded_at", "journal_seq", "recorded_by", "on_list")
    NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    ON_LIST_FIELD_NUMBER: _ClassVar[int]
    number_masked: str
    org_id: str
    listed: bool
    reason: str
    effective_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    journal_seq: int
    recorded_by: str
    on_list: bool
    def __init__(self, number_masked: _Optional[str] = ..., org_id: _Optional[str] = ..., listed: _Optional[bool] = ..., reason: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., journal_seq: _Optional[int] = ..., recorded_by: _Optional[str] = ..., on_list: _Optional[bool] = ...) -> None: ...

class GetOrgListHistoryRequest(_message.Message):
    __slots__ = ("number", "org_id", "as_of")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    number: str
    org_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[str] = ..., org_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrgListHistory(_message.Message):
    __slots__ = ("number_masked", "org_id", "entries", "listed", "listed_by")
    NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    LISTED_BY_FIELD_NUMBER: _ClassVar[int]
    number_masked: str
    org_id: str
    entries: _containers.RepeatedCompositeFieldContainer[OrgListEntry]
    listed: bool
    listed_by: OrgListEntry
    def __init__(self, number_masked: _Optional[str] = ..., org_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[OrgListEntry, _Mapping]]] = ..., listed: _Optional[bool] = ..., listed_by: _Optional[_Union[OrgListEntry, _Mapping]] = ...) -> None: ...

class SetPreferenceRequest(_message.Message):
    __slots__ = ("number", "do_not_disturb", "categories", "source", "effective_from", "request_id")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_DISTURB_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    number: str
    do_not_disturb: bool
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    source: _common_pb2.Source
    effective_from: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, number: _Optional[str] = ..., do_not_disturb: _Optional[bool] = ..., categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., source: _Optional[_Union[_common_pb2.Source, str]] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class Preference(_message.Message):
    __slots__ = ("number_masked", "do_not_disturb", "categories", "source", "effective_from", "recorded_at", "found", "journal_seq", "recorded_by")
    NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_DISTURB_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    number_masked: str
    do_not_disturb: bool
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    source: _common_pb2.Source
    effective_from: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    found: bool
    journal_seq: int
    recorded_by: str
    def __init__(self, number_masked: _Optional[str] = ..., do_not_disturb: _Optional[bool] = ..., categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., source: _Optional[_Union[_common_pb2.Source, str]] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., found: _Optional[bool] = ..., journal_seq: _Optional[int] = ..., recorded_by: _Optional[str] = ...) -> None: ...

class GetPreferenceRequest(_message.Message):
    __slots__ = ("number", "as_of")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    number: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPreferenceHistoryRequest(_message.Message):
    __slots__ = ("number",)
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    number: str
    def __init__(self, number: _Optional[str] = ...) -> None: ...

class PreferenceHistory(_message.Message):
    __slots__ = ("number_masked", "entries", "consents")
    NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    number_masked: str
    entries: _containers.RepeatedCompositeFieldContainer[Preference]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, number_masked: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[Preference, _Mapping]]] = ..., consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class GrantConsentRequest(_message.Message):
    __slots__ = ("consumer_number", "org_id", "agent_id", "expires_at", "evidence", "request_id", "exempt_from_caps")
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXEMPT_FROM_CAPS_FIELD_NUMBER: _ClassVar[int]
    consumer_number: str
    org_id: str
    agent_id: str
    expires_at: _timestamp_pb2.Timestamp
    evidence: str
    request_id: str
    exempt_from_caps: bool
    def __init__(self, consumer_number: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., evidence: _Optional[str] = ..., request_id: _Optional[str] = ..., exempt_from_caps: _Optional[bool] = ...) -> None: ...

class RevokeConsentRequest(_message.Message):
    __slots__ = ("consumer_number", "org_id", "agent_id", "request_id")
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    consumer_number: str
    org_id: str
    agent_id: str
    request_id: str
    def __init__(self, consumer_number: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("consumer_number_masked", "org_id", "agent_id", "granted_at", "expires_at", "evidence", "revoked", "recorded_at", "journal_seq", "recorded_by", "exempt_from_caps")
    CONSUMER_NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    EXEMPT_FROM_CAPS_FIELD_NUMBER: _ClassVar[int]
    consumer_number_masked: str
    org_id: str
    agent_id: str
    granted_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    evidence: str
    revoked: bool
    recorded_at: _timestamp_pb2.Timestamp
    journal_seq: int
    recorded_by: str
    exempt_from_caps: bool
    def __init__(self, consumer_number_masked: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., granted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., evidence: _Optional[str] = ..., revoked: _Optional[bool] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., journal_seq: _Optional[int] = ..., recorded_by: _Optional[str] = ..., exempt_from_caps: _Optional[bool] = ...) -> None: ...

class SetOrgPolicyRequest(_message.Message):
    __slots__ = ("org_id", "mode", "request_id", "signed_receipts", "update_mask", "quiet_on_public_holidays", "require_registered_lines", "max_calls_per_day", "consent_required", "consent_required_categories")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNED_RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    QUIET_ON_PUBLIC_HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_REGISTERED_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REQUIRED_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    mode: _common_pb2.Mode
    request_id: str
    signed_receipts: bool
    update_mask: _field_mask_pb2.FieldMask
    quiet_on_public_holidays: bool
    require_registered_lines: bool
    max_calls_per_day: int
    consent_required: bool
    consent_required_categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    def __init__(self, org_id: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.Mode, str]] = ..., request_id: _Optional[str] = ..., signed_receipts: _Optional[bool] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., quiet_on_public_holidays: _Optional[bool] = ..., require_registered_lines: _Optional[bool] = ..., max_calls_per_day: _Optional[int] = ..., consent_required: _Optional[bool] = ..., consent_required_categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ...) -> None: ...

class GetOrgPolicyRequest(_message.Message):
    __slots__ = ("org_id",)
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    def __init__(self, org_id: _Optional[str] = ...) -> None: ...

class OrgPolicy(_message.Message):
    __slots__ = ("org_id", "mode", "explicit", "recorded_by", "signed_receipts", "quiet_on_public_holidays", "require_registered_lines", "max_calls_per_day", "consent_required", "consent_required_categories")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    EXPLICIT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    QUIET_ON_PUBLIC_HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_REGISTERED_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_REQUIRED_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    mode: _common_pb2.Mode
    explicit: bool
    recorded_by: str
    signed_receipts: bool
    quiet_on_public_holidays: bool
    require_registered_lines: bool
    max_calls_per_day: int
    consent_required: bool
    consent_required_categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    def __init__(self, org_id: _Optional[str] = ..., mode: _Optional[_Union[_common_pb2.Mode, str]] = ..., explicit: _Optional[bool] = ..., recorded_by: _Optional[str] = ..., signed_receipts: _Optional[bool] = ..., quiet_on_public_holidays: _Optional[bool] = ..., require_registered_lines: _Optional[bool] = ..., max_calls_per_day: _Optional[int] = ..., consent_required: _Optional[bool] = ..., consent_required_categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ...) -> None: ...

class ImportRegistryRequest(_message.Message):
    __slots__ = ("number", "do_not_disturb", "categories", "source", "effective_from", "rows")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_DISTURB_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    number: str
    do_not_disturb: bool
    categories: _containers.RepeatedScalarFieldContainer[_common_pb2.Category]
    source: _common_pb2.Source
    effective_from: _timestamp_pb2.Timestamp
    rows: _containers.RepeatedCompositeFieldContainer[ImportRegistryRequest]
    def __init__(self, number: _Optional[str] = ..., do_not_disturb: _Optional[bool] = ..., categories: _Optional[_Iterable[_Union[_common_pb2.Category, str]]] = ..., source: _Optional[_Union[_common_pb2.Source, str]] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[ImportRegistryRequest, _Mapping]]] = ...) -> None: ...

class ImportRegistrySummary(_message.Message):
    __slots__ = ("rows", "accepted", "invalid", "invalid_rows")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    INVALID_ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    accepted: int
    invalid: int
    invalid_rows: _containers.RepeatedCompositeFieldContainer[InvalidRow]
    def __init__(self, rows: _Optional[int] = ..., accepted: _Optional[int] = ..., invalid: _Optional[int] = ..., invalid_rows: _Optional[_Iterable[_Union[InvalidRow, _Mapping]]] = ...) -> None: ...

class InvalidRow(_message.Message):
    __slots__ = ("row", "reason")
    ROW_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    row: int
    reason: str
    def __init__(self, row: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RegisterCallerLineRequest(_message.Message):
    __slots__ = ("caller_number", "org_id", "agent_id", "valid_from", "valid_to", "request_id")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    org_id: str
    agent_id: str
    valid_from: _timestamp_pb2.Timestamp
    valid_to: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, caller_number: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CallerLine(_message.Message):
    __slots__ = ("caller_number", "org_id", "agent_id", "valid_from", "valid_to", "recorded_at", "journal_seq", "recorded_by", "live")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDED_BY_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    org_id: str
    agent_id: str
    valid_from: _timestamp_pb2.Timestamp
    valid_to: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    journal_seq: int
    recorded_by: str
    live: bool
    def __init__(self, caller_number: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., journal_seq: _Optional[int] = ..., recorded_by: _Optional[str] = ..., live: _Optional[bool] = ...) -> None: ...

class ListCallerLinesRequest(_message.Message):
    __slots__ = ("org_id", "caller_number", "at", "page_size", "page_token")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    caller_number: str
    at: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, org_id: _Optional[str] = ..., caller_number: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCallerLinesResponse(_message.Message):
    __slots__ = ("lines", "next_page_token")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[CallerLine]
    next_page_token: str
    def __init__(self, lines: _Optional[_Iterable[_Union[CallerLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
