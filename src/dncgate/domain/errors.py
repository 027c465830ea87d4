"""The one grpc-free error hierarchy; api/ maps each class to a status code.

DncgateError
├── InvalidArgument      a request field is missing or malformed (names the field)
├── NotFound             the thing asked for does not exist
├── FailedPrecondition   the request is valid but not in this state
├── Conflict             a request_id was reused for a different request
└── Unavailable          a store did not answer in time; nothing was half-done
"""

from __future__ import annotations


class DncgateError(Exception):
    """Base of every error dncgate reports to a caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DncgateError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.description = message


class NotFound(DncgateError):
    pass


class FailedPrecondition(DncgateError):
    pass


class Conflict(DncgateError):
    pass


class Unavailable(DncgateError):
    pass
