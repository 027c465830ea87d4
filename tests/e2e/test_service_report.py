"""ReportService over a real server: a small known world of eight cases over two months and two
operators, every figure of every row asserted, the assignee filter, the range, and the CLI's table."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dncgate.api.convert import ts
from dncgate.v1 import registry_pb2
from tests.conftest import Server
from tests.e2e.compensation_support import A, B, C, V, call, db_rows, monitor, register_dnd
from tests.e2e.conftest import CONSUMER, registry
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

BEIJING = ZoneInfo("Asia/Shanghai")
# Her calls are all consented (org-wide, before the calls): her cases dispute it and wait for a human.
DISPUTER = "+8613900139000"
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=BEIJING), datetime(2026, 4, 1, tzinfo=BEIJING)
REPORT_AT = datetime(2026, 4, 26, 10, tzinfo=BEIJING)


def local(month: datetime, day: int, hour: int) -> datetime:
    return month.replace(day=day, hour=hour)


def at(server: Server, moment: datetime) -> None:
    """Stop the compensation service's clock (and the payout desk's) at `moment`."""
    server.app.compensation.clock = server.app.compensation.payouts.clock = moment.timestamp


@dataclass
class World:
    boss: Any
    window: dict[str, Any]
    server: Server

    async def file(self, when: datetime, owner: str, caller: str, consumer: str = CONSUMER, **kw: Any) -> str:
        """A case filed at `when` (about the calls made just now, whatever the clock says), `owner`'s."""
        at(self.server, when)
        c = await self.boss.FileComplaint(
            V.FileComplaintRequest(consumer_number=consumer, caller_numbers=[caller], **self.window, **kw)
        )
        if c.assignee != owner:
            await self.boss.AssignComplaint(V.AssignComplaintRequest(case_id=c.case_id, assignee=owner))
        return str(c.case_id)

    async def update(self, when: datetime, case_id: str, visible: bool = True, kind: Any = None) -> None:
        at(self.server, when)
        await self.boss.AddComplaintUpdate(
            V.AddComplaintUpdateRequest(case_id=case_id, text="we are on it", visible_to_consumer=visible, kind=kind)
        )

    async def confirm(self, when: datetime, case_id: str, satisfaction: int) -> None:
        at(self.server, when)
        closed = await self.boss.ConfirmResolution(
            V.ConfirmResolutionRequest(case_id=case_id, satisfied=True, resolved=True, satisfaction=satisfaction)
        )
        assert closed.status == V.COMPLAINT_STATUS_CLOSED

    async def review(self, when: datetime, case_id: str, decision: Any) -> None:
        at(self.server, when)
        await self.boss.ReviewComplaint(V.ReviewComplaintRequest(case_id=case_id, decision=decision, note="looked"))

    async def payout(self, case_id: str) -> tuple[str, datetime]:
        rows = await db_rows(self.server, "SELECT payout_id, due_at FROM payouts WHERE case_id = %s", case_id)
        assert len(rows) == 1
        return str(rows[0][0]), rows[0][1]

    async def pay(self, when: datetime, payout_id: str) -> None:
        at(self.server, when)
        await self.boss.MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=payout_id, payment_reference="BANK-1"))

    async def revisit(self, case_id: str, due: datetime, done: datetime | None, recurrence: str | None = None) -> None:
        """RecordRevisit is another branch's: its columns and row are written here as migration 0012
        defines them (revisit_due on the case; one complaint_revisits row when it was done)."""
        async with self.server.app.pool.connection() as conn:
            await conn.execute("UPDATE complaints SET revisit_due = %s WHERE case_id = %s", (due, case_id))
            if done is not None:
                await conn.execute(
                    "INSERT INTO complaint_revisits (case_id, at, actor, recurred, rating, recurrence_case_id)"
                    " VALUES (%s, %s, 'boss (token t)', %s, 4, %s)",
                    (case_id, done, recurrence is not None, recurrence),
                )


async def build(server: Server, desk: Any) -> World:
    """Eight cases, two per month and operator (the comments give what each one counts for)."""
    await register_dnd(server)
    await register_dnd(server, DISPUTER)
    await monitor(server)
    await registry(server).GrantConsent(registry_pb2.GrantConsentRequest(consumer_number=DISPUTER, org_id="wuhan-01"))
    await call(server, A)
    await call(server, B)
    await call(server, C, callee=DISPUTER)
    real = datetime.now(BEIJING)
    window = {"occurred_after": ts(real - timedelta(hours=1)), "occurred_before": ts(real + timedelta(hours=1))}
    for name in ("op-a", "op-b"):
        stub, _ = await desk(name, "hotline")
        await stub.SetOperatorAvailability(V.SetOperatorAvailabilityRequest(available=True))
    boss, _ = await desk("boss", "supervisor", "payments")
    w = World(boss, window, server)
    disputed = {"consumer": DISPUTER, "disputes_consent": True}

    # March, op-a. K1: verified at filing, a visible update after 10 h, paid before due, closed with 5
    # after 16 h more (no lapse), revisited on time.
    k1 = await w.file(local(MARCH, 3, 10), "op-a", A)
    await w.update(local(MARCH, 3, 20), k1)
    p1, due1 = await w.payout(k1)
    assert due1 > local(MARCH, 4, 9)
    await w.pay(local(MARCH, 4, 9), p1)
    await w.confirm(local(MARCH, 4, 12), k1, 5)
    # K3: a regulator's, verified at filing, replied on time (internally); its payout paid a day late;
    # no visible update ever (the clock lapses), open.
    k3 = await w.file(local(MARCH, 10, 10), "op-a", B, channel=V.CHANNEL_REGULATOR)
    await w.update(local(MARCH, 12, 10), k3, visible=False, kind=V.UPDATE_KIND_REGULATOR_REPLY)
    p3, due3 = await w.payout(k3)
    await w.pay(due3 + timedelta(days=1), p3)

    # March, op-b. K2: disputed, first answered by a visible update after 30 h (late; the clock lapsed),
    # rejected on review after 48 h (in time), closed with 2, revisited late and the calls came back.
    k2 = await w.file(local(MARCH, 5, 10), "op-b", C, **disputed)
    await w.update(local(MARCH, 6, 16), k2)
    await w.review(local(MARCH, 7, 10), k2, V.COMPLAINT_STATUS_REJECTED)
    await w.confirm(local(MARCH, 7, 12), k2, 2)
    # K4: a regulator's, rejected at filing (C never called her), replied a day past its due, open.
    k4 = await w.file(local(MARCH, 11, 10), "op-b", C, channel=V.CHANNEL_REGULATOR)
    [(reply_due,)] = await db_rows(server, "SELECT regulator_reply_due FROM complaints WHERE case_id = %s", k4)
    await w.update(reply_due + timedelta(days=1), k4, visible=False, kind=V.UPDATE_KIND_REGULATOR_REPLY)

    # April, op-a. K5: A again, already compensated at filing, closed with 4 an hour later, its revisit
    # overdue. K7: disputed, filed 10 h before the report: answer and resolution pending, no lapse.
    k5 = await w.file(local(APRIL, 2, 10), "op-a", A)
    await w.confirm(local(APRIL, 2, 11), k5, 4)
    k7 = await w.file(REPORT_AT - timedelta(hours=10), "op-a", C, **disputed)
    # April, op-b. K6: disputed, answered by a visible update after 2 h, another 20 h later, verified
    # on review after 96 h (late), its payout past due unpaid, the clock lapsed since. K8: disputed,
    # filed 48 h before the report, never answered: late for the answer, resolution still pending.
    # (K8 is filed before K6 is verified: after, C's calls to her are compensated, no longer disputed.)
    k6 = await w.file(local(APRIL, 3, 10), "op-b", C, **disputed)
    await w.update(local(APRIL, 3, 12), k6)
    await w.update(local(APRIL, 4, 8), k6)
    await w.file(REPORT_AT - timedelta(hours=48), "op-b", C, **disputed)
    await w.review(local(APRIL, 7, 10), k6, V.COMPLAINT_STATUS_VERIFIED)
    _, due6 = await w.payout(k6)
    assert due6 < REPORT_AT

    await w.revisit(k1, local(MARCH, 4, 12) + timedelta(days=30), local(MARCH, 14, 10))
    await w.revisit(k2, local(MARCH, 14, 12), local(MARCH, 16, 10), recurrence=k7)
    await w.revisit(k5, local(APRIL, 9, 11), None)
    at(server, REPORT_AT)
    return w


def figures(f: Any) -> dict[str, Any]:
    """Every figure as a plain value (a share as (met, of)); mean_satisfaction None when unset."""
    out: dict[str, Any] = {}
    for field in f.DESCRIPTOR.fields:
        value = getattr(f, field.name)
        out[field.name] = (value.met, value.of) if isinstance(value, V.Share) else value
    out["mean_satisfaction"] = f.mean_satisfaction if f.HasField("mean_satisfaction") else None
    return out


def row(
    filed: int,
    answered: tuple[int, int],
    resolved: tuple[int, int],
    updates_overdue: int,
    regulator: tuple[int, int],
    rated: tuple[int, int],
    revisits: tuple[int, int, int, int],
    payouts: tuple[int, int],
    pending: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """What `figures` gives: `rated` is (sum, count), `revisits` (done, on time, overdue, recurrences),
    `pending` (answers, resolutions)."""
    return {
        "cases_filed": filed,
        "answered_in_time": answered,
        "answer_pending": pending[0],
        "resolved_in_time": resolved,
        "resolution_pending": pending[1],
        "updates_overdue": updates_overdue,
        "regulator_replies_on_time": regulator,
        "satisfaction_sum": rated[0],
        "rated": rated[1],
        "mean_satisfaction": rated[0] / rated[1] if rated[1] else None,
        "revisits_done": revisits[0],
        "revisits_on_time": revisits[1],
        "revisits_overdue": revisits[2],
        "recurrences": revisits[3],
        "payouts_paid_on_time": payouts,
    }


NOTHING = row(0, (0, 0), (0, 0), 0, (0, 0), (0, 0), (0, 0, 0, 0), (0, 0))
MARCH_A = row(2, (2, 2), (2, 2), 1, (1, 1), (5, 1), (1, 1, 0, 0), (1, 2))
MARCH_B = row(2, (1, 2), (2, 2), 2, (0, 1), (2, 1), (1, 0, 0, 1), (0, 0))
MARCH_ALL = row(4, (3, 4), (4, 4), 3, (1, 2), (7, 2), (2, 1, 0, 1), (1, 2))
APRIL_A = row(2, (1, 1), (1, 1), 0, (0, 0), (4, 1), (0, 0, 1, 0), (0, 0), pending=(1, 1))
APRIL_B = row(2, (1, 2), (0, 1), 2, (0, 0), (0, 0), (0, 0, 0, 0), (0, 1), pending=(0, 1))
APRIL_ALL = row(4, (2, 3), (1, 2), 2, (0, 0), (4, 1), (0, 0, 1, 0), (0, 1), pending=(1, 2))
TOTAL = row(8, (5, 7), (5, 6), 5, (1, 2), (11, 3), (2, 1, 1, 1), (1, 3), pending=(1, 2))


async def test_the_service_report_gives_every_figure_per_month_and_operator(server: Server, desk: Any) -> None:
    """Per month of filing (Beijing time) and assignee, and totalled per month and over the range:
    cases, answers and resolutions in time (pending apart), lapsed update clocks, regulator replies,
    satisfaction, revisits and payouts on time, exactly as the eight cases were handled."""
    w = await build(server, desk)
    r = await w.boss.ReportService(V.ReportServiceRequest())
    assert (r.period, r.time_zone) == ("month", "Asia/Shanghai")
    assert (r.first_response_hours, r.resolution_hours, r.update_hours) == (24, 72, 24)
    assert r.generated_at.ToDatetime(tzinfo=BEIJING) == REPORT_AT
    assert [p.period_start.ToDatetime(tzinfo=BEIJING) for p in r.periods] == [MARCH, APRIL]
    got = [[(a.assignee, figures(a.figures)) for a in p.assignees] for p in r.periods]
    assert got == [[("op-a", MARCH_A), ("op-b", MARCH_B)], [("op-a", APRIL_A), ("op-b", APRIL_B)]]
    assert [figures(p.total) for p in r.periods] == [MARCH_ALL, APRIL_ALL]
    assert figures(r.total) == TOTAL


async def test_the_report_narrows_to_one_assignee_and_to_the_range_of_filing(server: Server, desk: Any) -> None:
    """--assignee keeps that operator's cases only; from/to keep the cases filed in [from, to); a
    day's period starts at Beijing midnight."""
    w = await build(server, desk)
    mine = await w.boss.ReportService(V.ReportServiceRequest(assignee="op-b"))
    assert [[a.assignee for a in p.assignees] for p in mine.periods] == [["op-b"], ["op-b"]]
    assert [figures(p.total) for p in mine.periods] == [MARCH_B, APRIL_B]
    april = await w.boss.ReportService(V.ReportServiceRequest(**{"from": ts(APRIL), "to": ts(REPORT_AT)}))
    assert [figures(p.total) for p in april.periods] == [APRIL_ALL] and figures(april.total) == APRIL_ALL
    days = await w.boss.ReportService(V.ReportServiceRequest(period="day", **{"to": ts(APRIL)}))
    starts = [p.period_start.ToDatetime(tzinfo=BEIJING) for p in days.periods]
    assert starts == [local(MARCH, d, 0) for d in (3, 5, 10, 11)] and days.period == "day"
    assert figures(days.total) == MARCH_ALL
    nobody = await w.boss.ReportService(V.ReportServiceRequest(assignee="op-z"))
    assert list(nobody.periods) == [] and figures(nobody.total) == NOTHING


async def test_the_cli_shows_the_report_as_a_table_in_percentages(server: Server, desk: Any) -> None:
    """`dncgate report service`: a row per month and operator, percentages with their counts, the
    totals last."""
    await build(server, desk)
    done = await cli(server, "report", "service")
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.replace("│", " ").split()) for line in done.stdout.splitlines()]
    rows = [line for line in lines if line.startswith(("2026-", "total"))]
    assert rows == [
        "2026-03 op-a 2 100% (2/2) 100% (2/2) 1 100% (1/1) 5.0 (1) 1 1 0 0 50% (1/2)",
        "2026-03 op-b 2 50% (1/2) 100% (2/2) 2 0% (0/1) 2.0 (1) 1 0 0 1 -",
        "2026-03 all 4 75% (3/4) 100% (4/4) 3 50% (1/2) 3.5 (2) 2 1 0 1 50% (1/2)",
        "2026-04 op-a 2 100% (1/1) +1 pending 100% (1/1) +1 pending 0 - 4.0 (1) 0 0 1 0 -",
        "2026-04 op-b 2 50% (1/2) 0% (0/1) +1 pending 2 - - 0 0 0 0 0% (0/1)",
        "2026-04 all 4 67% (2/3) +1 pending 50% (1/2) +2 pending 2 - 4.0 (1) 0 0 1 0 0% (0/1)",
        "total 8 71% (5/7) +1 pending 83% (5/6) +2 pending 5 50% (1/2) 3.7 (3) 2 1 1 1 33% (1/3)",
    ], done.stdout
    one = await cli(
        server, "report", "service", "--period", "week", "--assignee", "op-a", "--to", "2026-03-09T00:00:00+08:00"
    )
    assert one.returncode == 0, one.stderr
    assert "week of 2026-03-02 op-a 1 100% (1/1)" in " ".join(one.stdout.replace("│", " ").split()), one.stdout
    # at 80 columns the figures wrap and the period (a time) stays whole on its line
    narrow = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dncgate.cli", "report", "service", "--to", "2026-05-01T00:00:00+08:00"],
        capture_output=True,
        text=True,
        env={**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token, "COLUMNS": "80"},
        timeout=60,
    )
    assert narrow.returncode == 0, narrow.stderr
    firsts = [line.replace("│", " ").split()[:1] for line in narrow.stdout.splitlines()]
    assert ["2026-03"] in firsts and ["2026-04"] in firsts, narrow.stdout
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    bad = await cli(
        server, "report", "service", "--from", "2026-05-01T00:00:00+08:00", "--to", "2026-04-01T00:00:00+08:00"
    )
    assert (
        bad.returncode != 0 and "INVALID_ARGUMENT" in bad.stderr and "field from: is later than the end" in bad.stderr
    ), bad.stderr
