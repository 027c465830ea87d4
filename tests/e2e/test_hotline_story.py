"""The hotline's whole story, end to end over gRPC and from the command line: file, the acceptance
notice, assign, two updates, an extension, the verdict, a payout marked paid, the consumer's sign-off
with her satisfaction, a revisit and the service report; then the consumer's own lookup, with her
number and with a wrong one. The outbox delivers exactly the story's notices, once each, across a
sender that dies mid-batch."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from dncgate.api.convert import ts
from dncgate.bootstrap import build_notice_loop
from tests.conftest import start_server
from tests.e2e.compensation_support import A, B, C, Clock, V, refused, story_calls
from tests.e2e.test_hotline_cli import cli
from tests.integration.test_notices_outbox import Crash, CrashingFile

pytestmark = pytest.mark.e2e

DAY = 86_400


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


async def test_the_hotline_story_over_grpc(settings: Any, desk: Any, tmp_path: Path) -> None:
    # An API process: no recorder and no notice sender of its own, so the test delivers the outbox.
    async with start_server(dataclasses.replace(settings, role="api")) as server:
        await _story(server, desk, tmp_path)


async def _story(server: Any, desk: Any, tmp_path: Path) -> None:
    await story_calls(server)  # DND in the app; the org in monitor mode; A called twice, B once
    clock = Clock(server)
    filer, _ = await desk("hotline desk wang", "hotline")
    zhao, zhao_label = await desk("hotline zhao", "hotline")
    qian, _ = await desk("hotline qian", "hotline")
    pay, _ = await desk("payments li", "payments")
    boss, _ = await desk("supervisor sun", "supervisor")
    app, _ = await desk("consumer app", "consumer")
    for operator in (zhao, qian):
        await operator.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True))

    # Filed at the hotline: verified at once (two numbers owed, one not), given to an available operator.
    case = await filer.FileComplaint(
        V.FileComplaintRequest(
            consumer_number="13800138000",
            caller_numbers=[A, B, C],
            channel=V.CHANNEL_HOTLINE,
            description="she set do-not-disturb in the app and was called three times",
        )
    )
    assert case.status == V.COMPLAINT_STATUS_PARTIALLY_VERIFIED and case.total_compensation.units == 200
    assert [e.stage for e in case.timeline] == [V.STAGE_RECEIVED, V.STAGE_VERIFYING, V.STAGE_RESOLUTION_DRAFTED]
    assert case.assignee in ("hotline zhao", "hotline qian")
    # Handed to zhao, who writes two updates and extends the case.
    case = await boss.AssignComplaint(V.AssignComplaintRequest(case_id=case.case_id, assignee="hotline zhao"))
    assert case.assignee == "hotline zhao"
    clock.advance(3600)
    await zhao.AddComplaintUpdate(
        V.AddComplaintUpdateRequest(case_id=case.case_id, text="两个号码已核实，正在安排赔付", visible_to_consumer=True)
    )
    await zhao.AddComplaintUpdate(V.AddComplaintUpdateRequest(case_id=case.case_id, text="org asked for records"))
    clock.advance(3600)
    later = ts(case.resolution_due.ToDatetime() + timedelta(days=2))
    case = await zhao.ExtendComplaint(
        V.ExtendComplaintRequest(case_id=case.case_id, reason="等待银行确认转账", new_resolution_due=later)
    )
    assert [(u.author, u.visible_to_consumer) for u in case.updates] == [
        (zhao_label, True),
        (zhao_label, False),
        (zhao_label, True),
    ]
    # The payment run pays both numbers: the case is PAID, its stage RESOLVED.
    for finding in case.findings:
        if finding.payout_id:
            await pay.MarkPayoutPaid(
                V.MarkPayoutPaidRequest(payout_id=finding.payout_id, payment_reference=f"BANK-{finding.payout_id[-4:]}")
            )
    case = await zhao.GetComplaint(V.GetComplaintRequest(case_id=case.case_id))
    assert (case.status, case.stage) == (V.COMPLAINT_STATUS_PAID, V.STAGE_RESOLVED)
    # She signs off: resolved, satisfied, 5 of 5, nothing remaining; the revisit is due in 7 days.
    case = await zhao.ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=case.case_id, satisfied=True, resolved=True, satisfaction=5)
    )
    assert (case.status, case.stage, case.satisfaction) == (V.COMPLAINT_STATUS_CLOSED, V.STAGE_CONSUMER_CONFIRMED, 5)
    assert case.revisit_due.ToSeconds() - case.closed_at.ToSeconds() == 7 * DAY
    clock.advance(6 * DAY)
    case = await zhao.RecordRevisit(
        V.RecordRevisitRequest(case_id=case.case_id, recurred=False, rating=5, note="没有再接到电话")
    )
    assert case.stage == V.STAGE_REVISITED and not case.revisit.recurred and not case.revisit_overdue
    assert [e.stage for e in case.timeline] == [
        V.STAGE_RECEIVED,
        V.STAGE_VERIFYING,
        V.STAGE_RESOLUTION_DRAFTED,
        V.STAGE_RESOLVED,
        V.STAGE_CONSUMER_CONFIRMED,
        V.STAGE_REVISITED,
    ]

    # The service report: zhao answered and resolved in time, no update lapsed, rated 5, revisited on
    # time, both payouts paid by their due date.
    report = await boss.ReportService(V.ReportServiceRequest(period="month"))
    [row] = [a for p in report.periods for a in p.assignees]
    f = row.figures
    assert row.assignee == "hotline zhao" and f.cases_filed == 1
    assert [(s.met, s.of) for s in (f.answered_in_time, f.resolved_in_time, f.payouts_paid_on_time)] == [
        (1, 1),
        (1, 1),
        (2, 2),
    ]
    assert (f.updates_overdue, f.regulator_replies_on_time.of, f.mean_satisfaction, f.rated) == (0, 0, 5.0, 1)
    assert (f.revisits_done, f.revisits_on_time, f.revisits_overdue, f.recurrences) == (1, 1, 0, 0)

    # Her own lookup: the right pair shows her case, a wrong number is exactly an unknown case.
    seen = await app.GetComplaintStatus(
        V.GetComplaintStatusRequest(case_id=case.case_id, consumer_number="13800138000")
    )
    assert [e.stage for e in seen.timeline] == [e.stage for e in case.timeline]
    assert [u.text for u in seen.updates] == ["两个号码已核实，正在安排赔付", "等待银行确认转账"]
    assert [p.status for p in seen.payouts] == [V.PAYOUT_STATUS_PAID, V.PAYOUT_STATUS_PAID]
    assert seen.assignee == "hotline zhao" and seen.total_compensation.units == 200
    wrong = await refused(
        app.GetComplaintStatus, V.GetComplaintStatusRequest(case_id=case.case_id, consumer_number="13900139000")
    )
    unknown = await refused(
        app.GetComplaintStatus,
        V.GetComplaintStatusRequest(case_id="DNC-20000101-000009", consumer_number="13800138000"),
    )
    assert (
        (wrong.code(), wrong.details())
        == (unknown.code(), unknown.details())
        == (
            grpc.StatusCode.NOT_FOUND,
            unknown.details(),
        )
    )

    # The notices: exactly the story's, each once, though the first sender died after writing two.
    payouts = [f.payout_id for f in case.findings if f.payout_id]
    expected = [
        f"{case.case_id}:ACCEPTED",
        f"{case.case_id}:VERDICT:0",
        f"{case.case_id}:UPDATE:1",
        f"{case.case_id}:EXTENSION:3",
        *(f"{p}:PAID" for p in payouts),
        f"{case.case_id}:REVISIT",
    ]
    path = tmp_path / "notices.jsonl"
    dying = build_notice_loop(server.settings, server.app.compensation.cases.db, CrashingFile(path, after=2))
    with pytest.raises(Crash):
        await dying.run_once()
    restarted = build_notice_loop(server.settings, server.app.compensation.cases.db, CrashingFile(path, after=0))
    while await restarted.run_once():
        pass
    written = _lines(path)
    assert [w["notification_id"] for w in written] == expected
    # Accepted with the person in charge the queue chose then, and when to expect an answer.
    assert case.case_id in written[0]["text"] and "负责人：hotline" in written[0]["text"]
    assert {w["destination"] for w in written} == {"+86138****8000"}
    assert "13800138000" not in path.read_text(encoding="utf-8")


async def test_the_hotline_story_from_the_command_line(server: Any) -> None:
    """The same story as an operator types it: `operator available`, `complaint file|assign|update|extend`,
    `payouts mark-paid`, `complaint confirm`, `complaint revisit`, `notices list`, `report service`, and
    the consumer's `complaint status`."""
    await story_calls(server)
    tokens = {}
    for name in ("hotline zhao", "hotline qian"):
        made = await cli(server, "token", "create", "--name", name, "--role", "hotline")
        assert made.returncode == 0, made.stdout + made.stderr
        tokens[name] = made.stdout.strip().splitlines()[-1]
    available = await cli(server, "operator", "available", "--token", tokens["hotline zhao"])
    assert available.returncode == 0, available.stdout + available.stderr
    filed = await cli(server, "complaint", "file", "13800138000", "--caller", A, "--caller", B)
    assert filed.returncode == 0, filed.stderr
    assert "hotline zhao" in filed.stdout  # the one available operator got it
    case_id = re.search(r"DNC-\d{8}-\d{6}", filed.stdout).group(0)  # type: ignore[union-attr]
    steps = [
        ("complaint", "assign", case_id, "hotline qian", "--note", "she asked for the morning shift"),
        ("complaint", "update", case_id, "--text", "两个号码已核实", "--visible"),
        ("complaint", "update", case_id, "--text", "bank transfer requested"),
        ("complaint", "extend", case_id, "--reason", "等待银行确认", "--until", "2099-01-01T18:00+08:00"),
    ]
    for step in steps:
        done = await cli(server, *step)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    shown = await cli(server, "complaint", "show", case_id)
    payout_ids = re.findall(r"PO-[0-9a-f]{20}", shown.stdout)
    assert len(set(payout_ids)) == 2, shown.stdout
    for pid in sorted(set(payout_ids)):
        paid = await cli(server, "payouts", "mark-paid", pid, "--reference", f"BANK-{pid[-4:]}")
        assert paid.returncode == 0, paid.stdout + paid.stderr
    confirmed = await cli(server, "complaint", "confirm", case_id, "--resolved", "--satisfied", "--satisfaction", "4")
    assert confirmed.returncode == 0 and "CLOSED" in confirmed.stdout, confirmed.stdout + confirmed.stderr
    revisited = await cli(server, "complaint", "revisit", case_id, "--not-recurred", "--rating", "4")
    assert revisited.returncode == 0 and "REVISITED" in revisited.stdout.upper(), revisited.stdout
    notices = await cli(server, "notices", "list", "--case", case_id)
    assert notices.returncode == 0
    for kind in ("ACCEPTED", "VERDICT", "UPDATE", "EXTENSION", "PAYOUT_PAID", "REVISIT"):
        assert kind in notices.stdout, (kind, notices.stdout)
    report = await cli(server, "report", "service")
    assert report.returncode == 0 and "hotline qian" in report.stdout, report.stdout + report.stderr
    mine = await cli(server, "complaint", "status", case_id, "13800138000")
    assert mine.returncode == 0 and "REVISITED" in mine.stdout.upper() and "13800138000" not in mine.stdout
    wrong = await cli(server, "complaint", "status", case_id, "13900139000")
    assert wrong.returncode != 0 and "NOT_FOUND" in wrong.stdout + wrong.stderr
