"""The recorder's shortcut from stream entry to call_log row gives what decoding the CallEvent gives,
and accepts and refuses exactly the entries decode_event does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate.domain.calls import CallEvent
from dncgate.domain.registry import EPOCH
from dncgate.domain.types import Category, Decision, Reason
from dncgate.store.calls import SEPARATOR, decode_event, encode_event, event_context, route_parts, single_context
from dncgate.store.recorder import DeadLetter, _describe, _event_row, parse_entry

SID = b"1700000000000-0"
EVENT = CallEvent(
    call_id="018f2a3b4c5d" + "ab" * 10,
    at=datetime(2026, 11, 23, 14, 30, 0, 123_456, tzinfo=UTC),
    caller_e164="+862161234567",
    callee_key="c0ffee" * 10 + "abcd",
    callee_masked="+86138****8000",
    agent_id="agent-1",
    org_id="acme",
    campaign_id="spring",
    category=Category.FINANCE,
    decision=Decision.BLOCK,
    reason=Reason.REGISTERED,
    violation=True,
    request_id="req-1",
)

# Spellings encode_event never writes, valid or not, per field.
ODD = {
    b"id": [b"", b"\xff\xfe", b"caf\xc3\xa9", b"a\x00b"],
    b"us": [b" 1764000000000000 ", b"+1764000000000000", b"1_764_000_000_000_000", b"-5", b"9" * 30, b"-" + b"9" * 30,
            b"", b"1.5", b"\xff"],
    b"caller": [b"\xff", b"\x00"],
    b"callee": [b"ab cd", b"abc", b"zz", b"\xff", b"", b"AB"],
    b"mask": [b"\xc3"],
    b"agent": [b"\x00", b"\xed\xa0\x80"],
    b"org": [b""],
    b"campaign": [b"\xff"],
    b"cat": [b"02", b" 3", b"+4", b"3\n", b"10", b"-1", b"x", b"", b"\xff", b"\xd9\xa3"],
    b"dec": [b"allow", b"ALLOW ", b"BLOCK", b"\xff", b""],
    b"rsn": [b"registered", b"NOT_REGISTERED", b"\xff", b"VALID"],
    b"vio": [b"0", b"true", b"", b"\xff"],
    b"rid": [b"\xff", b""],
}  # fmt: skip


def slow(stream_id: bytes, fields: dict[bytes, bytes]) -> tuple[Any, ...] | DeadLetter:
    try:
        return _event_row(decode_event(fields))
    except (KeyError, ValueError) as exc:
        return DeadLetter(stream_id, fields, _describe(exc))


@st.composite
def entries(draw: st.DrawFn) -> dict[bytes, bytes]:
    fields = encode_event(EVENT)
    for name in draw(st.lists(st.sampled_from(sorted(ODD)), max_size=3, unique=True)):
        change = draw(st.sampled_from(("drop", "odd", "bytes")))
        if change == "drop":
            del fields[name]
        elif change == "odd":
            fields[name] = draw(st.sampled_from(ODD[name]))
        else:
            fields[name] = draw(st.binary(max_size=8))
    return fields


def test_a_well_formed_entry_becomes_the_row_of_its_event() -> None:
    """The row of an entry as the gateway writes it holds the event's values, in call_log's types."""
    row = parse_entry(SID, encode_event(EVENT))
    assert row == _event_row(EVENT)
    assert row[3] == bytes.fromhex(EVENT.callee_key)
    assert (type(row[8]), row[9], row[10]) == (int, "BLOCK", "REGISTERED")


@settings(max_examples=1500)
@given(entries())
def test_the_row_or_dead_letter_is_the_one_decode_event_gives(fields: dict[bytes, bytes]) -> None:
    """Odd spellings the Enums and int() accept are recorded as before; the rest is refused with the same error."""
    assert parse_entry(SID, fields) == slow(SID, fields)


@pytest.mark.parametrize("us", [b"9" * 30, b"-" + b"9" * 30, b"%d" % 10**18])
def test_a_time_no_datetime_can_hold_is_a_value_error(us: bytes) -> None:
    """decode_event refuses it as malformed (ValueError), as callers expect, rather than raising OverflowError."""
    with pytest.raises(ValueError, match="call time out of range"):
        decode_event(encode_event(EVENT) | {b"us": us})


_ID_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)


@settings(max_examples=300)
@given(
    agent=_ID_TEXT,
    org=_ID_TEXT,
    campaign=_ID_TEXT,
    rid=_ID_TEXT,
    category=st.sampled_from(list(Category)),
    us=st.integers(0, 250_000_000_000_000_000),  # up to the year 9892
)
def test_the_single_checks_context_is_event_context_joined(
    agent: str, org: str, campaign: str, rid: str, category: Category, us: int
) -> None:
    """What a single Check sends the script (route parts cached per dialer, then its own fields) is, byte for
    byte, the event's `event_context` joined by SEPARATOR: the batch and single paths log alike."""
    event = dataclasses.replace(
        EVENT,
        at=EPOCH + timedelta(microseconds=us),
        agent_id=agent,
        org_id=org,
        campaign_id=campaign,
        category=category,
        request_id=rid,
    )
    caller, tail = route_parts(event.caller_e164, agent, org, campaign, category)
    context = single_context(
        event.call_id.encode(), us, caller, event.callee_key.encode(), event.callee_masked.encode(), tail, rid.encode()
    )
    assert context == SEPARATOR.join(event_context(event))
