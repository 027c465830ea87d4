"""The consumer notices over the real server: a case's life writes exactly its notices, the loop beside
the recorder delivers each once to `<data dir>/notices.jsonl`, and ListNotifications (and the CLI) show
them delivered, with the number masked everywhere."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from dncgate.api.convert import ts
from tests.e2e.compensation_support import A, V, file, story_calls
from tests.e2e.test_hotline_cli import cli
from tests.wait import until

pytestmark = pytest.mark.e2e

EXPECTED = ["ACCEPTED", "VERDICT", "UPDATE", "EXTENSION", "PAYOUT_PAID"]


def _written(server: Any) -> list[dict[str, Any]]:
    path = server.settings.data_dir / "notices.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_case_s_life_is_told_to_the_consumer_once_per_event(server: Any, desk: Any) -> None:
    """Filed (accepted + verdict), a visible update (an internal one tells nothing), an extension, a
    payout paid (twice: told once): five notices in order, each delivered once."""
    await story_calls(server)
    line, _ = await desk("hotline zhao", "hotline")
    pay, _ = await desk("payments qian", "payments")
    audit, _ = await desk("compliance sun", "compliance")
    c = await line.FileComplaint(
        V.FileComplaintRequest(consumer_number="13800138000", caller_numbers=[A], channel=V.CHANNEL_HOTLINE)
    )
    assert c.status == V.COMPLAINT_STATUS_VERIFIED
    await line.AddComplaintUpdate(
        V.AddComplaintUpdateRequest(
            case_id=c.case_id, text="已联系外呼方，她的号码 13800138000", visible_to_consumer=True
        )
    )
    await line.AddComplaintUpdate(V.AddComplaintUpdateRequest(case_id=c.case_id, text="internal note"))
    later = ts(c.resolution_due.ToDatetime() + timedelta(days=2))
    await line.ExtendComplaint(
        V.ExtendComplaintRequest(case_id=c.case_id, reason="等待运营商通话记录", new_resolution_due=later)
    )
    payout_id = c.findings[0].payout_id
    for _ in range(2):
        await pay.MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=payout_id, payment_reference="BANK-7"))

    written = await until(lambda: len(_written(server)) >= len(EXPECTED) and _written(server), 20, "5 notices")
    assert [w["kind"] for w in written] == EXPECTED
    assert [w["notification_id"] for w in written] == [
        f"{c.case_id}:ACCEPTED",
        f"{c.case_id}:VERDICT:0",
        f"{c.case_id}:UPDATE:1",
        f"{c.case_id}:EXTENSION:3",
        f"{payout_id}:PAID",
    ]
    assert {w["destination"] for w in written} == {"+86138****8000"}
    assert "负责人：hotline zhao" in written[0]["text"] and "100.00 CNY" in written[1]["text"]
    assert "+86138****8000" in written[2]["text"] and "等待运营商通话记录" in written[3]["text"]
    raw = (server.settings.data_dir / "notices.jsonl").read_text(encoding="utf-8")
    assert "13800138000" not in raw

    async def delivered() -> Any:
        r = await audit.ListNotifications(V.ListNotificationsRequest(case_id=c.case_id))
        return r if all(n.HasField("delivered_at") for n in r.notifications) else None

    listed = await until(delivered, 20, "every notice marked delivered")
    assert [V.NotificationKind.Name(n.kind) for n in reversed(listed.notifications)] == [
        f"NOTIFICATION_KIND_{k}" for k in EXPECTED
    ]
    assert {(n.destination_masked, n.attempts, n.last_error) for n in listed.notifications} == {
        ("+86138****8000", 1, "")
    }
    other = await file(server, A, consumer="13912345678")
    everyone = await line.ListNotifications(V.ListNotificationsRequest(page_size=3))
    assert len(everyone.notifications) == 3 and everyone.notifications[0].case_id == other.case_id
    rest = await line.ListNotifications(V.ListNotificationsRequest(page_size=50, page_token=everyone.next_page_token))
    assert len(rest.notifications) == len(EXPECTED) + 2 - 3 and not rest.next_page_token
    shown = await cli(server, "notices", "list", "--case", c.case_id)
    assert shown.returncode == 0, shown.stderr
    assert f"{c.case_id}:ACCEPTED" in shown.stdout and "PAYOUT_PAID" in shown.stdout
    assert "13800138000" not in shown.stdout
