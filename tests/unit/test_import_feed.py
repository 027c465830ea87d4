"""Reading a CSV registry feed for `dncgate registry import`: columns, values, bad lines, line numbers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from dncgate.cli.registry_import import Feed, FeedError
from dncgate.v1 import common_pb2

SOURCE = common_pb2.SOURCE_NATIONAL_REGISTRY


def _rows(text: str) -> tuple[Feed, list[Any]]:
    feed = Feed(io.StringIO(text), SOURCE, None)
    return feed, [row for message in feed.messages() for row in message.rows]


def test_a_headerless_feed_of_bare_numbers_registers_each_for_every_category() -> None:
    """One number per line: do-not-disturb on, no categories (all), the command's source, no time."""
    _, rows = _rows("13800138000\n13912345678\n")
    assert [(r.number, r.do_not_disturb, list(r.categories), r.source) for r in rows] == [
        ("13800138000", True, [], SOURCE),
        ("13912345678", True, [], SOURCE),
    ]
    assert not rows[0].HasField("effective_from")


def test_a_header_names_the_columns_in_any_order() -> None:
    """With a header, columns are found by name (dnd and category are accepted spellings)."""
    _, rows = _rows("number,category,dnd\n13800138000,finance;Real_Estate,no\n")
    assert rows[0].do_not_disturb is False
    assert list(rows[0].categories) == [common_pb2.CATEGORY_FINANCE, common_pb2.CATEGORY_REAL_ESTATE]


def test_effective_from_is_read_as_an_iso_time() -> None:
    """An ISO time with a zone becomes the row's effective_from."""
    _, rows = _rows("13800138000,yes,,2026-12-01T00:00:00+08:00\n")
    assert rows[0].effective_from.ToJsonString() == "2026-11-30T16:00:00Z"


def test_an_unknown_header_column_stops_before_anything_is_sent() -> None:
    """A misspelt column is a mistake in the file, not in a row: nothing is imported."""
    with pytest.raises(FeedError, match="colour"):
        _rows("number,colour\n13800138000,red\n")


def test_lines_that_cannot_be_read_are_reported_by_line_and_not_sent() -> None:
    """Bad do_not_disturb, category or time values are counted with their line number and reason."""
    feed, rows = _rows(
        "number,do_not_disturb,categories,effective_from\n"
        "13800138000,maybe,,\n"
        "13800138001,yes,cars,\n"
        "13800138002,yes,,yesterday\n"
        "13800138003,yes,,,extra\n"
        "13800138004,yes,,\n"
    )
    assert [r.number for r in rows] == ["13800138004"]
    assert feed.invalid_count == 4
    assert [line for line, _ in feed.invalid] == [2, 3, 4, 5]
    assert "do_not_disturb" in feed.invalid[0][1] and "cars" in feed.invalid[1][1]
    assert "effective_from" in feed.invalid[2][1] and "columns" in feed.invalid[3][1]


def test_the_servers_row_numbers_map_back_to_file_lines() -> None:
    """Rows the server numbers 1, 2, 3 are found on their lines despite the header, blank and bad lines."""
    feed, rows = _rows("number\n13800138000\n\n13800138001\nbad,maybe\n\n13800138002\n")
    assert len(rows) == 3
    assert [feed.line_of(n) for n in (1, 2, 3)] == [2, 4, 7]


def test_rows_are_sent_in_messages_of_two_thousand() -> None:
    """A large feed becomes batched messages, never one message per row nor one for the whole file."""
    feed = Feed(io.StringIO("".join(f"1380013{i:04d}\n" for i in range(4500))), SOURCE, None)
    assert [len(m.rows) for m in feed.messages()] == [2000, 2000, 500]


def _bytes(data: bytes) -> io.TextIOWrapper:
    """A feed file opened as `registry import` opens one."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="surrogateescape", newline="")


def test_a_line_that_is_not_utf8_is_reported_at_its_line_and_the_feed_goes_on() -> None:
    """An undecodable byte on line 2 makes line 2 invalid (not line 1, not the whole buffer); the rows
    before and after it are sent, far into the file too."""
    data = b"13800130000\n\xff\xfe broken\n" + b"".join(b"1380013%04d\n" % i for i in range(1, 3000))
    data += b"1380013\xe9999\n13800139999\n"
    feed = Feed(_bytes(data), SOURCE, None)
    sent = [row.number for message in feed.messages() for row in message.rows]
    assert feed.error is None and len(sent) == 3001 and sent[-1] == "13800139999"
    assert [line for line, _ in feed.invalid] == [2, 3002]
    assert all("not UTF-8" in reason for _, reason in feed.invalid)
    assert feed.line_of(2) == 3  # the server's row 2 is the line after the bad one


def test_an_undecodable_first_line_is_an_invalid_row_not_a_header() -> None:
    """A first line with a bad byte is no header: it is reported as line 1 and the next line is sent."""
    feed = Feed(_bytes(b"\xff\xfe\n13800138000\n"), SOURCE, None)
    sent = [row.number for message in feed.messages() for row in message.rows]
    assert sent == ["13800138000"] and [line for line, _ in feed.invalid] == [1]


def test_a_header_of_unknown_names_is_refused_with_the_names_that_are_accepted() -> None:
    """`phone,dnd` is a header (no digit in its first field), not a row: refused, naming the columns."""
    with pytest.raises(FeedError, match=r"unknown column 'phone'; the columns are number, do_not_disturb"):
        Feed(io.StringIO("phone,dnd\n13800138000,yes\n"), SOURCE, None)
