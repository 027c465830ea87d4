"""The consumer notices' templates and ids (pure): Chinese texts, Beijing time, masked numbers only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from dncgate.domain import notices
from dncgate.domain.money import Money
from dncgate.domain.notices import NoticeKind

CASE = "DNC-20261201-000042"
AT = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 2026-12-02 00:30 in Beijing
ZONE = "Asia/Shanghai"
# A full phone number: 9 or more digits in a row, separators allowed between them.
_FULL_NUMBER = re.compile(r"\d(?:[\s-]?\d){8,}")

TEXTS = {
    NoticeKind.ACCEPTED: notices.accepted_text(CASE, "赵敏", AT, ZONE),
    NoticeKind.UPDATE: notices.update_text(CASE, "已联系外呼方 +86138****8000", AT, ZONE),
    NoticeKind.VERDICT: notices.verdict_text(CASE, 2, 3, Money(20000, "CNY")),
    NoticeKind.PAYOUT_PAID: notices.payout_paid_text(CASE, "+86275****1111", Money(10000, "CNY"), AT, ZONE),
    NoticeKind.EXTENSION: notices.extension_text(CASE, "外呼方尚未提供录音", AT, ZONE),
    NoticeKind.REVISIT: notices.revisit_text(CASE),
}


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_has_a_chinese_text_naming_the_case_and_no_full_number(kind: NoticeKind) -> None:
    """Each kind renders: the case number in it, Chinese words, and no unmasked phone number."""
    text = TEXTS[kind]
    assert CASE in text
    assert re.search(r"[\u4e00-\u9fff]{4,}", text)
    assert not _FULL_NUMBER.search(text.replace(CASE, "")), text


def test_accepted_names_the_person_in_charge_and_the_answer_time_in_beijing_time() -> None:
    """The first response due (UTC 16:30) is shown as the next day 00:30, Beijing time."""
    text = TEXTS[NoticeKind.ACCEPTED]
    assert "负责人：赵敏" in text and "2026年12月02日 00:30（北京时间）" in text


def test_another_hotline_zone_is_named_as_it_is() -> None:
    assert notices.local_time(AT, "Europe/Berlin") == "2026年12月01日 17:30（Europe/Berlin）"


def test_the_verdict_says_what_is_owed_with_the_money_formatting() -> None:
    """Owed: the amount as Money writes it; nothing owed: says so, verified or not."""
    assert "200.00 CNY" in TEXTS[NoticeKind.VERDICT] and "3 个号码中 2 个" in TEXTS[NoticeKind.VERDICT]
    assert "无新增补偿" in notices.verdict_text(CASE, 1, 1, Money.zero("CNY"))
    assert "暂无补偿" in notices.verdict_text(CASE, 0, 2, Money.zero("CNY"))


def test_payout_paid_and_extension_carry_their_facts() -> None:
    assert "+86275****1111" in TEXTS[NoticeKind.PAYOUT_PAID] and "100.00 CNY" in TEXTS[NoticeKind.PAYOUT_PAID]
    extension = TEXTS[NoticeKind.EXTENSION]
    assert "原因：外呼方尚未提供录音" in extension and "2026年12月02日 00:30" in extension


def test_ids_are_derived_from_the_event_and_never_collide() -> None:
    """The same event gives the same id (a retry adds nothing); different events differ."""
    ids = [
        notices.accepted_id(CASE),
        notices.update_id(CASE, 1),
        notices.update_id(CASE, 2),
        notices.extension_id(CASE, 3),
        notices.verdict_id(CASE, 0),
        notices.verdict_id(CASE, 1),
        notices.payout_paid_id("po_abc"),
        notices.revisit_id(CASE),
    ]
    assert len(set(ids)) == len(ids)
    assert notices.update_id(CASE, 2) == notices.update_id(CASE, 2)


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("hotline zhao (token 7f3a)", "hotline zhao"),
        ("CN=desk-1 (certificate 9e)", "CN=desk-1"),
        ("赵敏", "赵敏"),
        (" (token x)", " (token x)"),
    ],
)
def test_the_person_in_charge_is_the_principal_s_name_without_its_credential(label: str, name: str) -> None:
    assert notices.display_name(label) == name
