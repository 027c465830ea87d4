"""The outbox of consumer notices against real PostgreSQL: one row per event, in the change's own
transaction; rows that only move their delivery bookkeeping; and the sender loop, at least once into
an idempotent file, exactly once in the end."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dncgate.bootstrap import build_notice_loop, notices_file, sealer_of
from dncgate.domain.case import Status
from dncgate.domain.notices import Notice, NoticeKind
from dncgate.service.compensation import ComplaintInput
from dncgate.service.notice_ports import Delivery
from dncgate.store.notice_file import JsonlNoticeFile
from tests.integration.support import CONSUMER, CONSUMER_E164, FakeClock
from tests.integration.test_compensation_store import A, B, monitored_calls

pytestmark = pytest.mark.integration


async def rows(app: Any, case_id: str | None = None) -> list[tuple[str, str, str]]:
    """(notification_id, kind, text) of every notice (of one case), oldest first."""
    async with app.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT notification_id, kind, text FROM notifications WHERE %s::text IS NULL OR case_id = %s ORDER BY seq",
            (case_id, case_id),
        )
        return [(r[0], r[1], r[2]) for r in await cur.fetchall()]


async def kinds(app: Any, case_id: str | None = None) -> list[str]:
    return [k for _, k, _ in await rows(app, case_id)]


class RefusedAtCommit:
    """A case store whose every transaction fails after its last write: nothing of it may stay."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self.store.transaction() as tx:
            yield tx
            raise RuntimeError("the commit is refused")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def refuse_commits(app: Any) -> Any:
    original = app.compensation.cases
    refused = RefusedAtCommit(original)
    app.compensation.cases = app.compensation.updates.cases = app.compensation.payouts.cases = refused
    return original


def restore(app: Any, original: Any) -> None:
    app.compensation.cases = app.compensation.updates.cases = app.compensation.payouts.cases = original


async def test_filing_writes_accepted_and_verdict_once_and_a_replay_writes_none(app: Any) -> None:
    """ACCEPTED (case number, person in charge, answer time) and VERDICT (amount), sealed to the consumer
    under the notice's own id; the same request_id again adds nothing."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(
        ComplaintInput(CONSUMER, [A, B], request_id="file-1"),
        actor="hotline zhao (token t1)",
        filer_name="hotline zhao",
    )
    found = await rows(app, case.case_id)
    assert [(i, k) for i, k, _ in found] == [
        (f"{case.case_id}:ACCEPTED", "ACCEPTED"),
        (f"{case.case_id}:VERDICT:0", "VERDICT"),
    ]
    assert "负责人：hotline zhao" in found[0][2] and case.case_id in found[0][2]
    assert "100.00 CNY" in found[1][2]
    assert all("13800138000" not in text for _, _, text in found)
    async with app.pool.connection() as conn:
        cur = await conn.execute("SELECT notification_id, destination_masked, destination_sealed FROM notifications")
        sealer = sealer_of(app.settings)
        for nid, masked, sealed in await cur.fetchall():
            assert masked == "+86138****8000"
            assert sealer.unseal(bytes(sealed), nid) == CONSUMER_E164
    again = await app.compensation.file_complaint(
        ComplaintInput(CONSUMER, [A, B], request_id="file-1"),
        actor="hotline zhao (token t1)",
        filer_name="hotline zhao",
    )
    assert again.case_id == case.case_id and len(await rows(app)) == 2


async def test_a_case_for_manual_review_is_accepted_and_its_verdict_comes_with_the_review(app: Any) -> None:
    """No verdict while a human must decide; each review's verdict is its own notice."""
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    assert case.status is Status.REJECTED
    assert await kinds(app, case.case_id) == ["ACCEPTED", "VERDICT"]
    await app.compensation.confirm_resolution(case.case_id, False, "not resolved", actor="t")
    reviewed = await app.compensation.review(case.case_id, Status.REJECTED, "no call on record", "sup (token s)")
    assert reviewed.status is Status.REJECTED
    found = await rows(app, case.case_id)
    assert [i for i, _, _ in found][-1] == f"{case.case_id}:VERDICT:1" and found[-1][1] == "VERDICT"


async def test_visible_updates_and_extensions_notify_internal_notes_do_not_and_replays_add_nothing(app: Any) -> None:
    """One notice per visible update and per extension, with the text masked; none for an internal note."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    before = len(await rows(app, case.case_id))
    desk = app.compensation.updates
    await desk.add_update(case.case_id, "internal: she is 13800138000", False, author="t")
    assert len(await rows(app, case.case_id)) == before
    await desk.add_update(case.case_id, "we asked the caller 138 0013 8000 for a recording", True, "u1", author="t")
    await desk.add_update(case.case_id, "we asked the caller 138 0013 8000 for a recording", True, "u1", author="t")
    new_due = case.resolution_due + timedelta(days=2)
    await desk.extend(case.case_id, "waiting for the carrier's records", new_due, "x1", author="t")
    await desk.extend(case.case_id, "waiting for the carrier's records", new_due, "x1", author="t")
    found = (await rows(app, case.case_id))[before:]
    assert [(i, k) for i, k, _ in found] == [
        (f"{case.case_id}:UPDATE:2", "UPDATE"),
        (f"{case.case_id}:EXTENSION:3", "EXTENSION"),
    ]
    assert "+86138****8000" in found[0][2] and "13800138000" not in found[0][2]
    assert "waiting for the carrier's records" in found[1][2]


async def test_a_paid_payout_notifies_once_however_often_it_is_marked(app: Any) -> None:
    """PAYOUT_PAID once: the same reference again, and the same request_id again, tell nothing more."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    payout_id = case.findings[0].payout_id
    for request_id in ("p1", "p1", ""):
        await app.compensation.payouts.mark_paid(payout_id, "BANK-1", request_id, actor="payments (token p)")
    found = await rows(app, case.case_id)
    assert [k for _, k, _ in found] == ["ACCEPTED", "VERDICT", "PAYOUT_PAID"]
    assert found[-1][0] == f"{payout_id}:PAID" and "100.00 CNY" in found[-1][2] and "+86275****111 " in found[-1][2]


async def test_a_change_that_rolls_back_leaves_no_notice(app: Any) -> None:
    """Filing, a visible update, an extension and a payment whose transaction fails write no notice."""
    await monitored_calls(app, A)
    original = refuse_commits(app)
    with pytest.raises(RuntimeError):
        await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    assert await rows(app) == []
    restore(app, original)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    before = await rows(app)
    refuse_commits(app)
    with pytest.raises(RuntimeError):
        await app.compensation.updates.add_update(case.case_id, "visible", True, author="t")
    with pytest.raises(RuntimeError):
        await app.compensation.updates.extend(case.case_id, "why", case.resolution_due + timedelta(days=1), author="t")
    with pytest.raises(RuntimeError):
        await app.compensation.payouts.mark_paid(case.findings[0].payout_id, "BANK-1", actor="t")
    assert await rows(app) == before


async def test_a_notice_is_never_deleted_nor_rewritten_but_its_destination_may_be_erased(app: Any) -> None:
    """The trigger: delivery bookkeeping and erasure of the sealed number only."""
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    nid = f"{case.case_id}:ACCEPTED"
    async with await psycopg.AsyncConnection.connect(app.settings.database_url, autocommit=True) as conn:
        for sql in (
            "DELETE FROM notifications WHERE notification_id = %s",
            "UPDATE notifications SET text = 'x' WHERE notification_id = %s",
            "UPDATE notifications SET kind = 'REVISIT' WHERE notification_id = %s",
        ):
            with pytest.raises(psycopg.errors.RaiseException):
                await conn.execute(sql.encode(), (nid,))
        await conn.execute(
            "UPDATE notifications SET attempts = 2, last_error = 'gateway down' WHERE notification_id = %s", (nid,)
        )
        await conn.execute("UPDATE notifications SET destination_sealed = NULL WHERE notification_id = %s", (nid,))
        row = await (
            await conn.execute(
                "SELECT attempts, destination_sealed FROM notifications WHERE notification_id = %s", (nid,)
            )
        ).fetchone()
    assert row == (2, None)


class Crash(BaseException):
    """The process dies: not an error the loop records, nothing of its batch commits."""


class CrashingFile:
    """The JSONL sender, dying right after writing the `after`-th notice of its life."""

    def __init__(self, path: Path, after: int) -> None:
        self.file = JsonlNoticeFile(path)
        self.after = after
        self.sent = 0

    async def send(self, notice: Delivery) -> None:
        await self.file.send(notice)
        self.sent += 1
        if self.sent == self.after:
            raise Crash


class FlakyFile:
    """The JSONL sender, failing (an ordinary error) on the first attempt of each of the `ids` given."""

    def __init__(self, path: Path, ids: set[str]) -> None:
        self.file = JsonlNoticeFile(path)
        self.failing = set(ids)

    async def send(self, notice: Delivery) -> None:
        if notice.notice.notification_id in self.failing:
            self.failing.discard(notice.notice.notification_id)
            raise ConnectionError("the gateway hung up on +8613800138000")
        await self.file.send(notice)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def undelivered(app: Any) -> int:
    async with app.pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM notifications WHERE delivered_at IS NULL")).fetchone()
    return int(row[0])


async def test_a_sender_crashing_mid_batch_then_restarted_leaves_exactly_one_line_per_notice(app: Any) -> None:
    """At least once plus a file that drops what it has: after the crash and a restart, once each,
    in order, with the number masked and never in clear."""
    await monitored_calls(app, A, B)
    for _ in range(3):
        await app.compensation.file_complaint(
            ComplaintInput(CONSUMER, [A, B]), actor="t", filer_name="t"
        )  # 2 notices each
    path = notices_file(app.settings.data_dir)
    expected = [i for i, _, _ in await rows(app)]
    assert len(expected) == 6
    crashing = build_notice_loop(app.settings, app.compensation.cases.db, CrashingFile(path, after=4))
    crashing.batch = 5
    with pytest.raises(Crash):
        await crashing.run_once()
    assert len(lines(path)) == 4 and await undelivered(app) == 6  # written, but the batch never committed
    restarted = build_notice_loop(app.settings, app.compensation.cases.db)  # a new process: reads the file
    restarted.batch = 5
    assert await restarted.run_once() == 5
    assert await restarted.run_once() == 1
    assert await restarted.run_once() == 0
    written = lines(path)
    assert [w["notification_id"] for w in written] == expected
    assert {w["destination"] for w in written} == {"+86138****8000"}
    assert "13800138000" not in path.read_text(encoding="utf-8")
    assert await undelivered(app) == 0


async def test_a_failed_send_is_recorded_and_retried_after_its_back_off(app: Any) -> None:
    """attempts and last_error (masked) recorded; not tried again before the back-off; then delivered once."""
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    clock = FakeClock()  # from now on: the notices are due
    nid = f"{case.case_id}:ACCEPTED"
    path = notices_file(app.settings.data_dir)
    loop = build_notice_loop(app.settings, app.compensation.cases.db, FlakyFile(path, {nid}))
    loop.clock = clock
    assert await loop.run_once() == 2
    async with app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT attempts, last_error, delivered_at FROM notifications WHERE notification_id = %s", (nid,)
            )
        ).fetchone()
    assert row is not None and row[0] == 1 and row[2] is None
    assert "ConnectionError" in row[1] and "13800138000" not in row[1] and "+86138****8000" in row[1]
    assert await loop.run_once() == 0  # backing off
    clock.advance(loop.backoff_s + 1)
    assert await loop.run_once() == 1
    assert [w["notification_id"] for w in lines(path)] == [f"{case.case_id}:VERDICT:0", nid]
    assert loop.retry_at(3) - loop.now() == timedelta(seconds=loop.backoff_s * 4)
    assert loop.retry_at(40) - loop.now() == timedelta(seconds=loop.max_backoff_s)


async def test_a_torn_last_line_is_sent_again_on_a_line_of_its_own(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line: it is skipped when read, closed off, and the notice written whole."""
    path = tmp_path / "notices.jsonl"
    path.write_text('{"notification_id": "n1", "kind"', encoding="utf-8")
    sink = JsonlNoticeFile(path)
    notice = Notice("n1", "DNC-1", NoticeKind.ACCEPTED, "文本", datetime(2026, 12, 1, tzinfo=UTC))
    await sink.send(Delivery(notice, CONSUMER_E164, "+86138****8000"))
    await sink.send(Delivery(notice, CONSUMER_E164, "+86138****8000"))
    text = path.read_text(encoding="utf-8").splitlines()
    assert len(text) == 2 and json.loads(text[1])["notification_id"] == "n1"
    assert "13800138000" not in path.read_text(encoding="utf-8")


async def test_a_case_whose_number_cannot_be_read_back_is_still_told_but_never_sent(app: Any) -> None:
    """An unreadable sealed number (erased, another key) does not stop the change: its notice is kept,
    masked, with no destination, and the sender never claims it."""
    await monitored_calls(app, A)
    case = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    async with await psycopg.AsyncConnection.connect(app.settings.database_url, autocommit=True) as conn:
        await conn.execute("ALTER TABLE complaints DISABLE TRIGGER USER")
        try:
            await conn.execute("UPDATE complaints SET consumer_sealed = '\\x00' WHERE case_id = %s", (case.case_id,))
        finally:
            await conn.execute("ALTER TABLE complaints ENABLE TRIGGER USER")
    await app.compensation.updates.add_update(case.case_id, "visible", True, author="t")
    async with app.pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT destination_masked, destination_sealed FROM notifications WHERE notification_id = %s",
                (f"{case.case_id}:UPDATE:1",),
            )
        ).fetchone()
    assert row == ("+86138****8000", None)
    loop = build_notice_loop(app.settings, app.compensation.cases.db)
    assert await loop.run_once() == 2  # the two notices of the filing only
    assert await loop.run_once() == 0


async def test_a_second_complaint_about_a_paid_pair_is_told_it_was_compensated_before(app: Any) -> None:
    """ALREADY_COMPENSATED: a violation, but nothing new is owed, and the verdict says so."""
    await monitored_calls(app, A)
    await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    second = await app.compensation.file_complaint(ComplaintInput(CONSUMER, [A]), actor="t", filer_name="t")
    assert second.status is Status.ALREADY_COMPENSATED
    verdict = (await rows(app, second.case_id))[-1]
    assert verdict[1] == "VERDICT" and "1 个号码中 1 个" in verdict[2] and "此前已补偿过" in verdict[2]
