import datetime

from dncgate.v1 import gateway_pb2 as _gateway_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import money_pb2 as _money_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_HOTLINE: _ClassVar[Channel]
    CHANNEL_APP: _ClassVar[Channel]
    CHANNEL_REGULATOR: _ClassVar[Channel]

class ComplaintStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLAINT_STATUS_UNSPECIFIED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_RECEIVED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_VERIFIED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_PARTIALLY_VERIFIED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_REJECTED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_MANUAL_REVIEW: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_PAID: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_CLOSED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_REOPENED: _ClassVar[ComplaintStatus]
    COMPLAINT_STATUS_ALREADY_COMPENSATED: _ClassVar[ComplaintStatus]

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_RECEIVED: _ClassVar[Stage]
    STAGE_VERIFYING: _ClassVar[Stage]
    STAGE_RESOLUTION_DRAFTED: _ClassVar[Stage]
    STAGE_RESOLVED: _ClassVar[Stage]
    STAGE_CONSUMER_CONFIRMED: _ClassVar[Stage]
    STAGE_REVISITED: _ClassVar[Stage]

class DueState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUE_STATE_UNSPECIFIED: _ClassVar[DueState]
    DUE_STATE_FIRST_RESPONSE_OVERDUE: _ClassVar[DueState]
    DUE_STATE_RESOLUTION_OVERDUE: _ClassVar[DueState]
    DUE_STATE_UPDATE_OVERDUE: _ClassVar[DueState]
    DUE_STATE_REVISIT_OVERDUE: _ClassVar[DueState]

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_VERIFIED: _ClassVar[Verdict]
    VERDICT_NO_MATCHING_CALL: _ClassVar[Verdict]
    VERDICT_CONSENT_ON_FILE: _ClassVar[Verdict]
    VERDICT_NOT_REGISTERED_AT_CALL_TIME: _ClassVar[Verdict]
    VERDICT_ALREADY_COMPENSATED: _ClassVar[Verdict]
    VERDICT_CALLED_OUTSIDE_GATEWAY: _ClassVar[Verdict]
    VERDICT_RULE_VIOLATED: _ClassVar[Verdict]

class PayoutStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_STATUS_UNSPECIFIED: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_PENDING: _ClassVar[PayoutStatus]
    PAYOUT_STATUS_PAID: _ClassVar[PayoutStatus]

class UpdateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPDATE_KIND_UNSPECIFIED: _ClassVar[UpdateKind]
    UPDATE_KIND_PROGRESS: _ClassVar[UpdateKind]
    UPDATE_KIND_EXTENSION: _ClassVar[UpdateKind]
    UPDATE_KIND_REGULATOR_REPLY: _ClassVar[UpdateKind]
    UPDATE_KIND_PROGRESS_STATEMENT: _ClassVar[UpdateKind]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_ACCEPTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_UPDATE: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_VERDICT: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_PAYOUT_PAID: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_EXTENSION: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_REVISIT: _ClassVar[NotificationKind]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_HOTLINE: Channel
CHANNEL_APP: Channel
CHANNEL_REGULATOR: Channel
COMPLAINT_STATUS_UNSPECIFIED: ComplaintStatus
COMPLAINT_STATUS_RECEIVED: ComplaintStatus
COMPLAINT_STATUS_VERIFIED: ComplaintStatus
COMPLAINT_STATUS_PARTIALLY_VERIFIED: ComplaintStatus
COMPLAINT_STATUS_REJECTED: ComplaintStatus
COMPLAINT_STATUS_MANUAL_REVIEW: ComplaintStatus
COMPLAINT_STATUS_PAID: ComplaintStatus
COMPLAINT_STATUS_CLOSED: ComplaintStatus
COMPLAINT_STATUS_REOPENED: ComplaintStatus
COMPLAINT_STATUS_ALREADY_COMPENSATED: ComplaintStatus
STAGE_UNSPECIFIED: Stage
STAGE_RECEIVED: Stage
STAGE_VERIFYING: Stage
STAGE_RESOLUTION_DRAFTED: Stage
STAGE_RESOLVED: Stage
STAGE_CONSUMER_CONFIRMED: Stage
STAGE_REVISITED: Stage
DUE_STATE_UNSPECIFIED: DueState
DUE_STATE_FIRST_RESPONSE_OVERDUE: DueState
DUE_STATE_RESOLUTION_OVERDUE: DueState
DUE_STATE_UPDATE_OVERDUE: DueState
DUE_STATE_REVISIT_OVERDUE: DueState
VERDICT_UNSPECIFIED: Verdict
VERDICT_VERIFIED: Verdict
VERDICT_NO_MATCHING_CALL: Verdict
VERDICT_CONSENT_ON_FILE: Verdict
VERDICT_NOT_REGISTERED_AT_CALL_TIME: Verdict
VERDICT_ALREADY_COMPENSATED: Verdict
VERDICT_CALLED_OUTSIDE_GATEWAY: Verdict
VERDICT_RULE_VIOLATED: Verdict
PAYOUT_STATUS_UNSPECIFIED: PayoutStatus
PAYOUT_STATUS_PENDING: PayoutStatus
PAYOUT_STATUS_PAID: PayoutStatus
UPDATE_KIND_UNSPECIFIED: UpdateKind
UPDATE_KIND_PROGRESS: UpdateKind
UPDATE_KIND_EXTENSION: UpdateKind
UPDATE_KIND_REGULATOR_REPLY: UpdateKind
UPDATE_KIND_PROGRESS_STATEMENT: UpdateKind
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_ACCEPTED: NotificationKind
NOTIFICATION_KIND_UPDATE: NotificationKind
NOTIFICATION_KIND_VERDICT: NotificationKind
NOTIFICATION_KIND_PAYOUT_PAID: NotificationKind
NOTIFICATION_KIND_EXTENSION: NotificationKind
NOTIFICATION_KIND_REVISIT: NotificationKind

class FileComplaintRequest(_message.Message):
    __slots__ = ("consumer_number", "caller_numbers", "occurred_after", "occurred_before", "channel", "description", "request_id", "disputes_consent", "escalate")
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CALLER_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AFTER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPUTES_CONSENT_FIELD_NUMBER: _ClassVar[int]
    ESCALATE_FIELD_NUMBER: _ClassVar[int]
    consumer_number: str
    caller_numbers: _containers.RepeatedScalarFieldContainer[str]
    occurred_after: _timestamp_pb2.Timestamp
    occurred_before: _timestamp_pb2.Timestamp
    channel: Channel
    description: str
    request_id: str
    disputes_consent: bool
    escalate: bool
    def __init__(self, consumer_number: _Optional[str] = ..., caller_numbers: _Optional[_Iterable[str]] = ..., occurred_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[_Union[Channel, str]] = ..., description: _Optional[str] = ..., request_id: _Optional[str] = ..., disputes_consent: _Optional[bool] = ..., escalate: _Optional[bool] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("caller_number", "verdict", "call_ids", "payout_id", "amount", "consent_evidence", "compensated_by_case_id", "org_id", "agent_id", "rules_broken")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CALL_IDS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMPENSATED_BY_CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_BROKEN_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    verdict: Verdict
    call_ids: _containers.RepeatedScalarFieldContainer[str]
    payout_id: str
    amount: _money_pb2.Money
    consent_evidence: str
    compensated_by_case_id: str
    org_id: str
    agent_id: str
    rules_broken: _containers.RepeatedScalarFieldContainer[_gateway_pb2.Reason]
    def __init__(self, caller_number: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., call_ids: _Optional[_Iterable[str]] = ..., payout_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., consent_evidence: _Optional[str] = ..., compensated_by_case_id: _Optional[str] = ..., org_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., rules_broken: _Optional[_Iterable[_Union[_gateway_pb2.Reason, str]]] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("at", "actor", "action", "note")
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    actor: str
    action: str
    note: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ComplaintUpdate(_message.Message):
    __slots__ = ("at", "author", "text", "visible_to_consumer", "kind", "previous_resolution_due", "new_resolution_due")
    AT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_TO_CONSUMER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    NEW_RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    author: str
    text: str
    visible_to_consumer: bool
    kind: UpdateKind
    previous_resolution_due: _timestamp_pb2.Timestamp
    new_resolution_due: _timestamp_pb2.Timestamp
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., author: _Optional[str] = ..., text: _Optional[str] = ..., visible_to_consumer: _Optional[bool] = ..., kind: _Optional[_Union[UpdateKind, str]] = ..., previous_resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., new_resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Complaint(_message.Message):
    __slots__ = ("case_id", "status", "findings", "total_compensation", "consumer_number_masked", "created_at", "first_response_due", "resolution_due", "history", "channel", "description", "occurred_after", "occurred_before", "updates", "next_update_due", "update_overdue", "stage", "timeline", "assignee", "satisfaction", "resolved", "remaining_issue", "regulator_reply_due", "regulator_replied_at", "regulator_reply_overdue", "major", "progress_statement_due", "progress_statement_overdue", "progress_statement_at", "revisit_due", "revisit_overdue", "revisit", "recurrence_of", "closed_at")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_DUE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AFTER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_UPDATE_DUE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ISSUE_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_REPLY_DUE_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_REPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_REPLY_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_STATEMENT_DUE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_STATEMENT_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_STATEMENT_AT_FIELD_NUMBER: _ClassVar[int]
    REVISIT_DUE_FIELD_NUMBER: _ClassVar[int]
    REVISIT_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    REVISIT_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_OF_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    status: ComplaintStatus
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    total_compensation: _money_pb2.Money
    consumer_number_masked: str
    created_at: _timestamp_pb2.Timestamp
    first_response_due: _timestamp_pb2.Timestamp
    resolution_due: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    channel: Channel
    description: str
    occurred_after: _timestamp_pb2.Timestamp
    occurred_before: _timestamp_pb2.Timestamp
    updates: _containers.RepeatedCompositeFieldContainer[ComplaintUpdate]
    next_update_due: _timestamp_pb2.Timestamp
    update_overdue: bool
    stage: Stage
    timeline: _containers.RepeatedCompositeFieldContainer[StageEntry]
    assignee: str
    satisfaction: int
    resolved: bool
    remaining_issue: str
    regulator_reply_due: _timestamp_pb2.Timestamp
    regulator_replied_at: _timestamp_pb2.Timestamp
    regulator_reply_overdue: bool
    major: bool
    progress_statement_due: _timestamp_pb2.Timestamp
    progress_statement_overdue: bool
    progress_statement_at: _timestamp_pb2.Timestamp
    revisit_due: _timestamp_pb2.Timestamp
    revisit_overdue: bool
    revisit: Revisit
    recurrence_of: str
    closed_at: _timestamp_pb2.Timestamp
    def __init__(self, case_id: _Optional[str] = ..., status: _Optional[_Union[ComplaintStatus, str]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., total_compensation: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., consumer_number_masked: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., channel: _Optional[_Union[Channel, str]] = ..., description: _Optional[str] = ..., occurred_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updates: _Optional[_Iterable[_Union[ComplaintUpdate, _Mapping]]] = ..., next_update_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_overdue: _Optional[bool] = ..., stage: _Optional[_Union[Stage, str]] = ..., timeline: _Optional[_Iterable[_Union[StageEntry, _Mapping]]] = ..., assignee: _Optional[str] = ..., satisfaction: _Optional[int] = ..., resolved: _Optional[bool] = ..., remaining_issue: _Optional[str] = ..., regulator_reply_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., regulator_replied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., regulator_reply_overdue: _Optional[bool] = ..., major: _Optional[bool] = ..., progress_statement_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress_statement_overdue: _Optional[bool] = ..., progress_statement_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revisit_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revisit_overdue: _Optional[bool] = ..., revisit: _Optional[_Union[Revisit, _Mapping]] = ..., recurrence_of: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Revisit(_message.Message):
    __slots__ = ("at", "actor", "recurred", "rating", "note", "recurrence_case_id")
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    RECURRED_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_CASE_ID_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    actor: str
    recurred: bool
    rating: int
    note: str
    recurrence_case_id: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., recurred: _Optional[bool] = ..., rating: _Optional[int] = ..., note: _Optional[str] = ..., recurrence_case_id: _Optional[str] = ...) -> None: ...

class RecordRevisitRequest(_message.Message):
    __slots__ = ("case_id", "recurred", "rating", "note", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    RECURRED_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    recurred: bool
    rating: int
    note: str
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., recurred: _Optional[bool] = ..., rating: _Optional[int] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class StageEntry(_message.Message):
    __slots__ = ("stage", "at", "actor")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    at: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class GetComplaintRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class ListComplaintsRequest(_message.Message):
    __slots__ = ("consumer_number", "status", "overdue_only", "page_size", "page_token", "update_overdue_only", "assignee", "stage", "due_state", "regulator_reply_overdue_only")
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DUE_STATE_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_REPLY_OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    consumer_number: str
    status: ComplaintStatus
    overdue_only: bool
    page_size: int
    page_token: str
    update_overdue_only: bool
    assignee: str
    stage: Stage
    due_state: DueState
    regulator_reply_overdue_only: bool
    def __init__(self, consumer_number: _Optional[str] = ..., status: _Optional[_Union[ComplaintStatus, str]] = ..., overdue_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., update_overdue_only: _Optional[bool] = ..., assignee: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., due_state: _Optional[_Union[DueState, str]] = ..., regulator_reply_overdue_only: _Optional[bool] = ...) -> None: ...

class ListComplaintsResponse(_message.Message):
    __slots__ = ("complaints", "next_page_token")
    COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    complaints: _containers.RepeatedCompositeFieldContainer[Complaint]
    next_page_token: str
    def __init__(self, complaints: _Optional[_Iterable[_Union[Complaint, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConfirmResolutionRequest(_message.Message):
    __slots__ = ("case_id", "satisfied", "comment", "request_id", "override_reason", "resolved", "satisfaction", "remaining_issue")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    SATISFIED_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_REASON_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    REMAINING_ISSUE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    satisfied: bool
    comment: str
    request_id: str
    override_reason: str
    resolved: bool
    satisfaction: int
    remaining_issue: str
    def __init__(self, case_id: _Optional[str] = ..., satisfied: _Optional[bool] = ..., comment: _Optional[str] = ..., request_id: _Optional[str] = ..., override_reason: _Optional[str] = ..., resolved: _Optional[bool] = ..., satisfaction: _Optional[int] = ..., remaining_issue: _Optional[str] = ...) -> None: ...

class AssignComplaintRequest(_message.Message):
    __slots__ = ("case_id", "assignee", "note", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    assignee: str
    note: str
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., assignee: _Optional[str] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SetOperatorAvailabilityRequest(_message.Message):
    __slots__ = ("available", "operator")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    available: bool
    operator: str
    def __init__(self, available: _Optional[bool] = ..., operator: _Optional[str] = ...) -> None: ...

class Operator(_message.Message):
    __slots__ = ("name", "available", "updated_at", "updated_by", "assigned_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    available: bool
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    assigned_count: int
    def __init__(self, name: _Optional[str] = ..., available: _Optional[bool] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., assigned_count: _Optional[int] = ...) -> None: ...

class ReviewComplaintRequest(_message.Message):
    __slots__ = ("case_id", "decision", "note", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    decision: ComplaintStatus
    note: str
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., decision: _Optional[_Union[ComplaintStatus, str]] = ..., note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddComplaintUpdateRequest(_message.Message):
    __slots__ = ("case_id", "text", "visible_to_consumer", "request_id", "kind")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_TO_CONSUMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    text: str
    visible_to_consumer: bool
    request_id: str
    kind: UpdateKind
    def __init__(self, case_id: _Optional[str] = ..., text: _Optional[str] = ..., visible_to_consumer: _Optional[bool] = ..., request_id: _Optional[str] = ..., kind: _Optional[_Union[UpdateKind, str]] = ...) -> None: ...

class EscalateComplaintRequest(_message.Message):
    __slots__ = ("case_id", "reason", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    reason: str
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ForgetConsumerRequest(_message.Message):
    __slots__ = ("consumer_number", "request_id")
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    consumer_number: str
    request_id: str
    def __init__(self, consumer_number: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ForgetConsumerResponse(_message.Message):
    __slots__ = ("erasure_id", "erased_at", "complaints_erased", "payouts_erased", "texts_rewritten", "calls_masked")
    ERASURE_ID_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLAINTS_ERASED_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_ERASED_FIELD_NUMBER: _ClassVar[int]
    TEXTS_REWRITTEN_FIELD_NUMBER: _ClassVar[int]
    CALLS_MASKED_FIELD_NUMBER: _ClassVar[int]
    erasure_id: str
    erased_at: _timestamp_pb2.Timestamp
    complaints_erased: int
    payouts_erased: int
    texts_rewritten: int
    calls_masked: int
    def __init__(self, erasure_id: _Optional[str] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complaints_erased: _Optional[int] = ..., payouts_erased: _Optional[int] = ..., texts_rewritten: _Optional[int] = ..., calls_masked: _Optional[int] = ...) -> None: ...

class ExtendComplaintRequest(_message.Message):
    __slots__ = ("case_id", "reason", "new_resolution_due", "request_id")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NEW_RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    reason: str
    new_resolution_due: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, case_id: _Optional[str] = ..., reason: _Optional[str] = ..., new_resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class Payout(_message.Message):
    __slots__ = ("payout_id", "case_id", "consumer_number_masked", "caller_number", "amount", "status", "created_at", "paid_at", "payment_reference", "paid_by", "due_at", "overdue")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PAID_BY_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    case_id: str
    consumer_number_masked: str
    caller_number: str
    amount: _money_pb2.Money
    status: PayoutStatus
    created_at: _timestamp_pb2.Timestamp
    paid_at: _timestamp_pb2.Timestamp
    payment_reference: str
    paid_by: str
    due_at: _timestamp_pb2.Timestamp
    overdue: bool
    def __init__(self, payout_id: _Optional[str] = ..., case_id: _Optional[str] = ..., consumer_number_masked: _Optional[str] = ..., caller_number: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PayoutStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_reference: _Optional[str] = ..., paid_by: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., overdue: _Optional[bool] = ...) -> None: ...

class ListPayoutsRequest(_message.Message):
    __slots__ = ("status", "created_after", "created_before", "page_size", "page_token", "overdue_only")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    status: PayoutStatus
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    overdue_only: bool
    def __init__(self, status: _Optional[_Union[PayoutStatus, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., overdue_only: _Optional[bool] = ...) -> None: ...

class ListPayoutsResponse(_message.Message):
    __slots__ = ("payouts", "next_page_token")
    PAYOUTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payouts: _containers.RepeatedCompositeFieldContainer[Payout]
    next_page_token: str
    def __init__(self, payouts: _Optional[_Iterable[_Union[Payout, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MarkPayoutPaidRequest(_message.Message):
    __slots__ = ("payout_id", "payment_reference", "request_id")
    PAYOUT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payout_id: str
    payment_reference: str
    request_id: str
    def __init__(self, payout_id: _Optional[str] = ..., payment_reference: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetFundSummaryRequest(_message.Message):
    __slots__ = ("to", "period")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    to: _timestamp_pb2.Timestamp
    period: str
    def __init__(self, to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[str] = ..., **kwargs) -> None: ...

class FundPeriod(_message.Message):
    __slots__ = ("period_start", "pending_count", "pending_amount", "paid_count", "paid_amount")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    pending_count: int
    pending_amount: _money_pb2.Money
    paid_count: int
    paid_amount: _money_pb2.Money
    def __init__(self, period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_count: _Optional[int] = ..., pending_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid_count: _Optional[int] = ..., paid_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class CurrencyTotals(_message.Message):
    __slots__ = ("currency", "pending_count", "pending_amount", "paid_count", "paid_amount", "overdue_count", "overdue_amount")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    currency: str
    pending_count: int
    pending_amount: _money_pb2.Money
    paid_count: int
    paid_amount: _money_pb2.Money
    overdue_count: int
    overdue_amount: _money_pb2.Money
    def __init__(self, currency: _Optional[str] = ..., pending_count: _Optional[int] = ..., pending_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid_count: _Optional[int] = ..., paid_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., overdue_count: _Optional[int] = ..., overdue_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class FundSummary(_message.Message):
    __slots__ = ("periods", "pending_count", "pending_amount", "paid_count", "paid_amount", "totals", "payouts_overdue")
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    PENDING_COUNT_FIELD_NUMBER: _ClassVar[int]
    PENDING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_COUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    periods: _containers.RepeatedCompositeFieldContainer[FundPeriod]
    pending_count: int
    pending_amount: _money_pb2.Money
    paid_count: int
    paid_amount: _money_pb2.Money
    totals: _containers.RepeatedCompositeFieldContainer[CurrencyTotals]
    payouts_overdue: int
    def __init__(self, periods: _Optional[_Iterable[_Union[FundPeriod, _Mapping]]] = ..., pending_count: _Optional[int] = ..., pending_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., paid_count: _Optional[int] = ..., paid_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., totals: _Optional[_Iterable[_Union[CurrencyTotals, _Mapping]]] = ..., payouts_overdue: _Optional[int] = ...) -> None: ...

class ReportViolationsRequest(_message.Message):
    __slots__ = ("org_id", "to")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    to: _timestamp_pb2.Timestamp
    def __init__(self, org_id: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., **kwargs) -> None: ...

class AgentViolations(_message.Message):
    __slots__ = ("agent_id", "violating_calls", "verified_complaints", "calls_outside_gateway", "rule_violation_complaints", "violating_calls_by_reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    VIOLATING_CALLS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    CALLS_OUTSIDE_GATEWAY_FIELD_NUMBER: _ClassVar[int]
    RULE_VIOLATION_COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    VIOLATING_CALLS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    violating_calls: int
    verified_complaints: int
    calls_outside_gateway: int
    rule_violation_complaints: int
    violating_calls_by_reason: _containers.RepeatedCompositeFieldContainer[ReasonCount]
    def __init__(self, agent_id: _Optional[str] = ..., violating_calls: _Optional[int] = ..., verified_complaints: _Optional[int] = ..., calls_outside_gateway: _Optional[int] = ..., rule_violation_complaints: _Optional[int] = ..., violating_calls_by_reason: _Optional[_Iterable[_Union[ReasonCount, _Mapping]]] = ...) -> None: ...

class ReasonCount(_message.Message):
    __slots__ = ("reason", "calls")
    REASON_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    reason: _gateway_pb2.Reason
    calls: int
    def __init__(self, reason: _Optional[_Union[_gateway_pb2.Reason, str]] = ..., calls: _Optional[int] = ...) -> None: ...

class ViolationReport(_message.Message):
    __slots__ = ("org_id", "agents", "violating_calls", "verified_complaints", "calls_outside_gateway", "rule_violation_complaints", "violating_calls_by_reason")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    VIOLATING_CALLS_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    CALLS_OUTSIDE_GATEWAY_FIELD_NUMBER: _ClassVar[int]
    RULE_VIOLATION_COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    VIOLATING_CALLS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    agents: _containers.RepeatedCompositeFieldContainer[AgentViolations]
    violating_calls: int
    verified_complaints: int
    calls_outside_gateway: int
    rule_violation_complaints: int
    violating_calls_by_reason: _containers.RepeatedCompositeFieldContainer[ReasonCount]
    def __init__(self, org_id: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[AgentViolations, _Mapping]]] = ..., violating_calls: _Optional[int] = ..., verified_complaints: _Optional[int] = ..., calls_outside_gateway: _Optional[int] = ..., rule_violation_complaints: _Optional[int] = ..., violating_calls_by_reason: _Optional[_Iterable[_Union[ReasonCount, _Mapping]]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("notification_id", "case_id", "kind", "text", "destination_masked", "created_at", "delivered_at", "attempts", "last_error")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_MASKED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    case_id: str
    kind: NotificationKind
    text: str
    destination_masked: str
    created_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    attempts: int
    last_error: str
    def __init__(self, notification_id: _Optional[str] = ..., case_id: _Optional[str] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., text: _Optional[str] = ..., destination_masked: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("case_id", "page_size", "page_token")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    page_size: int
    page_token: str
    def __init__(self, case_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "next_page_token")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    next_page_token: str
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetComplaintStatusRequest(_message.Message):
    __slots__ = ("case_id", "consumer_number")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    consumer_number: str
    def __init__(self, case_id: _Optional[str] = ..., consumer_number: _Optional[str] = ...) -> None: ...

class ConsumerUpdate(_message.Message):
    __slots__ = ("at", "text", "kind", "new_resolution_due")
    AT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NEW_RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    text: str
    kind: UpdateKind
    new_resolution_due: _timestamp_pb2.Timestamp
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., text: _Optional[str] = ..., kind: _Optional[_Union[UpdateKind, str]] = ..., new_resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CallerOutcome(_message.Message):
    __slots__ = ("caller_number", "verdict", "amount", "rules_broken")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RULES_BROKEN_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    verdict: Verdict
    amount: _money_pb2.Money
    rules_broken: _containers.RepeatedScalarFieldContainer[_gateway_pb2.Reason]
    def __init__(self, caller_number: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., rules_broken: _Optional[_Iterable[_Union[_gateway_pb2.Reason, str]]] = ...) -> None: ...

class PayoutProgress(_message.Message):
    __slots__ = ("caller_number", "amount", "status", "due_at", "paid_at")
    CALLER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    caller_number: str
    amount: _money_pb2.Money
    status: PayoutStatus
    due_at: _timestamp_pb2.Timestamp
    paid_at: _timestamp_pb2.Timestamp
    def __init__(self, caller_number: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PayoutStatus, str]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CaseProgress(_message.Message):
    __slots__ = ("case_id", "status", "stage", "timeline", "consumer_number_masked", "created_at", "first_response_due", "resolution_due", "next_update_due", "updates", "total_compensation", "callers", "payouts", "assignee", "revisit_due", "revisited_at", "recurrence_case_id", "recurrence_of")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_NUMBER_MASKED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_DUE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_DUE_FIELD_NUMBER: _ClassVar[int]
    NEXT_UPDATE_DUE_FIELD_NUMBER: _ClassVar[int]
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    CALLERS_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    REVISIT_DUE_FIELD_NUMBER: _ClassVar[int]
    REVISITED_AT_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_CASE_ID_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_OF_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    status: ComplaintStatus
    stage: Stage
    timeline: _containers.RepeatedCompositeFieldContainer[StageEntry]
    consumer_number_masked: str
    created_at: _timestamp_pb2.Timestamp
    first_response_due: _timestamp_pb2.Timestamp
    resolution_due: _timestamp_pb2.Timestamp
    next_update_due: _timestamp_pb2.Timestamp
    updates: _containers.RepeatedCompositeFieldContainer[ConsumerUpdate]
    total_compensation: _money_pb2.Money
    callers: _containers.RepeatedCompositeFieldContainer[CallerOutcome]
    payouts: _containers.RepeatedCompositeFieldContainer[PayoutProgress]
    assignee: str
    revisit_due: _timestamp_pb2.Timestamp
    revisited_at: _timestamp_pb2.Timestamp
    recurrence_case_id: str
    recurrence_of: str
    def __init__(self, case_id: _Optional[str] = ..., status: _Optional[_Union[ComplaintStatus, str]] = ..., stage: _Optional[_Union[Stage, str]] = ..., timeline: _Optional[_Iterable[_Union[StageEntry, _Mapping]]] = ..., consumer_number_masked: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_update_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updates: _Optional[_Iterable[_Union[ConsumerUpdate, _Mapping]]] = ..., total_compensation: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., callers: _Optional[_Iterable[_Union[CallerOutcome, _Mapping]]] = ..., payouts: _Optional[_Iterable[_Union[PayoutProgress, _Mapping]]] = ..., assignee: _Optional[str] = ..., revisit_due: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revisited_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recurrence_case_id: _Optional[str] = ..., recurrence_of: _Optional[str] = ...) -> None: ...

class ReportServiceRequest(_message.Message):
    __slots__ = ("to", "period", "assignee")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    to: _timestamp_pb2.Timestamp
    period: str
    assignee: str
    def __init__(self, to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[str] = ..., assignee: _Optional[str] = ..., **kwargs) -> None: ...

class Share(_message.Message):
    __slots__ = ("met", "of")
    MET_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    met: int
    of: int
    def __init__(self, met: _Optional[int] = ..., of: _Optional[int] = ...) -> None: ...

class ServiceFigures(_message.Message):
    __slots__ = ("cases_filed", "answered_in_time", "answer_pending", "resolved_in_time", "resolution_pending", "updates_overdue", "regulator_replies_on_time", "satisfaction_sum", "rated", "mean_satisfaction", "revisits_done", "revisits_on_time", "revisits_overdue", "recurrences", "payouts_paid_on_time")
    CASES_FILED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    ANSWER_PENDING_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_PENDING_FIELD_NUMBER: _ClassVar[int]
    UPDATES_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    REGULATOR_REPLIES_ON_TIME_FIELD_NUMBER: _ClassVar[int]
    SATISFACTION_SUM_FIELD_NUMBER: _ClassVar[int]
    RATED_FIELD_NUMBER: _ClassVar[int]
    MEAN_SATISFACTION_FIELD_NUMBER: _ClassVar[int]
    REVISITS_DONE_FIELD_NUMBER: _ClassVar[int]
    REVISITS_ON_TIME_FIELD_NUMBER: _ClassVar[int]
    REVISITS_OVERDUE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCES_FIELD_NUMBER: _ClassVar[int]
    PAYOUTS_PAID_ON_TIME_FIELD_NUMBER: _ClassVar[int]
    cases_filed: int
    answered_in_time: Share
    answer_pending: int
    resolved_in_time: Share
    resolution_pending: int
    updates_overdue: int
    regulator_replies_on_time: Share
    satisfaction_sum: int
    rated: int
    mean_satisfaction: float
    revisits_done: int
    revisits_on_time: int
    revisits_overdue: int
    recurrences: int
    payouts_paid_on_time: Share
    def __init__(self, cases_filed: _Optional[int] = ..., answered_in_time: _Optional[_Union[Share, _Mapping]] = ..., answer_pending: _Optional[int] = ..., resolved_in_time: _Optional[_Union[Share, _Mapping]] = ..., resolution_pending: _Optional[int] = ..., updates_overdue: _Optional[int] = ..., regulator_replies_on_time: _Optional[_Union[Share, _Mapping]] = ..., satisfaction_sum: _Optional[int] = ..., rated: _Optional[int] = ..., mean_satisfaction: _Optional[float] = ..., revisits_done: _Optional[int] = ..., revisits_on_time: _Optional[int] = ..., revisits_overdue: _Optional[int] = ..., recurrences: _Optional[int] = ..., payouts_paid_on_time: _Optional[_Union[Share, _Mapping]] = ...) -> None: ...

class AssigneeService(_message.Message):
    __slots__ = ("assignee", "figures")
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    assignee: str
    figures: ServiceFigures
    def __init__(self, assignee: _Optional[str] = ..., figures: _Optional[_Union[ServiceFigures, _Mapping]] = ...) -> None: ...

class ServicePeriod(_message.Message):
    __slots__ = ("period_start", "assignees", "total")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    assignees: _containers.RepeatedCompositeFieldContainer[AssigneeService]
    total: ServiceFigures
    def __init__(self, period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assignees: _Optional[_Iterable[_Union[AssigneeService, _Mapping]]] = ..., total: _Optional[_Union[ServiceFigures, _Mapping]] = ...) -> None: ...

class ServiceReport(_message.Message):
    __slots__ = ("period", "periods", "total", "generated_at", "first_response_hours", "resolution_hours", "update_hours", "time_zone")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_HOURS_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_HOURS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_HOURS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    period: str
    periods: _containers.RepeatedCompositeFieldContainer[ServicePeriod]
    total: ServiceFigures
    generated_at: _timestamp_pb2.Timestamp
    first_response_hours: int
    resolution_hours: int
    update_hours: int
    time_zone: str
    def __init__(self, period: _Optional[str] = ..., periods: _Optional[_Iterable[_Union[ServicePeriod, _Mapping]]] = ..., total: _Optional[_Union[ServiceFigures, _Mapping]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_hours: _Optional[int] = ..., resolution_hours: _Optional[int] = ..., update_hours: _Optional[int] = ..., time_zone: _Optional[str] = ...) -> None: ...
