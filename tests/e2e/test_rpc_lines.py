"""Our services' wrapper over a real grpc.aio server, with the per-request log line on and off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import structlog
from grpc_status import rpc_status
from structlog.testing import LogCapture

from dncgate import metrics
from dncgate.api.interceptors import Registrar
from dncgate.domain.errors import InvalidArgument

pytestmark = pytest.mark.e2e


async def _ok(request: bytes, context: Any) -> bytes:
    structlog.contextvars.bind_contextvars(answer="yes")
    return b"ok:" + request


async def _bad(request: bytes, context: Any) -> bytes:
    raise InvalidArgument("org_id", "is required")


async def _broken(request: bytes, context: Any) -> bytes:
    raise RuntimeError("a bug")


@pytest.fixture(params=[True, False], ids=["info: a line per request", "warning: no line"])
async def channel(request: pytest.FixtureRequest) -> AsyncIterator[tuple[grpc.aio.Channel, bool]]:
    server = grpc.aio.server()
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(f) for name, f in (("Ok", _ok), ("Bad", _bad), ("Broken", _broken))
    }
    Registrar(server, lines=request.param).add_registered_method_handlers("test.Wrapped", handlers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            yield ch, request.param
    finally:
        await server.stop(None)


async def test_errors_are_mapped_whether_or_not_requests_are_logged(channel: tuple[grpc.aio.Channel, bool]) -> None:
    """With or without the per-request line, an answer comes back as it is, a DncgateError becomes its status
    with the bad field named, and a bug becomes INTERNAL and is logged with the method it happened in."""
    ch, lines = channel
    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        assert await ch.unary_unary("/test.Wrapped/Ok")(b"1") == b"ok:1"
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await ch.unary_unary("/test.Wrapped/Bad")(b"")
        with pytest.raises(grpc.aio.AioRpcError) as broken:
            await ch.unary_unary("/test.Wrapped/Broken")(b"")
    finally:
        structlog.configure(**old)
    logs = capture.entries
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad.value)
    assert status is not None and "org_id" in str(status.details[0].value)
    assert broken.value.code() is grpc.StatusCode.INTERNAL
    [crash] = [e for e in logs if e["event"] == "unhandled_error"]
    assert crash["method"] == "Broken"
    rpc_lines = [(e["method"], e["status"]) for e in logs if e["event"] == "rpc"]
    expected = [("Ok", "OK"), ("Bad", "INVALID_ARGUMENT"), ("Broken", "INTERNAL")]
    assert rpc_lines == (expected if lines else [])


async def test_every_call_is_counted_with_its_code_whether_or_not_requests_are_logged(
    channel: tuple[grpc.aio.Channel, bool],
) -> None:
    """Each call adds one to its method's started and handled (under its status's ecosystem name) and
    one observation to its histogram, on the logged path and on the quiet one."""
    ch, _ = channel
    tallies = {m: metrics.TALLY.methods[f"/test.Wrapped/{m}"] for m in ("Ok", "Bad", "Broken")}
    before = {m: (t.started, t.by_code(), sum(t.timings.counts)) for m, t in tallies.items()}
    assert await ch.unary_unary("/test.Wrapped/Ok")(b"1") == b"ok:1"
    for method in ("Bad", "Broken"):
        with pytest.raises(grpc.aio.AioRpcError):
            await ch.unary_unary(f"/test.Wrapped/{method}")(b"")
    for method, code in (("Ok", "OK"), ("Bad", "InvalidArgument"), ("Broken", "Internal")):
        t, (started, handled, observed) = tallies[method], before[method]
        assert t.started - started == 1, method
        assert t.by_code().get(code, 0) - handled.get(code, 0) == 1, method
        assert sum(t.by_code().values()) - sum(handled.values()) == 1, method
        assert sum(t.timings.counts) - observed == 1, method
