"""The consumer's notices: their kinds, deterministic ids and Chinese texts, all in one place (pure).

Every text names the case number and only masked phone numbers; times are shown in the hotline's
zone (`zone`, DNCGATE_DEFAULT_TIMEZONE: Beijing time by default) and amounts with `Money`'s own
formatting. The caller passes in what a text needs, already masked: free text typed by an operator
is masked by the service before it gets here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from dncgate.domain.money import Money


class NoticeKind(Enum):
    """What happened that the consumer is told about (the CHECK list of notifications.kind)."""

    ACCEPTED = "ACCEPTED"  # the case was filed
    UPDATE = "UPDATE"  # a consumer-visible update (AddComplaintUpdate, visible_to_consumer)
    VERDICT = "VERDICT"  # the verification's (or a review's) outcome and the amount owed
    PAYOUT_PAID = "PAYOUT_PAID"  # a payout was paid
    EXTENSION = "EXTENSION"  # the resolution due time moved later, with the reason
    REVISIT = "REVISIT"  # the revisit after closing asks whether the problem came back


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice to a consumer, as appended to the outbox with the change it tells of."""

    notification_id: str
    case_id: str
    kind: NoticeKind
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SentNotice:
    """A notice as the outbox keeps it: delivery bookkeeping beside it, the destination only masked."""

    notice: Notice
    destination_masked: str
    delivered_at: datetime | None
    attempts: int
    last_error: str


# Ids: one per event, derived from what identifies the event, so a retried request (or a replayed
# transaction) finds its notice already there instead of adding a second one.
def accepted_id(case_id: str) -> str:
    return f"{case_id}:ACCEPTED"


def update_id(case_id: str, position: int) -> str:
    """The `position`-th update of the case (1-based; progress and extensions count alike)."""
    return f"{case_id}:UPDATE:{position}"


def extension_id(case_id: str, position: int) -> str:
    return f"{case_id}:EXTENSION:{position}"


def verdict_id(case_id: str, review: int) -> str:
    """The verdict at filing (`review` 0), or after the case's `review`-th ReviewComplaint."""
    return f"{case_id}:VERDICT:{review}"


def payout_paid_id(payout_id: str) -> str:
    return f"{payout_id}:PAID"


def revisit_id(case_id: str) -> str:
    return f"{case_id}:REVISIT"


def display_name(label: str) -> str:
    """A principal's label (`name (token id)`) as the consumer is told who handles her case: the name."""
    name, sep, rest = label.rpartition(" (")
    return name if sep and rest.endswith(")") and name.strip() else label


def local_time(at: datetime, zone: str) -> str:
    """`at` as the hotline writes it: year, month, day and minute in `zone`, and the zone named (Beijing time)."""
    local = at.astimezone(ZoneInfo(zone))
    label = "北京时间" if zone in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC") else zone
    return f"{local:%Y年%m月%d日 %H:%M}（{label}）"


def accepted_text(case_id: str, handler: str, first_response_due: datetime, zone: str) -> str:
    """The case was received: its number, the person in charge (display name), when to expect an answer."""
    return (
        f"【dncgate】您的投诉已受理，案件编号 {case_id}。负责人：{handler}。"
        f"我们将在 {local_time(first_response_due, zone)} 前答复您。可凭案件编号查询进度。"
    )


def update_text(case_id: str, text: str, at: datetime, zone: str) -> str:
    """A consumer-visible progress update (`text` already masked)."""
    return f"【dncgate】案件 {case_id} 进展（{local_time(at, zone)}）：{text}"


def verdict_text(case_id: str, verified: int, named: int, owed: Money, rule_violations: int = 0) -> str:
    """The outcome of the verification: how many of the reported numbers were verified, and what is owed;
    `rule_violations` numbers broke another calling rule (RULE_VIOLATED): violations, recorded against
    the company, that pay nothing, which the text says rather than "no violation found"."""
    rules = (
        f"另有 {rule_violations} 个号码核实为违反呼叫规则（如呼叫频次、时段或节假日限制），已记入企业违规记录，"
        "此类违规不产生补偿。"
        if rule_violations
        else ""
    )
    if owed.minor > 0:
        return (
            f"【dncgate】案件 {case_id} 核实结果：您举报的 {named} 个号码中 {verified} 个核实为违规来电，"
            f"应付您补偿 {owed}，将尽快支付。{rules}"
        )
    if verified:
        return (
            f"【dncgate】案件 {case_id} 核实结果：您举报的 {named} 个号码中 {verified} 个核实为违规来电，"
            f"相关号码此前已补偿过，本案无新增补偿。{rules}"
        )
    if rule_violations:
        return (
            f"【dncgate】案件 {case_id} 核实结果：您举报的 {named} 个号码中 {rule_violations} 个核实为违反呼叫规则"
            "（如呼叫频次、时段或节假日限制）的来电，已记入企业违规记录；此类违规不产生补偿，本案暂无补偿。"
            "如有异议请回电。"
        )
    return (
        f"【dncgate】案件 {case_id} 核实结果：您举报的 {named} 个号码暂未核实到违规来电，本案暂无补偿。如有异议请回电。"
    )


def payout_paid_text(case_id: str, caller_masked: str, amount: Money, paid_at: datetime, zone: str) -> str:
    """One payout was paid (`caller_masked`: the calling number it compensates, masked)."""
    return (
        f"【dncgate】案件 {case_id}：号码 {caller_masked} 的补偿 {amount} 已于 {local_time(paid_at, zone)} 支付，"
        "请注意查收。"
    )


def extension_text(case_id: str, reason: str, new_due: datetime, zone: str) -> str:
    """The resolution takes longer: why (`reason` already masked), and the new due time."""
    return f"【dncgate】案件 {case_id} 需要延期处理。原因：{reason}。新的处理期限：{local_time(new_due, zone)}。"


def revisit_text(case_id: str) -> str:
    """The revisit after closing: did the calls come back?"""
    return (
        f"【dncgate】案件 {case_id} 回访：结案后是否仍有营销电话打扰您？"
        "如问题再次出现，请回电热线，我们将重新立案处理。"
    )
