"""Every RPC, sent bad input in each of its string fields: INVALID_ARGUMENT naming the field, no traceback.

The cases are built from the request descriptors: every string field of every method's request (and of
the messages it nests, one level deep: a batch's requests, an import's rows), each refused by the
server's table of limits before any store is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import structlog
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from structlog.testing import LogCapture

from dncgate.api import limits
from dncgate.api.interceptors import Registrar
from dncgate.v1 import compensation_pb2, gateway_pb2, registry_pb2, registry_pb2_grpc
from tests.conftest import redis_client
from tests.e2e.test_import_e2e import BLOCK, cli, decision, number
from tests.integration.support import stream_length
from tests.wait import until

pytestmark = pytest.mark.e2e

# A string no request carries, encoded in four bytes: swapped for four bytes that are not UTF-8.
_MARK = "\u00ff\u00fe"
_NOT_UTF8 = b"\xff\xfe\xfd\xfc"
BAD = {
    "NUL": lambda kind: "ab\x00cd",
    "control character": lambda kind: "ab\x1b[2Jcd",
    "oversize": lambda kind: "9" * (kind.max_chars + 1),
    "invalid UTF-8": lambda kind: _MARK,
}


def _walked(name: str) -> bool:
    """Our messages, and the one well-known type of ours with strings (SetOrgPolicyRequest.update_mask)."""
    return name.startswith("dncgate.v1.") or name == "google.protobuf.FieldMask"


def _paths(desc: Descriptor, depth: int = 0) -> Iterator[list[FieldDescriptor]]:
    """Each string field of `desc`, as the fields leading to it (nested dncgate.v1 messages, one level)."""
    for f in desc.fields:
        if f.type == FieldDescriptor.TYPE_STRING:
            yield [f]
        elif f.message_type is not None and _walked(f.message_type.full_name) and depth < 1:
            for rest in _paths(f.message_type, depth + 1):
                yield [f, *rest]


def _request(desc: Descriptor, path: list[FieldDescriptor], value: str) -> tuple[bytes, str]:
    """The request's bytes with `value` at `path` (the second item of each repeated field), and the
    field path a BadRequest names for it."""
    msg = message_factory.GetMessageClass(desc)()
    node, names = msg, []
    for f in path[:-1]:
        if f.is_repeated:
            getattr(node, f.name).add()  # a first item, empty: the refusal must name the second
            node, name = getattr(node, f.name).add(), f"{f.name}[1]"
        else:
            node, name = getattr(node, f.name), f.name
        names.append(name)
    last = path[-1]
    if last.is_repeated:
        getattr(node, last.name).extend(["ok", value])
        names.append(f"{last.name}[1]")
    else:
        setattr(node, last.name, value)
        names.append(last.name)
    raw = msg.SerializeToString()
    if value == _MARK:
        assert raw.count(_MARK.encode()) == 1
        raw = raw.replace(_MARK.encode(), _NOT_UTF8)
    return raw, ".".join(names)


def cases() -> list[tuple[MethodDescriptor, list[FieldDescriptor]]]:
    return [(m, p) for s in limits.SERVICES for m in s.methods for p in _paths(m.input_type)]


async def _send(channel: grpc.aio.Channel, method: MethodDescriptor, raw: bytes) -> grpc.aio.AioRpcError | None:
    """Send one request (a stream of one message to a streaming method) as raw bytes; the error, if any."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    try:
        if method.client_streaming and method.server_streaming:
            async for _ in channel.stream_stream(path)(iter([raw])):
                pass
        elif method.client_streaming:
            await channel.stream_unary(path)(iter([raw]))
        else:
            await channel.unary_unary(path)(raw)
    except grpc.aio.AioRpcError as exc:
        return exc
    return None


async def test_bad_org_list_writes_and_reads_are_refused_naming_the_field(server: Any) -> None:
    """No org, no number or an unparsable one, NUL in the org, an unknown opt-out scope: INVALID_ARGUMENT
    naming the field, nothing stored."""
    before = await _stored(server)
    service = registry_pb2.DESCRIPTOR.services_by_name["Registry"]
    sent = [
        ("AddToOrgList", registry_pb2.AddToOrgListRequest(number="+8613812348000"), "org_id"),
        ("AddToOrgList", registry_pb2.AddToOrgListRequest(org_id="acme"), "number"),
        ("AddToOrgList", registry_pb2.AddToOrgListRequest(org_id="acme", number="12"), "number"),
        ("AddToOrgList", registry_pb2.AddToOrgListRequest(org_id="a\x00b", number="+8613812348000"), "org_id"),
        ("RemoveFromOrgList", registry_pb2.RemoveFromOrgListRequest(number="+8613812348000"), "org_id"),
        ("RemoveFromOrgList", registry_pb2.RemoveFromOrgListRequest(org_id="acme", number="12"), "number"),
        ("GetOrgListHistory", registry_pb2.GetOrgListHistoryRequest(number="+8613812348000"), "org_id"),
        ("GetOrgListHistory", registry_pb2.GetOrgListHistoryRequest(org_id="acme"), "number"),
    ]
    for method, request, field in sent:
        got = _violations(await _send(server.channel, service.methods_by_name[method], request.SerializeToString()))
        assert got == ("INVALID_ARGUMENT", [field]), (method, field)
    gate = gateway_pb2.DESCRIPTOR.services_by_name["CallGate"]
    unknown = gateway_pb2.ReportCallOutcomeRequest(call_id="0" * 32, consumer_opted_out=True, opt_out_scope=42)  # type: ignore[arg-type]
    got = _violations(
        await _send(server.channel, gate.methods_by_name["ReportCallOutcome"], unknown.SerializeToString())
    )
    assert got == ("INVALID_ARGUMENT", ["opt_out_scope"])
    assert await _stored(server) == before


def _violations(exc: grpc.aio.AioRpcError | None) -> tuple[str, list[str]]:
    if exc is None:
        return "OK", []
    status = rpc_status.from_call(exc)
    bad = error_details_pb2.BadRequest()
    fields = (
        [v.field for v in bad.field_violations] if status and status.details and status.details[0].Unpack(bad) else []
    )
    return exc.code().name, fields


async def _stored(server: Any) -> int:
    """Rows in every table of ours, plus call events in the stream."""
    async with await psycopg.AsyncConnection.connect(server.settings.database_url) as conn:
        tables = await (
            await conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ).fetchall()
        total = 0
        for (table,) in tables:
            row = await (await conn.execute(f'SELECT count(*) FROM "{table}"'.encode())).fetchone()
            total += row[0] if row else 0
    client = redis_client(server.settings.redis_url or "", server.settings.redis_cluster)
    try:
        total += await stream_length(client)
    finally:
        await client.aclose()
    return total


def test_every_rpc_has_string_fields_to_try() -> None:
    """The cases reach all 42 methods of the four services but ListTokens and GetReceiptKey (no string to
    send), and every string field of the table."""
    methods = {m.full_name for s in limits.SERVICES for m in s.methods}
    no_strings = {"dncgate.v1.Access.ListTokens", "dncgate.v1.CallGate.GetReceiptKey"}
    assert methods - {m.full_name for m, _ in cases()} == no_strings and len(methods) == 42
    assert {limits.key(p[-1]) for _, p in cases()} == set(limits.FIELDS)


def _rpc_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["event"] == "rpc"]


@pytest.mark.parametrize("bad", list(BAD))
async def test_bad_input_in_any_string_field_is_invalid_argument_naming_it(
    server: Any, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each string field of each RPC, sent the bad input, is refused as INVALID_ARGUMENT with a
    BadRequest naming it; nothing is stored, no traceback logged, no log value longer than 200 chars."""
    before = await _stored(server)
    capture = LogCapture()
    old = structlog.get_config()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    wrong = []
    try:
        with caplog.at_level(logging.WARNING):
            for method, path in cases():
                raw, field = _request(method.input_type, path, BAD[bad](limits.FIELDS[limits.key(path[-1])]))
                got = _violations(await _send(server.channel, method, raw))
                if got != ("INVALID_ARGUMENT", [field]):
                    wrong.append((method.name, field, got))
            # A stream's `rpc` line is written as its handler ends, which may be after the client saw
            # the status: wait for every line before reading them.
            await until(lambda: len(_rpc_lines(capture.entries)) >= len(cases()), 10, "every RPC's log line")
    finally:
        structlog.configure(**old)
    assert wrong == []
    assert await _stored(server) == before
    entries = capture.entries
    # The server's own background lines (health, the registry watcher) may land in the window too; none
    # may be a warning, an error or a traceback.
    noisy = [e for e in entries if "exc_info" in e or "exception" in e or e.get("log_level") not in ("info", "debug")]
    assert noisy == []
    rpc = _rpc_lines(entries)
    assert {e["status"] for e in rpc} == {"INVALID_ARGUMENT"} and len(rpc) == len(cases())
    assert max(len(str(v)) for e in entries for v in e.values()) <= 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_import_message_of_more_than_5000_rows_is_refused_naming_rows(server: Any) -> None:
    """ImportRegistry takes at most 5,000 rows in a message; the CLI sends 2,000."""
    before = await _stored(server)  # what start-up wrote (the pepper's fingerprint)
    rows = [registry_pb2.ImportRegistryRequest(number=f"1380013{i:04d}", do_not_disturb=True) for i in range(5001)]
    raw = registry_pb2.ImportRegistryRequest(rows=rows).SerializeToString()
    method = registry_pb2.DESCRIPTOR.services_by_name["Registry"].methods_by_name["ImportRegistry"]
    assert _violations(await _send(server.channel, method, raw)) == ("INVALID_ARGUMENT", ["rows"])
    assert await _stored(server) == before


async def test_a_callee_longer_than_the_limit_is_refused_before_any_work_is_done(server: Any) -> None:
    """A 1 MB callee is INVALID_ARGUMENT naming callee_number, with no call id and no event anywhere."""
    before = await _stored(server)  # what start-up wrote (the pepper's fingerprint)
    method = gateway_pb2.DESCRIPTOR.services_by_name["CallGate"].methods_by_name["Check"]
    request = gateway_pb2.CheckRequest(
        caller_number="+862759001234", callee_number="1" * 1_000_000, org_id="wuhan-01", request_id="r-1"
    )
    exc = await _send(server.channel, method, request.SerializeToString())
    assert _violations(exc) == ("INVALID_ARGUMENT", ["callee_number"])
    assert exc is not None and len(exc.details() or "") < 200
    assert await _stored(server) == before


async def test_a_message_over_4_mib_is_refused_by_grpc_itself(server: Any) -> None:
    """Past max_receive_message_length (4 MiB), gRPC answers RESOURCE_EXHAUSTED before our code runs."""
    method = registry_pb2.DESCRIPTOR.services_by_name["Registry"].methods_by_name["GetOrgPolicy"]
    raw = registry_pb2.GetOrgPolicyRequest(org_id="x" * (4 * 1024 * 1024 + 1)).SerializeToString()
    exc = await _send(server.channel, method, raw)
    assert exc is not None and exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_the_cli_reports_a_number_past_the_limits_as_a_bad_line_and_imports_the_rest(
    server: Any, tmp_path: Path
) -> None:
    """A feed line whose number has a control character or is too long is reported by line number and
    not sent (the server would end the import at it); the lines around it are imported; exit status 3."""
    feed = tmp_path / "feed.csv"
    feed.write_text(f"{number(1)}\n1391234\x010002\n{'1' * 65}\n{number(3)}\n")
    done = await cli(server, "registry", "import", str(feed))
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == ["accepted", "2"] for line in lines), done.stdout
    assert any("2" in line.split()[:2] and "control characters" in line for line in lines), done.stdout
    assert any("3" in line.split()[:2] and "longer than 64" in line for line in lines), done.stdout
    assert await decision(server, number(1)) == BLOCK and await decision(server, number(3)) == BLOCK


NOT_FOUND = [
    ("Compensation", "GetComplaint", compensation_pb2.GetComplaintRequest(case_id="DNC-20990101-987654")),
    (
        "Compensation",
        "ConfirmResolution",
        compensation_pb2.ConfirmResolutionRequest(case_id="DNC-20990101-987654", satisfied=True),
    ),
    (
        "Compensation",
        "ReviewComplaint",
        compensation_pb2.ReviewComplaintRequest(
            case_id="DNC-20990101-987654",
            decision=compensation_pb2.COMPLAINT_STATUS_REJECTED,
            note="n",
        ),
    ),
    (
        "Compensation",
        "MarkPayoutPaid",
        compensation_pb2.MarkPayoutPaidRequest(payout_id="PO-987654abcdef", payment_reference="BANK-1"),
    ),
    (
        "Compensation",
        "EscalateComplaint",
        compensation_pb2.EscalateComplaintRequest(case_id="DNC-20990101-987654", reason="r"),
    ),
    (
        "Compensation",
        "RecordRevisit",
        compensation_pb2.RecordRevisitRequest(case_id="DNC-20990101-987654", recurred=False),
    ),
    ("CallGate", "ReportCallOutcome", gateway_pb2.ReportCallOutcomeRequest(call_id="9876" * 8, dialled=True)),
]


@pytest.mark.parametrize(("service", "name", "request_"), NOT_FOUND, ids=[n for _, n, _ in NOT_FOUND])
async def test_not_found_does_not_echo_the_id_it_was_given(server: Any, service: str, name: str, request_: Any) -> None:
    """An id that names nothing is NOT_FOUND, and the message does not repeat it."""
    module = gateway_pb2 if service == "CallGate" else compensation_pb2
    method = module.DESCRIPTOR.services_by_name[service].methods_by_name[name]
    exc = await _send(server.channel, method, request_.SerializeToString())
    assert exc is not None and exc.code() is grpc.StatusCode.NOT_FOUND
    assert "987654" not in (exc.details() or "") and "9876" * 2 not in (exc.details() or "")


class _Reader(registry_pb2_grpc.RegistryServicer):
    """Reads every message of an import and stores nothing; its unary methods are unimplemented."""

    async def ImportRegistry(self, request_iterator: Any, context: Any) -> registry_pb2.ImportRegistrySummary:
        async for _ in request_iterator:
            pass
        return registry_pb2.ImportRegistrySummary()


@pytest.mark.parametrize("lines", [True, False], ids=["info: a line per request", "warning: no line"])
async def test_requests_are_held_to_the_limits_whether_or_not_requests_are_logged(lines: bool) -> None:
    """With or without the per-request log line, a refused unary request never reaches the servicer (its
    method is unimplemented) and a refused message of a stream stops it: INVALID_ARGUMENT naming the field."""
    server = grpc.aio.server()
    registry_pb2_grpc.add_RegistryServicer_to_server(_Reader(), Registrar(server, lines))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    service = registry_pb2.DESCRIPTOR.services_by_name["Registry"]
    desc = registry_pb2.GetOrgPolicyRequest.DESCRIPTOR
    org, _ = _request(desc, [desc.fields_by_name["org_id"]], _MARK)
    rows = registry_pb2.ImportRegistryRequest(rows=[registry_pb2.ImportRegistryRequest(number="1\x00")])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert _violations(await _send(channel, service.methods_by_name["GetOrgPolicy"], org)) == (
                "INVALID_ARGUMENT",
                ["org_id"],
            )
            assert _violations(
                await _send(channel, service.methods_by_name["ImportRegistry"], rows.SerializeToString())
            ) == ("INVALID_ARGUMENT", ["rows[0].number"])
    finally:
        await server.stop(None)


async def test_out_of_range_numbers_and_enums_of_the_case_workflow_are_refused_naming_them(server: Any) -> None:
    """satisfaction or a revisit's rating outside 0-5, an unknown stage or due state, a report's unknown
    period or reversed range: INVALID_ARGUMENT naming the field, nothing stored."""
    before = await _stored(server)
    service = compensation_pb2.DESCRIPTOR.services_by_name["Compensation"]
    sent = [
        (
            "ConfirmResolution",
            compensation_pb2.ConfirmResolutionRequest(case_id="DNC-1", satisfied=True, satisfaction=6),
            "satisfaction",
        ),
        ("RecordRevisit", compensation_pb2.RecordRevisitRequest(case_id="DNC-1", rating=6), "rating"),
        ("RecordRevisit", compensation_pb2.RecordRevisitRequest(case_id="DNC-1", rating=-1), "rating"),
        ("ListComplaints", compensation_pb2.ListComplaintsRequest(stage=42), "stage"),
        ("ListComplaints", compensation_pb2.ListComplaintsRequest(due_state=42), "due_state"),
        ("ReportService", compensation_pb2.ReportServiceRequest(period="year"), "period"),
        (
            "ReportService",
            compensation_pb2.ReportServiceRequest(**{"from": Timestamp(seconds=2_000), "to": Timestamp(seconds=1_000)}),
            "from",
        ),
    ]
    for method, request, field in sent:
        got = _violations(await _send(server.channel, service.methods_by_name[method], request.SerializeToString()))
        assert got == ("INVALID_ARGUMENT", [field]), method
    assert await _stored(server) == before


async def test_bad_caller_line_registrations_and_listings_are_refused_naming_the_field(server: Any) -> None:
    """An unparsable line, no org, an interval that ends before it starts, a bad page: INVALID_ARGUMENT
    naming the field, nothing stored."""
    before = await _stored(server)
    service = registry_pb2.DESCRIPTOR.services_by_name["Registry"]
    start, end = Timestamp(seconds=2_000_000_000), Timestamp(seconds=1_900_000_000)
    sent = [
        (
            "RegisterCallerLine",
            registry_pb2.RegisterCallerLineRequest(caller_number="12", org_id="acme"),
            "caller_number",
        ),
        ("RegisterCallerLine", registry_pb2.RegisterCallerLineRequest(org_id="acme"), "caller_number"),
        ("RegisterCallerLine", registry_pb2.RegisterCallerLineRequest(caller_number="+862759001234"), "org_id"),
        (
            "RegisterCallerLine",
            registry_pb2.RegisterCallerLineRequest(
                caller_number="+862759001234", org_id="acme", valid_from=start, valid_to=end
            ),
            "valid_to",
        ),
        (
            "RegisterCallerLine",
            registry_pb2.RegisterCallerLineRequest(
                caller_number="+862759001234", org_id="acme", valid_from=start, valid_to=start
            ),
            "valid_to",
        ),
        ("ListCallerLines", registry_pb2.ListCallerLinesRequest(caller_number="12"), "caller_number"),
        ("ListCallerLines", registry_pb2.ListCallerLinesRequest(page_size=-1), "page_size"),
        ("ListCallerLines", registry_pb2.ListCallerLinesRequest(page_token="nope"), "page_token"),
        ("SetRangeRule", registry_pb2.SetRangeRuleRequest(prefix="86400"), "prefix"),
        ("SetRangeRule", registry_pb2.SetRangeRuleRequest(prefix="+86-400"), "prefix"),
        ("SetRangeRule", registry_pb2.SetRangeRuleRequest(prefix="+86400", action=9), "action"),
        ("SetRangeRule", registry_pb2.SetRangeRuleRequest(prefix="+86400", categories=[99]), "categories[0]"),
    ]
    for method, request, field in sent:
        got = _violations(await _send(server.channel, service.methods_by_name[method], request.SerializeToString()))
        assert got == ("INVALID_ARGUMENT", [field]), (method, field)
    assert await _stored(server) == before
