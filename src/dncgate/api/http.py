"""The HTTP/JSON face (DNCGATE_HTTP_LISTEN): the `google.api.http` routes of our services, answered in
this process by the very handlers the gRPC server runs, for dialers that speak no gRPC.

Routes come from the methods' `google.api.http` options (protos/dncgate/v1/gateway.proto), read from
the service descriptors when the face is built: no second table of paths. `GET /healthz` is the face's
own and says what grpc.health.v1 says of CallGate (drain included), by asking the same HealthServicer.

Each transcoded request runs the handler `api.interceptors.instrument` made of the servicer's method,
exactly as a gRPC request does: the bearer credential (`api.access.Guard`), the table of input limits
(`api.limits`, fed the JSON request re-encoded, so the same refusals name the same fields), one `rpc`
log line, the same `dncgate_rpc_*` counts, and DncgateError mapped by `api.errors.to_status`. Its
`google.rpc.Status` is sent as JSON with the HTTP status of the transcoding conventions (`HTTP_STATUS`).
Bodies go through `google.protobuf.json_format` (proto3 JSON mapping, unknown fields refused).

The server is an `asyncio.Protocol` on the serving event loop with the `httptools` parser (llhttp, the
one uvicorn uses), not an ASGI server: no ASGI scope dicts, receive/send coroutines or a task per
request, which is what the goal of an HTTP Check within 1.5x a gRPC one leaves room for. HTTP/1.1 with
keep-alive and pipelining (answered in order); no HTTP/2.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import grpc
import httptools
import structlog
from google.api import annotations_pb2
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health, health_pb2

from dncgate.api import errors, interceptors
from dncgate.api.access import Guard
from dncgate.domain.errors import DncgateError, InvalidArgument, ResourceExhausted

log = structlog.get_logger("dncgate.http")

# The HTTP status of each google.rpc code (google/rpc/code.proto's table, as transcoding gives it).
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    429: "Too Many Requests",
    499: "Client Closed Request",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]+)"')
_BAD_VALUE = re.compile(r"Failed to parse (\w+) field")
_PENDING_MAX = 32  # pipelined requests held per connection before it is no longer read


@dataclass(frozen=True, slots=True)
class Route:
    """One `google.api.http` rule: `verb` on `path` runs `method` (`/package.Service/Method`)."""

    verb: str
    path: str
    method: str
    request: type[Message]
    pattern: re.Pattern[str] | None  # None: a path with no variable, matched as is
    variables: tuple[str, ...]


def routes(services: list[ServiceDescriptor]) -> list[Route]:
    """The routes the methods of `services` declare in their `google.api.http` options."""
    found: list[Route] = []
    for service in services:
        for m in service.methods:
            options = m.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            verb = rule.WhichOneof("pattern")
            if verb is None or verb == "custom":
                raise ValueError(f"{m.full_name}: only get/put/post/delete/patch rules are served")
            path = getattr(rule, verb)
            if rule.body != "*" and verb not in ("get", "delete"):
                raise ValueError(f'{m.full_name}: only body "*" is served, got {rule.body!r}')
            variables = tuple(_VARIABLE.findall(path))
            pattern = None
            if variables:
                parts = _VARIABLE.split(path)
                regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+?)" for i, p in enumerate(parts))
                pattern = re.compile(regex + r"\Z")
            found.append(Route(verb.upper(), path, f"/{service.full_name}/{m.name}", _message(m), pattern, variables))
    return found


def _message(m: MethodDescriptor) -> type[Message]:
    return message_factory.GetMessageClass(m.input_type)


class _Context:
    """What `instrument`'s handler and the HealthServicer ask of a grpc.aio.ServicerContext."""

    __slots__ = ("_metadata", "_pem", "status")

    def __init__(self, authorization: str | None, pem: bytes | None) -> None:
        self._metadata = (("authorization", authorization),) if authorization is not None else ()
        self._pem = pem
        self.status: grpc.Status | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_pem_cert": [self._pem]} if self._pem is not None else {}

    def time_remaining(self) -> float | None:
        return None  # no deadline travels over HTTP/1.1: the client's own timeout ends it

    def code(self) -> grpc.StatusCode | None:
        return self.status.code if self.status is not None else None

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.status = status
        raise grpc.aio.AbortError()

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self.status = _Status(code, details, ())
        raise grpc.aio.AbortError()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Unary methods only are transcoded: nothing outlives the call."""


@dataclass(frozen=True, slots=True)
class _Status:
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


def status_json(status: Any) -> tuple[int, bytes]:
    """A grpc.Status as (HTTP status, `google.rpc.Status` JSON), details kept with their @type."""
    for key, value in status.trailing_metadata or ():
        if key == "grpc-status-details-bin":
            rpc = status_pb2.Status.FromString(value)
            break
    else:
        rpc = status_pb2.Status(code=status.code.value[0], message=status.details or "")
    return HTTP_STATUS.get(rpc.code, 500), json_format.MessageToJson(rpc, indent=None).encode()


def _error(exc: DncgateError) -> tuple[int, bytes]:
    return status_json(errors.to_status(exc))


def _plain(code: int, http: int, message: str) -> tuple[int, bytes]:
    return http, json_format.MessageToJson(status_pb2.Status(code=code, message=message), indent=None).encode()


def _parse_error(exc: json_format.ParseError) -> InvalidArgument:
    text = str(exc)
    if text.startswith("Failed to load JSON"):
        return InvalidArgument("body", "is not valid JSON: " + text.split(":", 1)[1].strip())
    found = _UNKNOWN_FIELD.search(text) or _BAD_VALUE.search(text)
    return InvalidArgument(found.group(1) if found else "body", errors.bounded(text))


class Face:
    """The routes and what answers them; one per serving process, shared by its connections."""

    def __init__(
        self,
        found: list[Route],
        handlers: dict[str, grpc.RpcMethodHandler],
        health_servicer: health.HealthServicer,
        ready_service: str,
        max_body: int,
        max_in_flight: int,
    ) -> None:
        self.exact = {(r.verb, r.path): r for r in found if r.pattern is None}
        self.templated = [r for r in found if r.pattern is not None]
        self.paths = {r.path for r in found if r.pattern is None}
        self.handlers = {r.method: handlers[r.method] for r in found}
        self.health = health_servicer
        self.ready_service = ready_service
        self.max_body = max_body
        self.max_in_flight = max_in_flight  # 0: no limit
        self.in_flight = 0

    def route(self, verb: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route of `verb path`, its path variables, and whether the path is known (for 405 against 404)."""
        r = self.exact.get((verb, path))
        if r is not None:
            return r, {}, True
        known = path in self.paths
        for t in self.templated:
            m = t.pattern.match(path)  # type: ignore[union-attr]
            if m is not None:
                if t.verb == verb:
                    return t, {k: unquote(v) for k, v in m.groupdict().items()}, True
                known = True
        return None, {}, known

    async def answer(
        self,
        verb: str,
        path: str,
        body: bytes,
        authorization: str | None,
        pem: bytes | None,
        too_large: bool = False,
    ) -> tuple[int, bytes]:
        """(HTTP status, JSON body) of one request."""
        if path == "/healthz":
            if verb != "GET":
                return _plain(code_pb2.UNIMPLEMENTED, 405, "GET /healthz only")
            return await self._healthz()
        r, variables, known = self.route(verb, path)
        if r is None:
            if known:
                return _plain(code_pb2.UNIMPLEMENTED, 405, f"{verb} is not allowed on {path}")
            return _plain(code_pb2.NOT_FOUND, 404, f"no route {verb} {path}")
        if too_large or len(body) > self.max_body:  # the gRPC port's limit on a message, as a body
            return 413, _error(InvalidArgument("body", f"is larger than {self.max_body} bytes"))[1]
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            # Load shedding as the gRPC server does past DNCGATE_MAX_CONCURRENT_RPCS.
            return _error(ResourceExhausted("too many requests in progress; retry shortly", 0.1))
        handler = self.handlers[r.method]
        try:
            message = r.request()
            if body.strip():
                if body.lstrip()[:1] != b"{":  # json_format takes `[]` and `"x"` as if objects
                    return _error(InvalidArgument("body", "must be a JSON object"))
                json_format.Parse(body, message, ignore_unknown_fields=False)
            for name, value in variables.items():
                setattr(message, name, value)
        except json_format.ParseError as exc:
            return _error(_parse_error(exc))
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            return _error(InvalidArgument("body", errors.bounded(str(exc))))
        request = handler.request_deserializer(message.SerializeToString())  # the table of limits
        context = _Context(authorization, pem)
        self.in_flight += 1
        try:
            response = await handler.unary_unary(request, context)
        except grpc.aio.AbortError:
            return status_json(context.status)
        finally:
            self.in_flight -= 1
        return 200, json_format.MessageToJson(response, indent=None).encode()

    async def _healthz(self) -> tuple[int, bytes]:
        context = _Context(None, None)
        try:
            reply = await self.health.Check(health_pb2.HealthCheckRequest(service=self.ready_service), context)
        except grpc.aio.AbortError:
            return status_json(context.status)
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return (200 if serving else 503), b'{"status":"%s"}' % name.encode()


def _head(status: int, length: int, close: bool) -> bytes:
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\ncontent-type: application/json\r\n"
        f"content-length: {length}\r\n{'connection: close' if close else 'connection: keep-alive'}\r\n\r\n"
    ).encode()


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, answered one at a time in order."""

    def __init__(self, face: Face) -> None:
        self.face = face
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.pem: bytes | None = None
        # (verb, path, body, authorization, keep-alive, body past the limit)
        self.pending: deque[tuple[str, str, bytes, str | None, bool, bool]] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.paused = False
        self.closing = False
        self._url = b""
        self._body: list[bytes] = []
        self._size = 0
        self._authorization: str | None = None
        self._too_large = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            der = tls.getpeercert(binary_form=True)
            self.pem = ssl.DER_cert_to_PEM_cert(der).encode() if der else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply(*_plain(code_pb2.INVALID_ARGUMENT, 400, "protocol upgrades are not served"), close=True)
        except httptools.HttpParserError as exc:
            self._reply(*_plain(code_pb2.INVALID_ARGUMENT, 400, f"malformed HTTP request: {exc}"), close=True)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._body, self._size, self._authorization, self._too_large = b"", [], 0, None, False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self._authorization = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.face.max_body:
            self._too_large = True  # answered 413 without keeping the rest
            self._body = []
        elif not self._too_large:
            self._body.append(body)

    def on_message_complete(self) -> None:
        path = self._url.split(b"?", 1)[0].decode("latin-1")
        verb = self.parser.get_method().decode("latin-1")
        body = b"".join(self._body)
        keep_alive = self.parser.should_keep_alive()
        self.pending.append((verb, path, body, self._authorization, keep_alive, self._too_large))
        if len(self.pending) > _PENDING_MAX and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        try:
            while self.pending and not self.closing:
                verb, path, body, authorization, keep_alive, too_large = self.pending.popleft()
                try:
                    status, text = await self.face.answer(verb, path, body, authorization, self.pem, too_large)
                except Exception:
                    log.exception("http_unhandled_error", path=path[:100])
                    status, text = status_json(errors.internal())
                self._reply(status, text, close=not keep_alive)
                if self.paused and len(self.pending) <= _PENDING_MAX // 2 and self.transport is not None:
                    self.transport.resume_reading()
                    self.paused = False
        finally:
            self.worker = None

    def _reply(self, status: int, text: bytes, close: bool) -> None:
        if self.transport is None or self.closing:
            return
        self.transport.write(_head(status, len(text), close) + text)
        if close:
            self.closing = True
            self.transport.close()


class Collector:
    """Stands in for the server when a generated `add_*Servicer_to_server` registers a servicer, keeping
    each method's handler as `api.interceptors.instrument` makes it for the gRPC server."""

    def __init__(self, lines: bool, guard: Guard | None) -> None:
        self.lines = lines
        self.guard = guard
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: `add_registered_method_handlers`, called next with the same handlers, has them."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        for name, h in handlers.items():
            method = f"/{service}/{name}"
            self.handlers[method] = interceptors.instrument(method, h, self.lines, guard=self.guard)


async def start(
    face: Face, host: str, port: int, tls: ssl.SSLContext | None, reuse_port: bool
) -> tuple[asyncio.Server, int]:
    """Listen for `face` (TLS with `tls`); the server and its port (the one bound for port 0)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(face), host, port, ssl=tls, reuse_port=reuse_port or None, backlog=1024
    )
    bound = server.sockets[0].getsockname()[1]
    return server, int(bound)
