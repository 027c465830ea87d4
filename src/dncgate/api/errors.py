"""The one place DncgateError becomes a gRPC status, with google.rpc details."""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from dncgate.domain import errors

# Messages quote input at times (a request_id, a reference): past this, a status or a log line keeps a prefix.
MAX_MESSAGE = 200


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text`, or its first `limit` characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"


_CODES: list[tuple[type[errors.DncgateError], int]] = [
    (errors.InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (errors.NotFound, code_pb2.NOT_FOUND),
    (errors.FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (errors.Conflict, code_pb2.ALREADY_EXISTS),
    (errors.Unavailable, code_pb2.UNAVAILABLE),
    (errors.Unauthenticated, code_pb2.UNAUTHENTICATED),
    (errors.PermissionDenied, code_pb2.PERMISSION_DENIED),
    (errors.ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
]
DOMAIN = "dncgate"  # google.rpc.ErrorInfo.domain


def to_status(exc: errors.DncgateError) -> grpc.Status:
    code = next((c for cls, c in _CODES if isinstance(exc, cls)), code_pb2.INTERNAL)
    status = status_pb2.Status(code=code, message=bounded(exc.message))
    if isinstance(exc, errors.InvalidArgument):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=bounded(exc.field), description=bounded(exc.description)
        )
        detail = error_details_pb2.BadRequest(field_violations=[violation])
        status.details.add().Pack(detail)
    elif isinstance(exc, errors.PermissionDenied):
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN, metadata=exc.metadata))
    elif isinstance(exc, errors.ResourceExhausted):
        delay = Duration()
        delay.FromNanoseconds(max(int(exc.retry_after_s * 1e9), 0))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    result: grpc.Status = rpc_status.to_status(status)
    return result


def internal() -> grpc.Status:
    result: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; it has been logged")
    )
    return result
