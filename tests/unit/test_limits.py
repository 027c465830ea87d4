"""The table of input limits: complete for every request message, and its checks, fast and slow, agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.api import limits, wire
from dncgate.domain.errors import InvalidArgument
from dncgate.v1 import compensation_pb2, gateway_pb2, registry_pb2

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_string_field_of_every_request_message_has_a_limit() -> None:
    """Walking each method's request and what it nests, every string field is in the table, and every
    entry of the table is such a field (none left over from a removed field)."""
    strings = {
        limits.key(f)
        for desc in limits.request_messages()
        for f in desc.fields
        if f.type == FieldDescriptor.TYPE_STRING
    }
    assert strings - set(limits.FIELDS) == set()
    assert set(limits.FIELDS) - strings == set()
    assert {m.name for m in limits.request_messages()} >= {"CheckRequest", "ImportRegistryRequest"}
    for desc in limits.request_messages():
        limits.shape_of(desc)  # compiles: what registering the methods does


def test_a_string_field_missing_from_the_table_stops_its_message_from_being_served() -> None:
    """A message with a string field the table lacks (here a response message) cannot be compiled."""
    with pytest.raises(LookupError, match="number_masked"):
        limits.Shape(registry_pb2.Preference.DESCRIPTOR, {})


@pytest.mark.parametrize(
    ("kind", "value", "accepted"),
    [
        (limits.ID, "wuhan-01 东湖", True),
        (limits.ID, "x" * 128, True),
        (limits.ID, "x" * 129, False),
        (limits.ID, "a\x00b", False),
        (limits.ID, "a\tb", False),
        (limits.ID, "a\u3000b", False),  # a separator, not a space: ids are printable only
        (limits.NUMBER, "+86 138-0013-8000", True),
        (limits.NUMBER, "１３８００１３８０００", True),
        (limits.NUMBER, "138\u30000013\u00a08000", True),  # full-width and no-break spaces, as typed
        (limits.NUMBER, "1" * 65, False),
        (limits.NUMBER, "138\x000013", False),
        (limits.NUMBER, "138\x7f", False),
        (limits.NUMBER, "138\x85", False),
        (limits.TEXT, "第一行\n第二行\r\n\tindented", True),
        (limits.TEXT, "x" * 4000, True),
        (limits.TEXT, "x" * 4001, False),
        (limits.TEXT, "a\x00b", False),
        (limits.TEXT, "a\x0bb", False),
        (limits.TEXT, "a\x1b[2Jb", False),
        (limits.REFERENCE, "BANK-20261123-17", True),
        (limits.REFERENCE, "BANK\n17", False),
        (limits.CODE, "month", True),
        (limits.CODE, "m" * 17, False),
    ],
)
def test_each_kind_takes_its_characters_and_length_only(kind: limits.Kind, value: str, accepted: bool) -> None:
    """Ids and codes are printable; numbers and references refuse control characters; text also takes
    tab and line breaks; each kind refuses one character past its length."""
    try:
        kind.check(value, "f")
    except InvalidArgument as exc:
        assert not accepted, exc.message
        assert exc.field == "f"
    else:
        assert accepted
    assert kind.fine([value]) <= accepted  # the fast test never passes what the check refuses


def _check(msg: object) -> str | None:
    try:
        limits.shape_of(msg.DESCRIPTOR).check(msg)  # type: ignore[attr-defined]
    except InvalidArgument as exc:
        return exc.field
    return None


def test_a_refusal_names_the_field_by_its_path() -> None:
    """Nested and repeated fields are named as in a BadRequest: `rows[3].number`, `caller_numbers[1]`."""
    batch = gateway_pb2.CheckBatchRequest(requests=[gateway_pb2.CheckRequest(org_id="o")] * 20)
    batch.requests[17].org_id = "o\x00"
    assert _check(batch) == "requests[17].org_id"
    rows = registry_pb2.ImportRegistryRequest(rows=[registry_pb2.ImportRegistryRequest(number="1")] * 5)
    rows.rows[3].number = "1" * 65
    assert _check(rows) == "rows[3].number"
    assert _check(compensation_pb2.FileComplaintRequest(caller_numbers=["1", "2\x1b"])) == "caller_numbers[1]"
    assert _check(registry_pb2.ImportRegistryRequest(rows=[registry_pb2.ImportRegistryRequest()] * 5001)) == "rows"
    assert _check(compensation_pb2.FileComplaintRequest(caller_numbers=["1"] * 51)) == "caller_numbers"


_fields = st.sampled_from(["caller_number", "callee_number", "agent_id", "org_id", "campaign_id", "request_id"])
_values = st.text(st.sampled_from(["1", "a", " ", "\u3000", "\n", "\x00", "\x85", "东"]), max_size=6) | st.sampled_from(
    ["1" * 64, "1" * 65, "a" * 128, "a" * 129]
)


@settings(max_examples=300)
@given(st.lists(st.lists(st.tuples(_fields, _values), max_size=3), min_size=1, max_size=12))
def test_a_batch_checked_column_by_column_refuses_what_one_request_at_a_time_refuses(
    requests: list[list[tuple[str, str]]],
) -> None:
    """The batch's fast path (`Shape.fine`, a field across all requests) gives the same answer and
    names the same field as checking the requests one by one in order."""
    batch = gateway_pb2.CheckBatchRequest(requests=[gateway_pb2.CheckRequest(**dict(r)) for r in requests])
    one_by_one = next(
        (f"requests[{i}].{field}" for i, r in enumerate(batch.requests) if (field := _check(r)) is not None), None
    )
    assert _check(batch) == one_by_one


def _not_utf8(msg: object, text: str) -> bytes:
    raw: bytes = msg.SerializeToString()  # type: ignore[attr-defined]
    assert raw.count(text.encode()) == 1
    return raw.replace(text.encode(), b"\xff" * len(text.encode()))


def test_bytes_protobuf_refuses_are_traced_to_their_field() -> None:
    """Invalid UTF-8 is found at its path, nested or repeated; bytes cut short name the field they end in."""
    batch = gateway_pb2.CheckBatchRequest(
        requests=[gateway_pb2.CheckRequest(org_id="ok"), gateway_pb2.CheckRequest(org_id="ÿ")]
    )
    desc = gateway_pb2.CheckBatchRequest.DESCRIPTOR
    assert wire.locate(desc, _not_utf8(batch, "ÿ")) == ("requests[1].org_id", "is not valid UTF-8")
    complaint = compensation_pb2.FileComplaintRequest(caller_numbers=["1", "ÿ"], description="x")
    assert wire.locate(compensation_pb2.FileComplaintRequest.DESCRIPTOR, _not_utf8(complaint, "ÿ")) == (
        "caller_numbers[1]",
        "is not valid UTF-8",
    )
    raw = gateway_pb2.CheckRequest(caller_number="+862759001234", org_id="wuhan-01").SerializeToString()
    assert wire.locate(gateway_pb2.CheckRequest.DESCRIPTOR, raw[:-3]) == ("org_id", "is truncated")
    assert wire.locate(gateway_pb2.CheckRequest.DESCRIPTOR, raw) is None
    assert wire.locate(desc, b"\x0a\x01\xff") == ("requests[0]", "is truncated")  # the tag inside it cut short
    assert limits.undecodable(gateway_pb2.CheckRequest.DESCRIPTOR, b"\xff\xff").field == "request"


def test_an_undecodable_unary_request_reaches_its_handler_as_refused_and_a_streamed_one_raises() -> None:
    """The deserializer turns a DecodeError into INVALID_ARGUMENT: returned for a unary request (gRPC
    would answer UNKNOWN if it raised), raised inside a stream, where the servicer's loop sees it."""
    desc, parse = gateway_pb2.CheckRequest.DESCRIPTOR, gateway_pb2.CheckRequest.FromString
    raw = _not_utf8(gateway_pb2.CheckRequest(callee_number="ÿ"), "ÿ")
    refused = limits.decoder(desc, parse, stream=False)(raw)
    assert isinstance(refused, limits.Refused) and refused.error.field == "callee_number"
    with pytest.raises(InvalidArgument) as info:
        limits.decoder(desc, parse, stream=True)(raw)
    assert info.value.field == "callee_number"
    ok = gateway_pb2.CheckRequest(callee_number="13800138000")
    assert limits.decoder(desc, parse, stream=False)(ok.SerializeToString()) == ok


def test_the_readme_shows_the_table_as_the_code_has_it() -> None:
    """README's table of input limits is `limits.markdown()`, so it cannot drift from the code."""
    assert limits.markdown() in README.read_text()
