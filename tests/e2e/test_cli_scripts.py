"""The CLI as scripts and payment runs use it, against a real server: ids and times never cut, JSON and CSV
output, times in the display zone, errors that help, words that agree, scrub, report-outcome, health, and
`registry set` saying what an entry now covers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.e2e.compensation_support import ORG, A, B, C, file, register_dnd, story_calls
from tests.e2e.conftest import CONSUMER, check_request, free_port, gate, registry

pytestmark = pytest.mark.e2e

CASE = re.compile(r"DNC-\d{8}-\d{6}")
PAYOUT = re.compile(r"PO-[0-9a-f]{20}")
# A whole time as the tables show it, in the zone the tests set.
LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00")


async def cli(server: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dncgate …` in a child process, its output a pipe; env adds (or, empty, removes) variables."""
    base = {**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token}
    base["DNCGATE_DISPLAY_TZ"] = "Asia/Shanghai"
    base.pop("COLUMNS", None)
    for k, v in env.items():
        if v:
            base[k] = v
        else:
            base.pop(k, None)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dncgate.cli", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
    )


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("columns", ["80", ""], ids=["80-columns", "pipe"])
async def test_case_and_payout_ids_and_times_are_whole_at_80_columns_and_in_a_pipe(server, columns: str) -> None:
    """`complaint list`, `payouts list` and `complaint show` never cut an id or a time, however narrow."""
    await story_calls(server)
    c = await file(server, A, B, C)
    listed = await cli(server, "complaint", "list", COLUMNS=columns)
    payouts = await cli(server, "payouts", "list", COLUMNS=columns)
    shown = await cli(server, "complaint", "show", c.case_id, COLUMNS=columns)
    for done in (listed, payouts, shown):
        assert done.returncode == 0, done.stderr
        assert "…" not in done.stdout, done.stdout
        assert LOCAL_TIME.search(done.stdout), done.stdout
    assert c.case_id in listed.stdout and c.case_id in payouts.stdout
    ids = {f.payout_id for f in c.findings if f.payout_id}
    assert len(ids) == 2 and all(i in payouts.stdout and i in shown.stdout for i in ids)
    call_ids = [i for f in c.findings for i in f.call_ids]
    assert call_ids and all(i in shown.stdout for i in call_ids)


async def test_listings_print_json_lines_and_csv_with_a_header(server) -> None:
    """`--output json` is one object per line with the proto's field names, enums as the flags spell them and
    times with the display zone's offset; `--output csv` has a header row; both for a listing, a filing
    and a check."""
    await story_calls(server)
    filed = await cli(server, "complaint", "file", CONSUMER, "--caller", A, "--caller", C, "--output", "json")
    assert filed.returncode == 0, filed.stderr
    [case] = jsonl(filed.stdout)
    assert CASE.fullmatch(case["case_id"]) and case["status"] == "partially-verified"
    assert [f["verdict"] for f in case["findings"]] == ["verified", "no-matching-call"]
    assert case["created_at"].endswith("+08:00") and case["total_compensation"] == "100.00 CNY"
    listed = await cli(server, "complaint", "list", "-o", "json")
    assert [r["case_id"] for r in jsonl(listed.stdout)] == [case["case_id"]]
    payouts = await cli(server, "payouts", "list", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(payouts.stdout)))
    assert len(rows) == 1 and PAYOUT.fullmatch(rows[0]["payout_id"]) and rows[0]["amount"] == "100.00 CNY"
    assert rows[0]["status"] == "pending" and rows[0]["created_at"].endswith("+08:00")
    none = await cli(server, "notices", "list", "--case", "DNC-20000101-000001", "-o", "csv")
    assert none.returncode == 0 and none.stdout.splitlines()[0].startswith("notification_id,case_id,")
    assert len(none.stdout.splitlines()) == 1
    check = await cli(server, "check", "--caller", A, "--callee", CONSUMER, "--org", ORG, "-o", "json")
    [answer] = jsonl(check.stdout)
    assert (answer["decision"], answer["reason"], answer["violation"]) == ("allow", "registered", True)
    assert answer["next_allowed_time"] is None and answer["call_id"]


async def test_times_are_shown_in_the_display_zone_with_its_offset(server) -> None:
    """DNCGATE_DISPLAY_TZ decides the zone of every time shown, in the table and in JSON."""
    await story_calls(server)
    c = await file(server, A)
    utc = await cli(server, "complaint", "show", c.case_id, DNCGATE_DISPLAY_TZ="UTC")
    shanghai = await cli(server, "complaint", "show", c.case_id)
    assert "+00:00" in utc.stdout and "+08:00" not in utc.stdout
    assert "+08:00" in shanghai.stdout and "+00:00" not in shanghai.stdout
    wrong = await cli(server, "complaint", "show", c.case_id, DNCGATE_DISPLAY_TZ="Mars/Olympus")
    assert wrong.returncode == 2 and "DNCGATE_DISPLAY_TZ" in wrong.stderr and "Traceback" not in wrong.stderr


async def test_errors_name_the_target_and_say_a_field_error_once(server) -> None:
    """A refused connection names the target and `make serve`; a bad host is said to be one, an empty port
    is refused before dialling; a field error is printed once, on stderr."""
    port = free_port()
    refused = await cli(server, "complaint", "list", "--target", f"127.0.0.1:{port}")
    assert refused.returncode == 1 and f"127.0.0.1:{port}" in refused.stderr and "make serve" in refused.stderr
    assert "--target" in refused.stderr
    unknown = await cli(server, "health", "--target", "no-such-host.invalid")
    assert unknown.returncode == 1 and "cannot resolve 'no-such-host.invalid'" in unknown.stderr
    assert "no-such-host.invalid:50051" in unknown.stderr
    empty = await cli(server, "health", "--target", "gate.example:")
    assert empty.returncode == 2 and "no port" in empty.stderr and not empty.stderr.rstrip().endswith(":")
    bad = await cli(server, "complaint", "file", "12", "--caller", A)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("consumer_number") == 1 and "INVALID_ARGUMENT" in bad.stderr


async def test_names_are_shown_as_typed_counts_agree_and_empty_listings_say_so(server) -> None:
    """`real-estate` (not real_estate), "1 caller number", "no complaints"."""
    await story_calls(server)
    done = await cli(server, "registry", "set", "13900139000", "--dnd", "--category", "real-estate")
    assert "real-estate" in done.stdout and "real_estate" not in done.stdout
    one = await cli(server, "complaint", "file", CONSUMER, "--caller", A)
    assert "1 caller number" in one.stdout and "1 caller numbers" not in one.stdout
    two = await cli(server, "complaint", "file", CONSUMER, "--caller", B, "--caller", C)
    assert "2 caller numbers" in two.stdout
    empty = await cli(server, "complaint", "list", "--consumer", "13700137000")
    assert empty.returncode == 0 and "no complaints" in empty.stdout
    notices = await cli(server, "notices", "list", "--case", "DNC-20000101-000001")
    assert "no notices" in notices.stdout


async def test_scrub_writes_the_dialable_rows_and_counts_the_skipped_by_reason(server, tmp_path: Path) -> None:
    """A list of 6 (2 on do-not-disturb, 1 invalid) in chunks of 2: 3 skipped, the 3 others written as given."""
    for n in ("13800138001", "13800138002"):
        await register_dnd(server, n)
    calls = tmp_path / "list.csv"
    calls.write_text(
        "name,mobile\n"
        "Li,138 0013 8001\n"
        "Wang,13800138002\n"
        "Zhao,+86 138-0013-8003\n"
        "Qian,12\n"
        "Sun,13800138005\n"
        "Zhou,13800138006\n"
    )
    out = tmp_path / "dialable.csv"
    args = ("scrub", str(calls), "--caller", A, "--org", ORG, "--category", "finance", "--batch-size", "2")
    done = await cli(server, *args, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "3 of 6 numbers will be skipped" in done.stdout
    assert re.search(r"registered\s+│\s+2", done.stdout) and re.search(r"invalid-number\s+│\s+1", done.stdout)
    assert done.stderr == ""  # no progress bar where no one watches
    dialable = ["name,mobile", "Zhao,+86 138-0013-8003", "Sun,13800138005", "Zhou,13800138006"]
    assert out.read_text().splitlines() == dialable
    summary = await cli(server, *args, "--output", "json")
    [s] = jsonl(summary.stdout)
    assert s == {
        "rows": 6,
        "skipped": 3,
        "dialable": 3,
        "skipped_by_reason": {"registered": 2, "invalid-number": 1},
        "violations": 0,
        "out": None,
    }


async def test_report_outcome_records_an_opt_out_for_the_org_only(server) -> None:
    """`report-outcome CALL --connected --duration 40 --opted-out --scope org`: the org's next call is blocked
    by its own list, another org's is not."""
    first = await gate(server).Check(check_request(CONSUMER, caller_number=A, org_id=ORG))
    assert first.decision == gateway_pb2.DECISION_ALLOW
    args = ("report-outcome", first.call_id, "--connected", "--duration", "40", "--opted-out", "--scope", "org")
    done = await cli(server, *args)
    assert done.returncode == 0, done.stderr
    assert "registered on the call's org's own list" in done.stdout and "connected for 40 s" in done.stdout
    again = await gate(server).Check(check_request(CONSUMER, caller_number=A, org_id=ORG))
    other = await gate(server).Check(check_request(CONSUMER, caller_number=A, org_id="other-org"))
    assert again.reason == gateway_pb2.REASON_ORG_LIST and other.decision == gateway_pb2.DECISION_ALLOW
    clash = await cli(server, "report-outcome", first.call_id, "--not-dialled", "--connected")
    assert clash.returncode == 2 and "--not-dialled" in clash.stderr


async def test_health_exits_0_when_serving_and_1_with_the_reason_when_not(server) -> None:
    """`dncgate health` lists the services as SERVING (exit 0); no server there: exit 1 and what to do."""
    up = await cli(server, "health")
    assert up.returncode == 0, up.stderr
    assert "dncgate.v1.CallGate" in up.stdout and f"{server.target}: SERVING" in up.stdout
    down = await cli(server, "health", "--target", f"127.0.0.1:{free_port()}")
    assert down.returncode == 1 and "make serve" in down.stderr


async def test_registry_set_says_what_the_entry_now_covers_and_folds_categories(server) -> None:
    """--category replaces (and says it narrowed); --add-category and --remove-category fold into the entry in
    effect; removing the last category is refused, nothing written."""
    n = "13600136000"
    assert (await cli(server, "registry", "set", n, "--dnd")).returncode == 0
    narrowed = await cli(server, "registry", "set", n, "--dnd", "--category", "finance")
    assert "now covers: finance only (was: all categories)" in narrowed.stdout
    added = await cli(server, "registry", "set", n, "--add-category", "real-estate")
    assert "now covers: real-estate, finance only (was: finance only)" in added.stdout
    removed = await cli(server, "registry", "set", n, "--remove-category", "finance")
    assert "now covers: real-estate only (was: real-estate, finance only)" in removed.stdout
    last = await cli(server, "registry", "set", n, "--remove-category", "real-estate")
    assert last.returncode == 2 and "--no-dnd" in last.stderr and "nothing written" in last.stderr
    pref = await registry(server).GetPreference(registry_pb2.GetPreferenceRequest(number=n))
    assert list(pref.categories) == [common_pb2.CATEGORY_REAL_ESTATE]
    m = "13600136001"
    await cli(server, "registry", "set", m, "--dnd")
    all_but = await cli(server, "registry", "set", m, "--remove-category", "finance", "-o", "json")
    [entry] = jsonl(all_but.stdout)
    assert "finance" not in entry["categories"] and len(entry["categories"]) == 8
    assert "real-estate" in entry["categories"] and entry["source"] == "admin"
