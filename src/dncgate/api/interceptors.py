"""One aio interceptor for every RPC: a log line per request, and errors mapped to statuses."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import psycopg
import redis.exceptions
import structlog
from grpc.experimental import wrap_server_method_handler

from dncgate.api import errors
from dncgate.domain.errors import DncgateError

log = structlog.get_logger("dncgate.rpc")

_STORE_ERRORS = (psycopg.OperationalError, psycopg.errors.AdminShutdown, redis.exceptions.RedisError, OSError)
# Noise we do not log a line for: health probes and reflection.
_QUIET = ("/grpc.health.v1.", "/grpc.reflection.")


async def _translate(exc: BaseException, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    if isinstance(exc, DncgateError):
        structlog.contextvars.bind_contextvars(error=type(exc).__name__, detail=exc.message)
        await context.abort_with_status(errors.to_status(exc))
    if isinstance(exc, _STORE_ERRORS):
        structlog.contextvars.bind_contextvars(error=type(exc).__name__)
        await context.abort_with_status(errors.unavailable("a store did not answer; nothing was changed halfway"))
    log.exception("unhandled_error")
    await context.abort_with_status(errors.internal())


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Binds the method and request id, logs one line per request, maps DncgateError to a status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(_QUIET):
            return handler

        def wrap(behavior: Callable[..., Any]) -> Callable[..., Any]:
            streaming_response = handler.response_streaming

            async def begin(context: grpc.aio.ServicerContext[Any, Any]) -> float:
                structlog.contextvars.clear_contextvars()
                structlog.contextvars.bind_contextvars(method=method.rsplit("/", 1)[-1])
                return time.perf_counter()

            def finish(started: float, context: grpc.aio.ServicerContext[Any, Any]) -> None:
                code = context.code() if hasattr(context, "code") else None
                status = code.name if isinstance(code, grpc.StatusCode) else "OK"
                log.info("rpc", status=status, ms=round((time.perf_counter() - started) * 1000, 3))

            if streaming_response:

                async def stream_behavior(
                    request: Any, context: grpc.aio.ServicerContext[Any, Any]
                ) -> AsyncIterator[Any]:
                    started = await begin(context)
                    try:
                        async for item in behavior(request, context):
                            yield item
                    except Exception as exc:
                        if isinstance(exc, grpc.aio.AbortError):
                            raise
                        await _translate(exc, context)
                    finally:
                        finish(started, context)

                return stream_behavior

            async def unary_behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started = await begin(context)
                try:
                    return await behavior(request, context)
                except Exception as exc:
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    await _translate(exc, context)
                finally:
                    finish(started, context)

            return unary_behavior

        return wrap_server_method_handler(wrap, handler)
