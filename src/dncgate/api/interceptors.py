"""Every RPC of our services: requests held to the input limits, a log line per request, errors mapped to statuses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import grpc
import structlog
from grpc.experimental import wrap_server_method_handler

from dncgate import deadline, metrics
from dncgate.api import access, errors, limits
from dncgate.api.access import Guard, Metadata
from dncgate.api.limits import Refused
from dncgate.domain.access import ORG_SCOPED, PUBLIC, Principal
from dncgate.domain.errors import DncgateError, PermissionDenied
from dncgate.store.errors import as_store_error

log = structlog.get_logger("dncgate.rpc")


async def _translate(exc: BaseException, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    # The adapters raise StoreUnavailable (a DncgateError) for an outage; a driver's error that still
    # escapes one (the Check path's own Redis calls, the bulk writers) is an outage all the same.
    if not isinstance(exc, DncgateError) and (store := as_store_error(exc)) is not None:
        exc = store
    if isinstance(exc, PermissionDenied):  # wherever it was found: the wrapper, a scoped stream, a use case
        metrics.AUTH_FAILURES.labels(exc.reason.lower()).inc()
    if isinstance(exc, DncgateError):
        structlog.contextvars.bind_contextvars(error=type(exc).__name__, detail=errors.bounded(exc.message))
        await context.abort_with_status(errors.to_status(exc))
    log.exception("unhandled_error")
    await context.abort_with_status(errors.internal())


def rpc_lines_logged() -> bool:
    """Whether the configured log level keeps the one `rpc` line per request (info)."""
    return bool(log.is_enabled_for(logging.INFO))


def _code(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The RPC's status as the grpc_code label: OK unless an abort (or the servicer) set another."""
    code = context.code() if hasattr(context, "code") else None
    return metrics.code_name(code.name) if isinstance(code, grpc.StatusCode) else "OK"


def _failed(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> str:
    """The grpc_code of an RPC that raised `exc`: its status, or Canceled when the client went away."""
    return "Canceled" if isinstance(exc, asyncio.CancelledError) else _code(context)


def instrument(
    method: str,
    handler: grpc.RpcMethodHandler,
    lines: bool = True,
    tally: metrics.Tally | None = None,
    guard: Guard | None = None,
) -> grpc.RpcMethodHandler:
    """`handler` with its caller authenticated and authorized (`api.access.Guard`), its requests decoded
    and held to the table of limits (`api.limits.guard`), one log line per request, and DncgateError (or
    a store outage) mapped to a status.

    The credential is checked first, so an anonymous request learns nothing of its own validity; a
    verified token costs a metadata scan, a dict lookup and a set lookup (`Authenticator.cached`).
    `guard` None serves without credentials: only for a test of this wrapper itself, and for the
    methods of `domain.access.PUBLIC` (CallGate.GetReceiptKey), which ask for none.

    Each request's deadline is recorded for the stores (`dncgate.deadline`): its waits for PostgreSQL
    are bounded by it.

    The handler's behavior takes the call's invocation metadata as an optional `metadata=`: `Dispatch`
    passes the tuple grpc built for the method lookup; without it (the HTTP face, a test) the credential
    is read from `context.invocation_metadata()`.

    Done once per method when the service is registered (see `Registrar`), not by a grpc.aio
    ServerInterceptor: an interceptor runs a coroutine of its own and rebuilds the handler for every
    call, which measured 25-35% of an empty call's server CPU. Without `lines` (a log level above info)
    a request that succeeds binds and logs nothing; one that fails is still mapped, and an unexpected
    error still logged with its method.

    Every call is counted in `tally` (default `metrics.TALLY`): started, then handled with its status
    code and time, in plain ints that `/metrics` publishes when scraped (see `dncgate.metrics`).
    """
    name = method.rsplit("/", 1)[-1]
    handler = limits.guard(method, handler)
    scope = access.scope_of(method)
    scoped_stream = handler.request_streaming and method in ORG_SCOPED
    if method in PUBLIC:  # no credential asked or looked at (domain.access.PUBLIC)
        guard = None
    cached = guard.cached if guard is not None else None
    slow = guard.principal if guard is not None else None
    missing_role = guard.missing_role if guard is not None else None

    def authorized(p: Principal, request: Any) -> Any:
        """The request, once `p` may make it (a stream wrapped to check each message's org); raises if not."""
        if method not in p.methods:
            raise missing_role(method, p)  # type: ignore[misc]
        access.admit(p)
        if p.orgs:
            if scope is not None and request.__class__ is not Refused:
                scope(request, p)
            elif scoped_stream:
                return access.scoped_stream(method, request, p)
        return request

    counts = (tally or metrics.TALLY).method(
        method, metrics.rpc_type(handler.request_streaming, handler.response_streaming)
    )
    clock = time.perf_counter

    def finish(started: float, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        code = context.code() if hasattr(context, "code") else None
        status = code.name if isinstance(code, grpc.StatusCode) else "OK"
        seconds = clock() - started
        counts.done(metrics.code_name(status), seconds)
        log.info("rpc", status=status, ms=round(seconds * 1000, 3))

    def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
        if handler.response_streaming:

            async def stream_behavior(
                request: Any, context: grpc.aio.ServicerContext[Any, Any], metadata: Metadata | None = None
            ) -> AsyncIterator[Any]:
                structlog.contextvars.clear_contextvars()
                structlog.contextvars.bind_contextvars(method=name)
                deadline.enter_rpc(context)
                counts.started += 1
                started = clock()
                try:
                    if cached is not None:  # `slow` verifies a token not cached yet, or a client certificate
                        found = cached(context.invocation_metadata() if metadata is None else metadata)
                        request = authorized(found or await slow(context), request)  # type: ignore[misc]
                    if request.__class__ is Refused:  # a unary request; a stream's messages raise when read
                        raise request.error
                    async for item in behavior(request, context):
                        yield item
                except Exception as exc:
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await _translate(exc, context)
                finally:
                    finish(started, context)

            return stream_behavior

        if not lines:

            async def quiet_behavior(
                request: Any, context: grpc.aio.ServicerContext[Any, Any], metadata: Metadata | None = None
            ) -> Any:
                deadline.enter_rpc(context)
                counts.started += 1
                started = clock()
                try:
                    if cached is not None:  # `slow` verifies a token not cached yet, or a client certificate
                        found = cached(context.invocation_metadata() if metadata is None else metadata)
                        request = authorized(found or await slow(context), request)  # type: ignore[misc]
                    if request.__class__ is Refused:
                        raise request.error
                    response = await behavior(request, context)
                except BaseException as exc:
                    try:
                        if not isinstance(exc, Exception) or isinstance(exc, grpc.aio.AbortError):
                            raise
                        structlog.contextvars.clear_contextvars()
                        structlog.contextvars.bind_contextvars(method=name)
                        await _translate(exc, context)
                    finally:
                        counts.done(_failed(context, exc), clock() - started)
                # Success without a call to `_code`: our servicers set no status but by raising.
                counts.ok(clock() - started)
                return response

            return quiet_behavior

        async def unary_behavior(
            request: Any, context: grpc.aio.ServicerContext[Any, Any], metadata: Metadata | None = None
        ) -> Any:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(method=name)
            deadline.enter_rpc(context)
            counts.started += 1
            started = clock()
            try:
                if cached is not None:  # `slow` verifies a token not cached yet, or a client certificate
                    found = cached(context.invocation_metadata() if metadata is None else metadata)
                    request = authorized(found or await slow(context), request)  # type: ignore[misc]
                if request.__class__ is Refused:
                    raise request.error
                return await behavior(request, context)
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    raise
                await _translate(exc, context)
            finally:
                finish(started, context)

        return unary_behavior

    wrapped: grpc.RpcMethodHandler = wrap_server_method_handler(wrap, handler)
    return wrapped


_FIELDS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")  # a handler's behavior, one of


def _binder(handler: grpc.RpcMethodHandler) -> Callable[[Metadata], grpc.RpcMethodHandler]:
    """What makes, for one call, `handler` (made by `instrument`) with the call's metadata bound to its
    behavior: the same handler tuple, its behavior a `functools.partial` passing `metadata=`."""
    fields = tuple(handler)
    at = next(i for i, name in enumerate(handler._fields) if name in _FIELDS and fields[i] is not None)
    before, behavior, after = fields[:at], fields[at], fields[at + 1 :]
    kind, new = type(handler), tuple.__new__

    def bind(metadata: Metadata) -> grpc.RpcMethodHandler:
        bound: grpc.RpcMethodHandler = new(kind, (*before, partial(behavior, metadata=metadata), *after))
        return bound

    return bind


class Dispatch(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Our services' methods behind one generic handler: grpc.aio looks a call's method up with the
    call's invocation metadata (`handler_call_details`), which the handler returned for that one call
    hands to `instrument`'s behavior, so the credential check reads the tuple grpc built for the lookup
    instead of building another (`context.invocation_metadata()` makes a new one on every call).

    The binding is per call by construction: a new handler, returned to the lookup of that call alone,
    holding that call's metadata; nothing is stored here or in the task. grpc.aio serves registered
    methods without asking a generic handler, so ours are not registered (which also keeps their
    request futures out of the server's accept loop); a method not here answers None, and grpc then
    asks the next generic handler (health, reflection) or answers UNIMPLEMENTED.
    """

    def __init__(self) -> None:
        self._methods: dict[str, Callable[[Metadata], grpc.RpcMethodHandler]] = {}

    def add(self, method: str, handler: grpc.RpcMethodHandler) -> None:
        """Serve `method` (`/package.Service/Name`) by `handler`, made by `instrument`."""
        self._methods[method] = _binder(handler)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        bind = self._methods.get(handler_call_details.method)
        if bind is None:
            return None
        return bind(handler_call_details.invocation_metadata)


class Registrar:
    """Stands in for the server when a generated `add_*Servicer_to_server` registers our services.

    The generated code hands the same method handlers twice: as a generic handler and as registered
    methods. Each handler is instrumented once here and served by the server's one `Dispatch` (a
    generic handler, added to the server here), not as registered methods: see `Dispatch`. Health and
    reflection are registered on the server directly: they log nothing.
    """

    def __init__(self, server: grpc.aio.Server, lines: bool = True, guard: Guard | None = None) -> None:
        self.server = server
        self.lines = lines  # see `instrument`
        self.guard = guard
        self.services: list[str] = []
        self.dispatch = Dispatch()
        server.add_generic_rpc_handlers((self.dispatch,))

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: `add_registered_method_handlers`, called next with the same handlers, has them."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        for name, h in handlers.items():
            method = f"/{service}/{name}"
            self.dispatch.add(method, instrument(method, h, self.lines, guard=self.guard))
        self.services.append(service)
