"""The console's calls to dncgate's gRPC API, each with the logged-in principal's own credential.

Nothing here reads a store: what a user may see or change is decided by the gRPC access layer, exactly
as for any other client. A refusal comes back as `ApiError` with the HTTP status the page answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

R = TypeVar("R")

_TIMEOUT_S = 15.0
# gRPC's code -> the page's HTTP status. UNAUTHENTICATED: the credential died (revoked, expired).
_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
}


class ApiError(Exception):
    """An RPC the API refused: `status` is the page's HTTP status, `detail` the API's own words."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def call(method: Callable[..., Awaitable[R]], request: Any, token: str) -> R:
    """`method(request)` as the holder of `token`; ApiError for any refusal or outage."""
    try:
        return await method(request, metadata=(("authorization", f"Bearer {token}"),), timeout=_TIMEOUT_S)
    except grpc.aio.AioRpcError as exc:
        raise ApiError(_HTTP.get(exc.code(), 503), exc.details() or exc.code().name) from None


def channel(target: str, root_certificates: bytes | None) -> grpc.aio.Channel:
    """The console's one channel to the API: plaintext, or TLS verified against `root_certificates`."""
    if root_certificates is None:
        return grpc.aio.insecure_channel(target)
    return grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root_certificates))
