"""Registry.ImportRegistry through a real server: over gRPC, and with `dncgate registry import FILE.csv`."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.e2e.conftest import check_request, gate, registry

pytestmark = pytest.mark.e2e

ALLOW, BLOCK = gateway_pb2.DECISION_ALLOW, gateway_pb2.DECISION_BLOCK
NATIONAL = common_pb2.SOURCE_NATIONAL_REGISTRY
Row = registry_pb2.ImportRegistryRequest


def number(i: int) -> str:
    return f"1391234{i:04d}"


async def stream(*messages: registry_pb2.ImportRegistryRequest) -> AsyncIterator[registry_pb2.ImportRegistryRequest]:
    for m in messages:
        yield m


async def decision(server, text: str, category: int = 0) -> int:  # type: ignore[no-untyped-def]
    return int((await gate(server).Check(check_request(text, category=category))).decision)


async def cli(server, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """`dncgate …` in a child process (its blocking client must not stall the server's loop)."""
    env = {**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token, "COLUMNS": "200"}
    run = [sys.executable, "-m", "dncgate.cli", *args]
    return await asyncio.to_thread(subprocess.run, run, capture_output=True, text=True, env=env, timeout=60)


async def test_single_rows_and_batches_of_rows_import_in_stream_order(server) -> None:
    """Messages of one row and messages carrying rows mix in one stream; rows are numbered across them."""
    summary = await registry(server).ImportRegistry(
        stream(
            Row(number=number(1), do_not_disturb=True, source=NATIONAL),
            Row(
                rows=[
                    Row(
                        number=number(2), do_not_disturb=True, source=NATIONAL, categories=[common_pb2.CATEGORY_FINANCE]
                    ),
                    Row(number="garbage", do_not_disturb=True, source=NATIONAL),
                    Row(number=number(3), do_not_disturb=False, source=NATIONAL),
                ]
            ),
            Row(number=number(4), do_not_disturb=True),  # no source
        )
    )
    assert (summary.rows, summary.accepted, summary.invalid) == (5, 3, 2)
    assert [(r.row, r.reason) for r in summary.invalid_rows] == [
        (3, "number: is not a valid phone number"),
        (5, "source: is required"),
    ]
    assert await decision(server, number(1)) == BLOCK
    assert await decision(server, number(2), common_pb2.CATEGORY_FINANCE) == BLOCK
    assert await decision(server, number(2), common_pb2.CATEGORY_HEALTH) == ALLOW
    assert await decision(server, number(3)) == ALLOW
    assert await decision(server, number(4)) == ALLOW
    pref = await registry(server).GetPreference(registry_pb2.GetPreferenceRequest(number=number(1)))
    assert pref.found and pref.source == NATIONAL


async def test_a_batch_that_also_carries_a_row_of_its_own_is_invalid_argument(server) -> None:
    """A malformed message ends the import with a BadRequest naming the field; rows before it are kept."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await registry(server).ImportRegistry(
            stream(
                Row(number=number(1), do_not_disturb=True, source=NATIONAL),
                Row(number=number(2), rows=[Row(number=number(3), do_not_disturb=True, source=NATIONAL)]),
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the 1 rows before it were imported" in (info.value.details() or "")
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["number"]
    assert await decision(server, number(1)) == BLOCK
    assert await decision(server, number(3)) == ALLOW


async def test_the_cli_imports_a_csv_and_reports_bad_lines_by_line_number(server, tmp_path: Path) -> None:
    """`registry import` prints the summary, with file line numbers for rows it or the server refused, and
    exits with status 3 (the rows are invalid, the import went through)."""
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "number,do_not_disturb,categories\n"
        f"{number(1)},yes,\n"
        f"{number(2)},yes,finance;real-estate\n"
        "\n"
        "12345,yes,\n"
        f"{number(3)},maybe,\n"
        f"{number(4)},no,\n"
    )
    done = await cli(server, "registry", "import", str(feed))
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:2] == ["accepted", "3"] for line in lines), done.stdout
    assert any(line.split()[:2] == ["invalid", "2"] for line in lines), done.stdout
    assert any("5" in line.split()[:2] and "not a valid phone number" in line for line in lines), done.stdout
    assert any("6" in line.split()[:2] and "do_not_disturb" in line for line in lines), done.stdout
    assert await decision(server, number(1)) == BLOCK
    assert await decision(server, number(2), common_pb2.CATEGORY_FINANCE) == BLOCK
    assert await decision(server, number(2), common_pb2.CATEGORY_HEALTH) == ALLOW
    assert await decision(server, number(4)) == ALLOW


async def test_the_cli_applies_its_source_and_default_effective_time(server, tmp_path: Path) -> None:
    """A headerless list of numbers gets --source and --effective-from; next week's registration waits."""
    feed = tmp_path / "feed.csv"
    feed.write_text(f"{number(1)}\n+86 {number(2)}\n")
    next_week = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    done = await cli(
        server, "registry", "import", str(feed), "--source", "app", "--effective-from", next_week.isoformat()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for n in (number(1), number(2)):
        pref = await registry(server).GetPreference(
            registry_pb2.GetPreferenceRequest(number=n, as_of=_ts(next_week + timedelta(seconds=1)))
        )
        assert (pref.found, pref.source, pref.effective_from.ToDatetime(tzinfo=UTC)) == (
            True,
            common_pb2.SOURCE_APP,
            next_week,
        )
        assert await decision(server, n) == ALLOW


async def test_the_cli_refuses_a_missing_file(server, tmp_path: Path) -> None:
    """A path that does not exist is an error before anything is sent (exit status 2)."""
    done = await cli(server, "registry", "import", str(tmp_path / "nope.csv"))
    assert done.returncode == 2 and "cannot read" in done.stderr


async def test_the_cli_refuses_a_file_with_unknown_columns_before_sending_anything(server, tmp_path: Path) -> None:
    """A header naming a column the feed format lacks is a mistake in the file: exit 2, nothing imported."""
    feed = tmp_path / "feed.csv"
    feed.write_text(f"number,colour\n{number(1)},red\n")
    done = await cli(server, "registry", "import", str(feed))
    assert done.returncode == 2 and "colour" in done.stderr
    assert await decision(server, number(1)) == ALLOW


def _ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


async def test_a_byte_that_is_not_utf8_is_an_invalid_row_on_its_line_and_the_import_goes_on(
    server, tmp_path: Path
) -> None:
    """A bad byte on line 2 is reported as line 2; the lines around it are imported; exit status 3."""
    feed = tmp_path / "feed.csv"
    feed.write_bytes(f"{number(1)}\n".encode() + b"1380013\xff000\n" + f"{number(3)}\n".encode())
    done = await cli(server, "registry", "import", str(feed))
    assert done.returncode == 3, done.stdout + done.stderr
    assert re.search(r"│\s+2 │ not UTF-8", done.stdout), done.stdout
    assert "line 1" not in done.stdout + done.stderr
    assert await decision(server, number(1)) == BLOCK and await decision(server, number(3)) == BLOCK


async def test_a_header_of_unknown_names_is_refused_with_the_accepted_names(server, tmp_path: Path) -> None:
    """`phone,dnd` is not taken as a data row: refused (exit 2) with the names a header may use."""
    feed = tmp_path / "feed.csv"
    feed.write_text(f"phone,dnd\n{number(1)},yes\n")
    done = await cli(server, "registry", "import", str(feed))
    assert done.returncode == 2
    assert "unknown column 'phone'" in done.stderr and "number, do_not_disturb, categories" in done.stderr
    assert await decision(server, number(1)) == ALLOW
