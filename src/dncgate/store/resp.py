"""A multiplexed Redis connection for the Check hot path.

redis-py gives each command a pooled connection of its own: a pool checkout, a packed write and a read
per Check, and under load one system call pair per Check. Here every concurrent caller shares one socket:
commands are packed with hiredis, the ones issued during one event-loop turn go out in a single write, and
replies (which Redis sends in order) are handed back in order by one `data_received` — the group commit
the gateway wants, without a caller ever getting its answer before Redis has run its command.

A caller may give a deadline (event-loop time): past it, its command fails with TimeoutError while the
connection stays up (the late reply is read and dropped). One timer per connection enforces every
caller's deadline, re-armed only when it fires: a per-call `asyncio.timeout_at` cost ~6 us a Check.

Only what the hot path needs: plain TCP or a Unix socket, AUTH and SELECT. `Multiplexer.for_client` says
None for anything else (TLS), and the caller keeps using redis-py. Error replies come back as
`redis.exceptions.ResponseError` values in the reply list, as from a redis-py pipeline with
`raise_on_error=False`; a lost or stuck connection raises `redis.exceptions.ConnectionError` to every
caller waiting on it, and the next command reconnects.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
import redis.exceptions


@dataclass(slots=True)
class _Waiter:
    expected: int
    future: asyncio.Future[list[Any]]
    sent_at: float
    deadline: float = math.inf  # event-loop time
    replies: list[Any] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    def __init__(self, on_lost: Any) -> None:
        self.reader = hiredis.Reader(replyError=redis.exceptions.ResponseError)
        self.waiting: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.buffer: list[bytes] = []
        self.flush_scheduled = False
        self.on_lost = on_lost
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = math.inf  # when `timer` fires; no earlier deadline is waiting

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        try:
            while (reply := reader.gets()) is not False:
                if not waiting:
                    raise hiredis.ProtocolError("a reply nobody asked for")
                head = waiting[0]
                head.replies.append(reply)
                if len(head.replies) == head.expected:
                    waiting.popleft()
                    if not head.future.done():  # its caller may have timed out meanwhile
                        head.future.set_result(head.replies)
        except hiredis.ProtocolError as exc:
            self.abort(redis.exceptions.ConnectionError(f"Redis protocol error: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.exceptions.ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))
        self.on_lost(self)

    def fail(self, exc: Exception) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer, self.timer_at = None, math.inf
        while self.waiting:
            w = self.waiting.popleft()
            if not w.future.done():
                w.future.set_exception(exc)

    def abort(self, exc: Exception) -> None:
        self.fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def send(self, packed: bytes, waiter: _Waiter) -> None:
        self.waiting.append(waiter)
        if waiter.deadline < self.timer_at:
            self._arm(waiter.deadline)
        if len(self.waiting) == 1 and not self.buffer:
            assert self.transport is not None
            self.transport.write(packed)  # idle: no one to batch with, send now
            return
        self.buffer.append(packed)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def _arm(self, at: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_at(at, self._expire, at)
        self.timer_at = at

    def _expire(self, at: float) -> None:
        """Fail the callers whose deadline has passed; arm the timer for the next deadline still waiting.

        Callers with one timeout arrive in deadline order, so this runs about once per timeout while
        commands flow, not once per command. Deadlines up to `at` count as passed even if the loop's
        clock (milliseconds on uvloop) has not quite reached them, as `asyncio.timeout_at` would.
        """
        self.timer, self.timer_at = None, math.inf
        now = max(at, asyncio.get_running_loop().time())
        upcoming = math.inf
        for w in self.waiting:
            if w.future.done():
                continue
            if w.deadline <= now:
                w.future.set_exception(TimeoutError("Redis did not answer within the deadline"))
            elif w.deadline < upcoming:
                upcoming = w.deadline
        if upcoming < math.inf and not self.closed:
            self._arm(upcoming)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.buffer and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.buffer))
        self.buffer.clear()


class Multiplexer:
    """One shared connection; `execute` sends commands in one go and returns their replies in order."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int = 6379,
        path: str | None = None,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        name: str = "dncgate",
        stale_after_s: float = 5.0,
        clock: Any = time.monotonic,
    ) -> None:
        if (host is None) == (path is None):
            raise ValueError("give either host or path")
        self.host, self.port, self.path = host, port, path
        self.username, self.password, self.db = username, password, db
        self.name = name  # CLIENT SETNAME, so `CLIENT LIST` shows whose connection this is
        # A reply this late means Redis or the network is stuck: the connection is dropped (failing every
        # caller still waiting) rather than queueing new commands behind it forever.
        self.stale_after_s = stale_after_s
        self.clock = clock
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    @classmethod
    def for_client(
        cls, client: aioredis.Redis, name: str = "dncgate", stale_after_s: float = 5.0, clock: Any = time.monotonic
    ) -> Multiplexer | None:
        """A multiplexer to the same server as a redis-py client, or None if it needs what this lacks (TLS,
        or a Redis Cluster client: no one server)."""
        pool = getattr(client, "connection_pool", None)
        if pool is None:
            return None
        kw = pool.connection_kwargs
        if pool.connection_class is aioredis.UnixDomainSocketConnection:
            where: dict[str, Any] = {"path": kw["path"]}
        elif pool.connection_class is aioredis.Connection:
            where = {"host": kw.get("host", "localhost"), "port": int(kw.get("port", 6379))}
        else:
            return None
        return cls(
            **where,
            username=kw.get("username"),
            password=kw.get("password"),
            db=int(kw.get("db") or 0),
            name=name,
            stale_after_s=stale_after_s,
            clock=clock,
        )

    async def execute(self, commands: Sequence[Sequence[Any]], deadline: float | None = None) -> list[Any]:
        """Replies in order; an error reply is a ResponseError in the list, not raised.

        With a `deadline` (event-loop time), TimeoutError once it passes, connecting included.
        """
        proto = self._proto
        if proto is None or proto.closed:
            proto = await self._connect_by(deadline)
        elif proto.waiting and self.clock() - proto.waiting[0].sent_at > self.stale_after_s:
            proto.abort(redis.exceptions.ConnectionError("Redis did not answer in time; reconnecting"))
            proto = await self._connect_by(deadline)
        future = asyncio.get_running_loop().create_future()
        waiter = _Waiter(len(commands), future, self.clock(), math.inf if deadline is None else deadline)
        if len(commands) == 1:
            packed = hiredis.pack_command(tuple(commands[0]))
        else:
            packed = b"".join(hiredis.pack_command(tuple(c)) for c in commands)
        proto.send(packed, waiter)
        return await waiter.future

    async def _connect_by(self, deadline: float | None) -> _Protocol:
        if deadline is None:
            return await self._connect()
        async with asyncio.timeout_at(deadline):
            return await self._connect()

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._proto is not None and not self._proto.closed:
                return self._proto  # another caller connected while we waited
            loop = asyncio.get_running_loop()
            try:
                if self.path is not None:
                    _, proto = await loop.create_unix_connection(lambda: _Protocol(self._lost), self.path)
                else:
                    host = self.host or "localhost"
                    _, proto = await loop.create_connection(lambda: _Protocol(self._lost), host, self.port)
            except OSError as exc:
                raise redis.exceptions.ConnectionError(f"cannot connect to Redis: {exc}") from exc
            setup: list[tuple[Any, ...]] = []
            if self.password is not None:
                setup.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                setup.append(("SELECT", self.db))
            setup.append(("CLIENT", "SETNAME", self.name))
            waiter = _Waiter(len(setup), loop.create_future(), self.clock())
            proto.send(b"".join(hiredis.pack_command(c) for c in setup), waiter)
            try:
                replies = await waiter.future
            except BaseException:  # cancelled by the caller's deadline, or the connection went
                proto.abort(redis.exceptions.ConnectionError("closing a half set-up connection"))
                raise
            for reply in replies:
                if isinstance(reply, Exception):
                    proto.abort(redis.exceptions.ConnectionError("closing after a failed set-up"))
                    raise redis.exceptions.AuthenticationError(f"Redis refused the connection set-up: {reply}")
            self._proto = proto
            return proto

    def _lost(self, proto: _Protocol) -> None:
        if self._proto is proto:
            self._proto = None

    async def aclose(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.fail(redis.exceptions.ConnectionError("multiplexer closed"))
            proto.transport.close()
