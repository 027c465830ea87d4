"""The ports of the consumer notices' delivery (service/notices.py): the outbox and the sender.

`NotificationOutbox` is store/notifications.py's `Outbox` (PostgreSQL). `NotificationSender` is the
one seam to the outside world: the embedded default, store/notice_file.py's `JsonlNoticeFile`,
appends each notice to `<data dir>/notices.jsonl`; production plugs an SMS gateway into the same
port. An outage raises `StoreUnavailable`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dncgate.domain.notices import Notice, SentNotice


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notice on its way to the consumer.

    `destination_e164` is her number in clear, unsealed for this send only: an SMS gateway needs it,
    and nothing may write it down (log it, store it) on the way. `destination_masked` is for that.
    """

    notice: Notice
    destination_e164: str
    destination_masked: str


class NotificationSender(Protocol):
    """Delivers one notice (an SMS, a line in a file). At least once: the same notification_id may come
    again after a crash, and a sender that can should drop it the second time. Raising means "not
    delivered": the loop records the error and tries again later."""

    async def send(self, notice: Delivery) -> None: ...


@dataclass(frozen=True, slots=True)
class Pending:
    """An undelivered notice as claimed from the outbox (`destination_sealed` sealed with its id as context)."""

    notice: Notice
    destination_masked: str
    destination_sealed: bytes
    attempts: int


class ClaimedBatch(Protocol):
    """The delivery bookkeeping of a claimed batch, committed together when the claim ends."""

    async def delivered(self, notification_id: str, at: datetime) -> None: ...

    async def failed(self, notification_id: str, attempts: int, error: str, retry_at: datetime) -> None: ...


class NotificationOutbox(Protocol):
    def claim(self, limit: int, now: datetime) -> AbstractAsyncContextManager[tuple[list[Pending], ClaimedBatch]]:
        """Up to `limit` undelivered notices due for an attempt at `now`, oldest first, locked (skipping
        those another sender holds) until the block ends; the bookkeeping commits with it."""
        ...

    async def page(
        self, case_id: str | None, before_seq: int | None, limit: int
    ) -> tuple[list[SentNotice], int | None]:
        """Notices newest first (of one case, or all); the seq to continue before, None on the last page."""
        ...
