"""Who is calling, and may they: the credential of every RPC of our services, and the Access servicer.

`Guard.admit` runs in `api.interceptors.instrument` before the servicer (health and reflection are not
instrumented, so they stay open). A request names its caller by `authorization: Bearer dnc_<id>_<secret>`
metadata, or, with mTLS on and no token sent, by its client certificate's subject. No credential, or
one that is malformed, unknown, revoked or expired: UNAUTHENTICATED. A principal whose roles do not name
the method: PERMISSION_DENIED, ErrorInfo MISSING_ROLE. A dialer token scoped to orgs calling for
another org: PERMISSION_DENIED, ORG_NOT_ALLOWED. The principal is then `current()` for the servicer,
which records it beside what it changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any

import structlog

from dncgate import metrics, subjects
from dncgate.api.convert import opt_ts, ts
from dncgate.domain import access
from dncgate.domain.access import Kind, Principal
from dncgate.domain.errors import InvalidArgument, PermissionDenied, Unauthenticated
from dncgate.service.access import AccessService, Authenticator
from dncgate.service.access_ports import TokenRow
from dncgate.v1 import access_pb2, access_pb2_grpc

log = structlog.get_logger("dncgate.access")

Ctx = Any  # grpc.aio.ServicerContext; grpcio ships no type information
Metadata = tuple[tuple[str, Any], ...]  # an RPC's invocation metadata as grpc hands it over (-bin values: bytes)

_PRINCIPAL: ContextVar[Principal] = ContextVar("dncgate_principal")
_BEARER = "bearer "
_MISSING = "no credential: send the metadata `authorization: Bearer dnc_<id>_<secret>`"


def current() -> Principal:
    """The principal of the RPC being served (set by `Guard.admit` before the servicer runs)."""
    return _PRINCIPAL.get()


def _denied_org(method: str, org_id: str) -> PermissionDenied:
    return PermissionDenied(
        f"this credential may not act for org {org_id!r}",
        access.ORG_NOT_ALLOWED,
        {"org_id": org_id, "method": method.rsplit("/", 1)[-1]},
    )


def _org_of(method: str) -> Callable[[Any, Principal], None]:
    def check(request: Any, p: Principal) -> None:
        if request.org_id not in p.orgs:
            raise _denied_org(method, request.org_id)

    return check


def _orgs_of_batch(method: str) -> Callable[[Any, Principal], None]:
    def check(request: Any, p: Principal) -> None:
        for org_id in {r.org_id for r in request.requests}:
            if org_id not in p.orgs:
                raise _denied_org(method, org_id)

    return check


def scope_of(method: str) -> Callable[[Any, Principal], None] | None:
    """The org check of a unary method whose request names its orgs (None: no such check here)."""
    name = method.rsplit("/", 1)[-1]
    if method not in access.ORG_SCOPED:
        return None
    if name == "Check":
        return _org_of(method)
    if name == "CheckBatch":
        return _orgs_of_batch(method)
    return None  # CheckStream: each message (`scoped_stream`); ReportCallOutcome: the call's org (service)


async def scoped_stream(method: str, requests: AsyncIterator[Any], p: Principal) -> AsyncIterator[Any]:
    """A stream's requests, each held to the principal's orgs as it is read."""
    async for request in requests:
        if request.org_id not in p.orgs:
            raise _denied_org(method, request.org_id)
        yield request


class Guard:
    """The credential check of every RPC. `certificates`: mTLS is on, a client certificate names its
    caller when no bearer token is sent."""

    def __init__(self, authenticator: Authenticator, certificates: bool = False) -> None:
        self.authenticator = authenticator
        self.certificates = certificates
        self._cached = authenticator.cached_header
        self._subjects: dict[bytes, str] = {}  # a client certificate's PEM -> its subject

    def cached(self, metadata: Metadata) -> Principal | None:
        """The caller named by an RPC's `metadata` from the cache alone (a verified bearer token), None
        when `principal` must look. The gRPC server hands over the metadata grpc built for the method
        lookup (`api.interceptors.Dispatch`), the HTTP face and tests the context's."""
        for key, value in metadata or ():
            if key == "authorization":
                return self._cached(value)  # the value as sent: `Bearer <token>`
        return None

    def fast(self, context: Ctx) -> Principal | None:
        """`cached` of the context's own metadata (grpc.aio builds a new tuple on each call of it)."""
        return self.cached(context.invocation_metadata())

    async def principal(self, context: Ctx) -> Principal:
        """The caller of this RPC (bearer token first, then client certificate), or Unauthenticated."""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                if value[:7].lower() != _BEARER:
                    raise self._refused("malformed", "malformed authorization metadata: expected `Bearer <token>`")
                token = value[7:].strip()
                try:
                    return await self.authenticator.token(token)  # the cache first, then verified
                except Unauthenticated as exc:
                    parsed = access.parse_token(token)
                    raise self._refused(exc.reason, exc.message, parsed[0] if parsed else "") from None
        if self.certificates:
            pems = context.auth_context().get("x509_pem_cert")
            if pems:
                pem = pems[0]
                subject = self._subjects.get(pem)
                if subject is None:
                    subject = subjects.of_certificate(pem)
                    if len(self._subjects) > 10_000:
                        self._subjects.clear()
                    self._subjects[pem] = subject
                try:
                    return await self.authenticator.certificate(subject)
                except Unauthenticated as exc:
                    raise self._refused(exc.reason, exc.message) from None
        raise self._refused("missing", _MISSING)

    def _refused(self, reason: str, message: str, token_id: str = "") -> Unauthenticated:
        metrics.AUTH_FAILURES.labels(reason).inc()
        log.info("auth_failed", reason=reason, token_id=token_id)  # the id only, never the secret
        return Unauthenticated(message)

    def missing_role(self, method: str, p: Principal) -> PermissionDenied:
        needed = access.roles_for(method)
        log.info("auth_denied", reason=access.MISSING_ROLE, token_id=p.id, method=method)
        return PermissionDenied(
            f"{p.label} may not call {method.rsplit('/', 1)[-1]}: it needs one of the roles "
            f"{', '.join(needed) or '(none: no role may)'}",
            access.MISSING_ROLE,
            {"method": method, "roles": ",".join(needed)},
        )


def admit(principal: Principal) -> None:
    """Make `principal` the caller of the RPC being served (`current()`)."""
    _PRINCIPAL.set(principal)


_KINDS = {Kind.TOKEN: access_pb2.TOKEN_KIND_TOKEN, Kind.CERTIFICATE: access_pb2.TOKEN_KIND_CERTIFICATE}


def token_message(row: TokenRow) -> access_pb2.Token:
    return access_pb2.Token(
        id=row.id,
        kind=_KINDS[row.kind],
        name=row.name,
        subject=row.subject,
        roles=list(row.roles),
        orgs=list(row.orgs),
        created_at=ts(row.created_at),
        expires_at=ts(row.expires_at),
        revoked_at=ts(row.revoked_at),
        created_by=row.created_by,
        revoked_by=row.revoked_by or "",
    )


class AccessServicer(access_pb2_grpc.AccessServicer):
    def __init__(self, service: AccessService) -> None:
        self.service = service

    async def CreateToken(self, request: access_pb2.CreateTokenRequest, context: Ctx) -> access_pb2.CreateTokenResponse:
        expires = opt_ts(request, "expires_at")  # an out-of-range time is INVALID_ARGUMENT naming it
        if not request.name:
            raise InvalidArgument("name", "is required")
        new = await self.service.create(
            current().label,
            name=request.name,
            roles=list(request.roles),
            orgs=list(request.orgs),
            expires_at=expires,
            certificate_subject=request.certificate_subject,
        )
        structlog.contextvars.bind_contextvars(token_id=new.row.id)
        return access_pb2.CreateTokenResponse(token=token_message(new.row), secret_token=new.token)

    async def ListTokens(self, request: access_pb2.ListTokensRequest, context: Ctx) -> access_pb2.ListTokensResponse:
        rows = await self.service.list(request.include_revoked)
        return access_pb2.ListTokensResponse(tokens=[token_message(r) for r in rows])

    async def RevokeToken(self, request: access_pb2.RevokeTokenRequest, context: Ctx) -> access_pb2.Token:
        structlog.contextvars.bind_contextvars(token_id=request.id)
        return token_message(await self.service.revoke(current().label, request.id))
