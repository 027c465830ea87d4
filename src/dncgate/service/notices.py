"""Consumer notices: written to the outbox with each change they tell of, delivered by one loop, listed.

`Notifier.append` is called inside a case transaction (the outbox row commits or rolls back with the
change). `NoticeLoop` runs in one process of a deployment (where the recorder runs): it claims the
undelivered notices oldest first, unseals each destination, hands it to the `NotificationSender`
port and records the outcome; a failed send is tried again after a back-off that doubles. At least
once: a crash between a send and its bookkeeping sends that notice again, and the sender drops what
it has seen (by notification id) where it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from dncgate import phone
from dncgate.domain.case import Case
from dncgate.domain.notices import Notice, NoticeKind, SentNotice
from dncgate.sealing import NumberSealer, UnsealError
from dncgate.service.compensation_ports import CaseWrites
from dncgate.service.notice_ports import Delivery, NotificationOutbox, NotificationSender, Pending
from dncgate.service.paging import decode_token, encode_token, page_size
from dncgate.service.redact import redact

log = structlog.get_logger("dncgate.notices")

MAX_ERROR = 500


class Notifier:
    """Appends a case's notices to the outbox, on the transaction of the change (`tx`)."""

    def __init__(self, sealer: NumberSealer, zone: str, region: str) -> None:
        self.sealer = sealer
        self.zone = zone
        self.region = region

    def clean(self, text: str) -> str:
        """Operator text for a notice: every phone number masked, company lines included."""
        return redact(text, self.region)

    async def append(
        self,
        tx: CaseWrites,
        case: Case,
        notification_id: str,
        kind: NoticeKind,
        text: str,
        at: datetime,
        consumer: phone.PhoneNumber | None = None,
    ) -> bool:
        """Append one notice to the case's consumer (`consumer`, else the case's sealed number); False
        when this event's notice is there already (a retried request).

        A case whose number cannot be read back (erased, or sealed under another key) still gets its
        notice, with no destination: it is listed, never sent, and the change it tells of goes ahead.
        """
        sealed: bytes | None = None
        masked = case.consumer_masked
        if consumer is None:
            consumer = await self._consumer(tx, case.case_id, notification_id)
        if consumer is not None:
            sealed, masked = self.sealer.seal(consumer.e164, notification_id), consumer.masked
        notice = Notice(notification_id, case.case_id, kind, text, at)
        added = await tx.add_notification(notice, masked, sealed)
        if added:
            log.info("notice_queued", notification_id=notification_id, case_id=case.case_id, kind=kind.value)
        return added

    async def _consumer(self, tx: CaseWrites, case_id: str, notification_id: str) -> phone.PhoneNumber | None:
        _, sealed = await tx.consumer_of(case_id)
        try:
            if sealed is None:  # erased (ForgetConsumer): nowhere to send it
                raise UnsealError("the consumer's number was erased")
            return phone.parse(self.sealer.unseal(sealed, case_id))
        except (UnsealError, ValueError):
            log.warning("notice_without_destination", notification_id=notification_id, case_id=case_id)
            return None


class NoticeLoop:
    """Delivers the outbox through a sender, `batch` notices per claim, until `stop` is set."""

    def __init__(
        self,
        outbox: NotificationOutbox,
        sender: NotificationSender,
        sealer: NumberSealer,
        *,
        region: str,
        batch: int = 50,
        idle_s: float = 1.0,
        backoff_s: float = 5.0,
        max_backoff_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.sender = sender
        self.sealer = sealer
        self.region = region
        self.batch = batch
        self.idle_s = idle_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def retry_at(self, attempts: int) -> datetime:
        """When to try again after the `attempts`-th failure: backoff_s, doubling, at most max_backoff_s."""
        delay = min(self.backoff_s * 2 ** min(attempts - 1, 30), self.max_backoff_s)
        return self.now() + timedelta(seconds=delay)

    async def run_once(self) -> int:
        """One claimed batch sent and recorded; how many notices it held."""
        async with self.outbox.claim(self.batch, self.now()) as (pending, marks):
            for p in pending:
                error = await self._send(p)
                if error is None:
                    await marks.delivered(p.notice.notification_id, self.now())
                else:
                    attempts = p.attempts + 1
                    await marks.failed(p.notice.notification_id, attempts, error, self.retry_at(attempts))
                    log.warning(
                        "notice_not_delivered",
                        notification_id=p.notice.notification_id,
                        attempts=attempts,
                        error=error,
                    )
        return len(pending)

    async def _send(self, p: Pending) -> str | None:
        """None once sent, else what went wrong (with any number in it masked)."""
        try:
            e164 = self.sealer.unseal(p.destination_sealed, p.notice.notification_id)
        except UnsealError as exc:
            return f"destination cannot be unsealed: {exc}"
        try:
            await self.sender.send(Delivery(p.notice, e164, p.destination_masked))
        except Exception as exc:  # the sender's failure is this notice's, never the loop's
            return redact(f"{type(exc).__name__}: {exc}", self.region)[:MAX_ERROR]
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`: a full batch is followed at once by the next, else it waits `idle_s`."""
        log.info("notice_loop_started", batch=self.batch)
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as exc:  # a store outage: try again after the idle wait
                log.warning("notice_loop_failed", error=redact(str(exc), self.region)[:MAX_ERROR])
                handled = 0
            if handled < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.idle_s)
        log.info("notice_loop_stopped")


class NoticeDesk:
    """ListNotifications: the outbox as the hotline and compliance read it."""

    def __init__(self, outbox: NotificationOutbox) -> None:
        self.outbox = outbox

    async def list_notices(self, case_id: str, size: int, token: str) -> tuple[list[SentNotice], str]:
        """A page of notices newest first, of one case (`case_id`) or of all."""
        found, more = await self.outbox.page(case_id.strip() or None, decode_token(token, "n"), page_size(size))
        return found, encode_token("n", more)
