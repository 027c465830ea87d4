"""`--output json|csv`: the one rule that turns a response message into a record for scripts."""

from __future__ import annotations

import csv
import io
import json

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import money_pb2

from dncgate.cli import output, records
from dncgate.v1 import common_pb2, compensation_pb2, registry_pb2


@pytest.fixture(autouse=True)
def shanghai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DNCGATE_DISPLAY_TZ", "Asia/Shanghai")
    output.display_zone.cache_clear()


def _payout() -> compensation_pb2.Payout:
    p = compensation_pb2.Payout(payout_id="PO-0c77761f536dd75b59db", case_id="DNC-20261122-000042")
    p.status = compensation_pb2.PAYOUT_STATUS_PENDING
    p.amount.CopyFrom(money_pb2.Money(currency_code="CNY", units=100))
    p.created_at.CopyFrom(Timestamp(seconds=1_795_500_000))
    return p


def test_a_record_has_the_proto_field_names_enums_as_typed_and_local_times() -> None:
    """Fields by proto name, an enum as its flag spelling, money with its currency, times in the display
    zone with the offset, an unset time null."""
    r = records.record(_payout())
    assert r["payout_id"] == "PO-0c77761f536dd75b59db" and r["status"] == "pending"
    assert r["amount"] == "100.00 CNY"
    assert r["created_at"] == "2026-11-24T14:00:00+08:00"  # 06:00 UTC
    assert r["paid_at"] is None


def test_repeated_enums_are_spelled_as_the_flags_take_them() -> None:
    """categories: ["real-estate", "finance"], not REAL_ESTATE nor 1."""
    p = registry_pb2.Preference(categories=[common_pb2.CATEGORY_REAL_ESTATE, common_pb2.CATEGORY_FINANCE])
    assert records.record(p)["categories"] == ["real-estate", "finance"]


def test_json_is_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Two payouts: two lines, each a whole JSON object."""
    records.write("json", compensation_pb2.Payout.DESCRIPTOR, [_payout(), _payout()])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["case_id"] == "DNC-20261122-000042" for line in lines)


def test_csv_has_a_header_even_for_no_rows_and_flattens_lists(capsys: pytest.CaptureFixture[str]) -> None:
    """The header comes from the message type; a list of messages is a JSON cell, a list of scalars `;`."""
    records.write("csv", compensation_pb2.Payout.DESCRIPTOR, [])
    assert capsys.readouterr().out.splitlines() == [",".join(records.header(compensation_pb2.Payout.DESCRIPTOR))]
    f = compensation_pb2.Finding(caller_number="+862759001111", call_ids=["a", "b"])
    c = compensation_pb2.Complaint(case_id="DNC-1", findings=[f])
    records.write("csv", compensation_pb2.Complaint.DESCRIPTOR, [c])
    [row] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["case_id"] == "DNC-1" and json.loads(row["findings"])[0]["call_ids"] == ["a", "b"]


def test_a_zone_that_does_not_exist_is_named() -> None:
    """DNCGATE_DISPLAY_TZ=Mars/Olympus is an error naming the variable, not a traceback."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("DNCGATE_DISPLAY_TZ", "Mars/Olympus")
        output.display_zone.cache_clear()
        with pytest.raises(output.DisplayZoneError, match="DNCGATE_DISPLAY_TZ"):
            output.display_zone()
    output.display_zone.cache_clear()


def test_counts_agree_with_their_nouns() -> None:
    """1 caller number, 2 caller numbers, 12,408 numbers, 1 other entry / 3 other entries."""
    assert output.count(1, "caller number") == "1 caller number"
    assert output.count(2, "caller number") == "2 caller numbers"
    assert output.count(12408, "number") == "12,408 numbers"
    assert output.count(3, "other entry", "other entries") == "3 other entries"
