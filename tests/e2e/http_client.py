"""A minimal HTTP/1.1 client for the HTTP/JSON face's tests: one connection, kept alive, on this event loop
(the server under test runs on it too, so a blocking client would stall it)."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """`async with Http(port) as c: await c.post("/v1/check", {...}, token)`: requests on one connection."""

    def __init__(self, port: int, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connections = 0  # how many connections were opened: keep-alive keeps this at 1

    async def __aenter__(self) -> Http:
        await self._connect()
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.writer is not None:
            self.writer.close()

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        self.connections += 1

    async def request(
        self, verb: str, path: str, body: bytes | str | Any = None, token: str | None = None, **headers: str
    ) -> Reply:
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
        if self.writer is None or self.writer.is_closing():
            await self._connect()
        assert self.reader is not None and self.writer is not None
        lines = [f"{verb} {path} HTTP/1.1", f"host: {self.host}:{self.port}", f"content-length: {len(raw)}"]
        if token is not None:
            lines.append(f"authorization: Bearer {token}")
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + raw)
        await self.writer.drain()
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        got = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        content = await self.reader.readexactly(int(got.get("content-length", "0")))
        if got.get("connection") == "close":
            self.writer.close()
        return Reply(int(status_line.split()[1]), got, content)

    async def post(self, path: str, body: Any, token: str | None = None, **headers: str) -> Reply:
        return await self.request("POST", path, body, token, **headers)
