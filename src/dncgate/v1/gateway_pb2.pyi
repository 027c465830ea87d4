import datetime

from dncgate.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    DECISION_ALLOW: _ClassVar[Decision]
    DECISION_BLOCK: _ClassVar[Decision]

class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REASON_UNSPECIFIED: _ClassVar[Reason]
    REASON_NOT_REGISTERED: _ClassVar[Reason]
    REASON_REGISTERED: _ClassVar[Reason]
    REASON_CONSENT_ON_FILE: _ClassVar[Reason]
    REASON_OUTSIDE_CALLING_HOURS: _ClassVar[Reason]
    REASON_INVALID_NUMBER: _ClassVar[Reason]
    REASON_REGISTRY_UNAVAILABLE: _ClassVar[Reason]
    REASON_ORG_LIST: _ClassVar[Reason]
    REASON_FREQUENCY_CAP: _ClassVar[Reason]
    REASON_RANGE_BLOCKED: _ClassVar[Reason]
    REASON_QUIET_DAY: _ClassVar[Reason]
    REASON_UNKNOWN_CALLER_LINE: _ClassVar[Reason]
    REASON_NO_CONSENT: _ClassVar[Reason]

class OptOutScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPT_OUT_SCOPE_UNSPECIFIED: _ClassVar[OptOutScope]
    OPT_OUT_SCOPE_ALL: _ClassVar[OptOutScope]
    OPT_OUT_SCOPE_ORG: _ClassVar[OptOutScope]
DECISION_UNSPECIFIED: Decision
DECISION_ALLOW: Decision
DECISION_BLOCK: Decision
REASON_UNSPECIFIED: Reason
REASON_NOT_REGISTERED: Reason
REASON_REGISTERED: Reason
REASON_CONSENT_ON_FILE: Reason
REASON_OUTSIDE_CALLING_HOURS: Reason
REASON_INVALID_NUMBER: Reason
REASON_REGISTRY_UNAVAILABLE: Reason
REASON_ORG_LIST: Reason
REASON_FREQUENCY_CAP: Reason
REASON_RANGE_BLOCKED: Reason
REASON_QUIET_DAY: Reason
REASON_UNKNOWN_CALLER_LINE: Reason
REASON_NO_CONSENT: Reason
OPT_OUT_SCOPE_UNSPECIFIED: OptOutScope
OPT_OUT_SCOPE_ALL: OptOutScope
OPT_OUT_SCOPE_ORG: OptOutScope

class CheckRequest(_message.Message):
    __slots__ = ("caller_number", "callee_number", "agent_id", "org_id", "campaign_id", "category", "request_id")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CALLEE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    callee_number: str
    agent_id: str
    org_id: str
    campaign_id: str
    category: _common_pb2.Category
    request_id: str
    def __init__(self, caller_number: _Optional[str] = ..., callee_number: _Optional[str] = ..., agent_id: _Optional[str] = ..., org_id: _Optional[str] = ..., campaign_id: _Optional[str] = ..., category: _Optional[_Union[_common_pb2.Category, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("decision", "reason", "call_id", "callee_e164", "violation", "next_allowed_time", "request_id", "receipt", "receipt_payload")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CALLEE_E164_FIELD_NUMBER: _ClassVar[int]
    VIOLATION_FIELD_NUMBER: _ClassVar[int]
    NEXT_ALLOWED_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reason: Reason
    call_id: str
    callee_e164: str
    violation: bool
    next_allowed_time: _timestamp_pb2.Timestamp
    request_id: str
    receipt: bytes
    receipt_payload: bytes
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[_Union[Reason, str]] = ..., call_id: _Optional[str] = ..., callee_e164: _Optional[str] = ..., violation: _Optional[bool] = ..., next_allowed_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., receipt: _Optional[bytes] = ..., receipt_payload: _Optional[bytes] = ...) -> None: ...

class CheckBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CheckRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CheckRequest, _Mapping]]] = ...) -> None: ...

class CheckBatchResponse(_message.Message):
    __slots__ = ("responses", "allowed", "blocked")
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[CheckResponse]
    allowed: int
    blocked: int
    def __init__(self, responses: _Optional[_Iterable[_Union[CheckResponse, _Mapping]]] = ..., allowed: _Optional[int] = ..., blocked: _Optional[int] = ...) -> None: ...

class ReportCallOutcomeRequest(_message.Message):
    __slots__ = ("call_id", "dialled", "connected", "duration_seconds", "consumer_opted_out", "request_id", "opt_out_scope", "not_dialled")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DIALLED_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_OPTED_OUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OPT_OUT_SCOPE_FIELD_NUMBER: _ClassVar[int]
    NOT_DIALLED_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    dialled: bool
    connected: bool
    duration_seconds: int
    consumer_opted_out: bool
    request_id: str
    opt_out_scope: OptOutScope
    not_dialled: bool
    def __init__(self, call_id: _Optional[str] = ..., dialled: _Optional[bool] = ..., connected: _Optional[bool] = ..., duration_seconds: _Optional[int] = ..., consumer_opted_out: _Optional[bool] = ..., request_id: _Optional[str] = ..., opt_out_scope: _Optional[_Union[OptOutScope, str]] = ..., not_dialled: _Optional[bool] = ...) -> None: ...

class ReportCallOutcomeResponse(_message.Message):
    __slots__ = ("call_id", "opt_out_registered")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    OPT_OUT_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    opt_out_registered: bool
    def __init__(self, call_id: _Optional[str] = ..., opt_out_registered: _Optional[bool] = ...) -> None: ...

class GetReceiptKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReceiptKey(_message.Message):
    __slots__ = ("algorithm", "public_key", "public_key_pem", "key_id")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    public_key: bytes
    public_key_pem: str
    key_id: str
    def __init__(self, algorithm: _Optional[str] = ..., public_key: _Optional[bytes] = ..., public_key_pem: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...
