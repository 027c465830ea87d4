"""The one grpc-free error hierarchy; api/ maps each class to a status code.

DncgateError
├── InvalidArgument      a request field is missing or malformed (names the field)
├── NotFound             the thing asked for does not exist
├── FailedPrecondition   the request is valid but not in this state
├── Conflict             a request_id was reused for a different request
├── Unavailable          a store did not answer in time; nothing was half-done
│   └── StoreUnavailable raised by the store adapters in place of their drivers' errors (store/errors.py)
├── Unauthenticated      no credential, or one that is malformed, unknown, revoked or expired
├── PermissionDenied     a known principal without the role or the org the request needs
├── ResourceExhausted    a principal's quota is spent; says when to retry
└── PepperMismatch       the stores were keyed with another DNCGATE_PEPPER: the process must not serve
                         (never reaches a caller: `serve` refuses to start, the watcher stays fail closed)
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
    """The thing asked for does not exist."""


class FailedPrecondition(DncgateError):
    """The request is valid, but not in the state the thing is in."""


class Conflict(DncgateError):
    """A request_id was reused for a different request."""


class Unavailable(DncgateError):
    """A store did not answer in time; nothing was half-done."""


class StoreUnavailable(Unavailable):
    """Redis or PostgreSQL failed or did not answer; `driver` names the driver's exception (for logs).

    The one error a use case catches for a store outage: the adapters raise it, no service imports
    a driver.
    """

    def __init__(self, message: str, driver: str = "") -> None:
        super().__init__(message)
        self.driver = driver or type(self).__name__


class Unauthenticated(DncgateError):
    """No credential, or one that is malformed, unknown, revoked or expired; `reason` says which (for
    the log line and `dncgate_auth_failures_total`)."""

    def __init__(self, message: str, reason: str = "unknown") -> None:
        super().__init__(message)
        self.reason = reason


class PermissionDenied(DncgateError):
    """`reason` is MISSING_ROLE or ORG_NOT_ALLOWED; `metadata` names what was needed."""

    def __init__(self, message: str, reason: str, metadata: dict[str, str]) -> None:
        super().__init__(message)
        self.reason = reason
        self.metadata = metadata


class ResourceExhausted(DncgateError):
    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PepperMismatch(DncgateError):
    def __init__(self, journal: str, ours: str) -> None:
        super().__init__(
            f"DNCGATE_PEPPER is not the pepper this database's registry journal was written with "
            f"(pepper fingerprint {journal}, this process has {ours}): every number would read as never "
            "registered. Start with the original DNCGATE_PEPPER (the embedded default keeps a generated "
            "one in the data dir's `pepper` file, used when DNCGATE_PEPPER is unset)."
        )
        self.journal = journal
        self.ours = ours
