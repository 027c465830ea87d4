"""Payouts are due in working days on China's calendar, late ones are listed, and the fund is kept per currency."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest

from dncgate.api.convert import ts
from dncgate.bootstrap import open_app
from dncgate.config import Settings
from dncgate.domain.money import Money
from dncgate.service.compensation import ComplaintInput
from tests.conftest import Server, start_server, with_settings
from tests.e2e.compensation_support import A, B, V, call, file, hotline, monitor, register_dnd, yuan
from tests.e2e.conftest import CONSUMER
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

BEIJING = ZoneInfo("Asia/Shanghai")
OTHER = "+8613900139000"
# 2027 is not in chinese-calendar 1.11: this file is its schedule (a made-up one, for the test).
HOLIDAYS_2027 = """date,kind,note
2027-01-01,holiday,元旦
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10,holiday,春节
2027-02-11,holiday,春节
2027-02-12,holiday,春节
2027-02-15,holiday,春节
2027-02-16,holiday,春节
2027-02-20,workday,春节 调休
"""


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[Server]:
    holidays = tmp_path / "holidays.csv"
    holidays.write_text(HOLIDAYS_2027, encoding="utf-8")
    async with start_server(with_settings(settings, holidays_file=holidays)) as s:
        yield s


def at(server: Server, moment: datetime) -> None:
    """Stop the compensation service's clock (and the payout desk's) at `moment`."""
    server.app.compensation.clock = server.app.compensation.payouts.clock = moment.timestamp


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def due(payout: Any) -> datetime:
    return payout.due_at.ToDatetime(tzinfo=BEIJING)


async def file_around_now(server: Server, caller: str, consumer: str) -> Any:
    """A complaint about the calls made just now, whatever the service's clock says."""
    now = datetime.now(BEIJING)
    window = {"occurred_after": ts(now - timedelta(hours=1)), "occurred_before": ts(now + timedelta(hours=1))}
    return await file(server, caller, consumer=consumer, **window)


async def payouts(server: Server, **kw: Any) -> dict[str, Any]:
    r = await hotline(server).ListPayouts(V.ListPayoutsRequest(**kw))
    return {p.payout_id: p for p in r.payouts}


async def test_payouts_are_due_after_the_holidays_and_listed_when_late(server: Server) -> None:
    """Booked on the Friday before Spring Festival, a payout is due 5 working days later on the
    calendar (2026: chinese-calendar; 2027: the holidays file, with its worked Saturday), not after 5
    weekdays; it is overdue from the first moment after its due day, until it is paid."""
    await register_dnd(server)
    await register_dnd(server, OTHER)
    await monitor(server)
    await call(server, A)
    await call(server, A, callee=OTHER)
    at(server, when("2026-02-13T16:00"))
    early = (await file_around_now(server, A, CONSUMER)).findings[0].payout_id
    at(server, when("2027-02-05T09:00"))
    late = (await file_around_now(server, A, OTHER)).findings[0].payout_id
    listed = await payouts(server)
    # 15-23 Feb 2026 off, Saturday 28 Feb worked; 8-16 Feb 2027 off (the file), Saturday 20 Feb worked.
    assert due(listed[early]) == when("2026-02-27T23:59:59.999999")
    assert due(listed[late]) == when("2027-02-22T23:59:59.999999")
    assert not listed[late].overdue and listed[early].overdue  # the clock is in 2027

    at(server, when("2027-02-22T23:59:59"))
    assert list(await payouts(server, overdue_only=True)) == [early]
    at(server, when("2027-02-23T00:00"))
    overdue = await payouts(server, overdue_only=True, status=V.PAYOUT_STATUS_PENDING)
    assert list(overdue) == [late, early] and all(p.overdue for p in overdue.values())
    assert (await hotline(server).GetFundSummary(V.GetFundSummaryRequest())).payouts_overdue == 2

    await hotline(server).MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=early, payment_reference="BANK-1"))
    assert list(await payouts(server, overdue_only=True)) == [late]
    paid = (await payouts(server, status=V.PAYOUT_STATUS_PAID))[early]
    assert not paid.overdue and due(paid) == when("2026-02-27T23:59:59.999999")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await hotline(server).ListPayouts(V.ListPayoutsRequest(status=V.PAYOUT_STATUS_PAID, overdue_only=True))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "overdue_only" in str(info.value.details())


async def test_the_fund_is_summed_per_currency_and_the_cli_shows_each(server: Server) -> None:
    """A second deployment paying in USD over the same database: the summary that used to fail gives one
    total per currency (and no cross-currency amount), the overdue figures, and a CLI row per currency."""
    await register_dnd(server)
    await register_dnd(server, OTHER)
    await monitor(server)
    await call(server, A)
    await call(server, B, callee=OTHER)
    cny = (await file(server, A)).findings[0].payout_id
    async with open_app(with_settings(server.settings, compensation=Money.parse("15.00 USD"))) as dollars:
        usd = (
            await dollars.compensation.file_complaint(ComplaintInput(OTHER, [B]), actor="test", filer_name="test")
        ).findings[0]
    assert usd.payout_id and usd.amount == Money(1500, "USD")

    s = await hotline(server).GetFundSummary(V.GetFundSummaryRequest(period="day"))
    totals = [(t.currency, t.pending_count, yuan(t.pending_amount), t.overdue_count) for t in s.totals]
    assert totals == [("CNY", 1, ("CNY", 100, 0), 0), ("USD", 1, ("USD", 15, 0), 0)]
    assert (s.pending_count, s.payouts_overdue, s.HasField("pending_amount"), s.HasField("paid_amount")) == (
        2,
        0,
        False,
        False,
    )
    assert sorted(p.pending_amount.currency_code for p in s.periods) == ["CNY", "USD"]

    at(server, datetime.now(BEIJING) + timedelta(days=30))  # past any 5 working days
    s = await hotline(server).GetFundSummary(V.GetFundSummaryRequest())
    assert [(t.currency, t.overdue_count, yuan(t.overdue_amount)) for t in s.totals] == [
        ("CNY", 1, ("CNY", 100, 0)),
        ("USD", 1, ("USD", 15, 0)),
    ]
    assert s.payouts_overdue == 2

    summary = await cli(server, "payouts", "summary")
    assert summary.returncode == 0, summary.stderr
    assert re.search(r"CNY\s+│\s+1\s+│\s+100\.00 CNY\s+│\s+1\s+│\s+100\.00 CNY\s+│\s+0\s+│\s+0\.00 CNY", summary.stdout)
    assert re.search(r"USD\s+│\s+1\s+│\s+15\.00 USD\s+│\s+1\s+│\s+15\.00 USD\s+│\s+0\s+│\s+0\.00 USD", summary.stdout)
    listed = await cli(server, "payouts", "list", "--overdue")
    assert listed.returncode == 0, listed.stderr
    assert cny in listed.stdout and usd.payout_id in listed.stdout and listed.stdout.count("OVERDUE") == 2
