"""Credentials for the tests' clients: a bearer token on every call of an aio channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc


def admin_token(data_dir: Path) -> str:
    """The admin token `serve` wrote to its data dir."""
    return (data_dir / "admin.token").read_text().strip()


def bearer(token: str) -> tuple[tuple[str, str]]:
    """The call metadata that names `token`'s principal."""
    return (("authorization", f"Bearer {token}"),)


class _AioBearer:
    def __init__(self, token: str) -> None:
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self.header)
        return details._replace(metadata=metadata)


# grpc.aio files an interceptor under the first of the four kinds it is an instance of: one class each.
class _AioUnaryUnary(_AioBearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioUnaryStream(_AioBearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioStreamUnary(_AioBearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


class _AioStreamStream(_AioBearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


def aio_channel(target: str, token: str | None, credentials: Any = None, **kw: Any) -> grpc.aio.Channel:
    """An aio channel to `target` whose every call carries `token` (None: anonymous); over TLS with
    `credentials` (`grpc.ssl_channel_credentials(...)`), else plaintext."""
    kinds = (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)
    interceptors = [kind(token) for kind in kinds] if token else None
    if credentials is not None:
        return grpc.aio.secure_channel(target, credentials, interceptors=interceptors, **kw)
    return grpc.aio.insecure_channel(target, interceptors=interceptors, **kw)
