"""The embedded default `NotificationSender`: each delivered notice as one JSON line in a file.

`<data dir>/notices.jsonl` stands in for the SMS gateway on a laptop and in tests. A line holds the
notice's id, case id, kind, text, created time and the destination *masked*: the number in clear is
never written. The file is its own record of what was sent: the ids already in it are read at start,
and a notice sent again (at least once, after a crash between the write and the outbox's bookkeeping)
writes nothing the second time. Each line is flushed and fsynced before `send` returns, so the
outbox marks delivered only what is on disk; a torn last line (a crash mid-write) is skipped when read
and closed off before the next line.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import structlog

from dncgate.service.notice_ports import Delivery

log = structlog.get_logger("dncgate.notices")


def line_of(d: Delivery) -> dict[str, Any]:
    n = d.notice
    return {
        "notification_id": n.notification_id,
        "case_id": n.case_id,
        "kind": n.kind.value,
        "destination": d.destination_masked,
        "text": n.text,
        "created_at": n.created_at.isoformat(),
    }


def read_ids(path: Path) -> set[str]:
    """The notification ids of the whole lines already in the file."""
    ids: set[str] = set()
    if not path.exists():
        return ids
    with path.open(encoding="utf-8") as f:
        for raw in f:
            try:
                ids.add(str(json.loads(raw)["notification_id"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash mid-write: that notice is sent again
    return ids


class JsonlNoticeFile:
    """A `NotificationSender` appending to `path`, once per notification id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: set[str] | None = None  # read at the first send: only the process that delivers reads it
        self._lock = asyncio.Lock()

    async def send(self, notice: Delivery) -> None:
        async with self._lock:
            if self.seen is None:
                self.seen = await asyncio.to_thread(read_ids, self.path)
            if notice.notice.notification_id in self.seen:
                log.info("notice_already_written", notification_id=notice.notice.notification_id)
                return
            line = json.dumps(line_of(notice), ensure_ascii=False) + "\n"
            await asyncio.to_thread(self._append, line)
            self.seen.add(notice.notice.notification_id)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")  # close off a torn line so this one stands alone
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
