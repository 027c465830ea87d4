"""The hotline's commands against a real server: file, show, list, pay, summarise, report, review."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest

from dncgate.v1 import registry_pb2
from tests.e2e.compensation_support import ORG, A, B, C, call, story_calls
from tests.e2e.conftest import CONSUMER, registry

pytestmark = pytest.mark.e2e


async def cli(server, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `dncgate …` in a child process (its blocking client must not stall the server's loop)."""
    env = {**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token, "COLUMNS": "220"}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dncgate.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def test_the_story_from_the_command_line(server) -> None:
    """An operator files, lists and shows the case, pays a payout, and reads the fund and violation reports."""
    await story_calls(server)
    filed = await cli(server, "complaint", "file", "13800138000", "--caller", A, "--caller", B, "--caller", C)
    assert filed.returncode == 0, filed.stderr
    case_id = re.search(r"DNC-\d{8}-\d{6}", filed.stdout).group(0)  # type: ignore[union-attr]
    assert "PARTIALLY_VERIFIED" in filed.stdout and "200.00 CNY" in filed.stdout
    assert "NO_MATCHING_CALL" in filed.stdout and "13800138000" not in filed.stdout
    shown = await cli(server, "complaint", "show", case_id)
    assert shown.returncode == 0 and "partially_verified" in shown.stdout
    listed = await cli(server, "complaint", "list", "--consumer", "13800138000")
    assert case_id in listed.stdout and "2 of 3" in listed.stdout
    payouts = await cli(server, "payouts", "list", "--status", "pending")
    payout_id = re.search(r"PO-[0-9a-f]{20}", payouts.stdout).group(0)  # type: ignore[union-attr]
    paid = await cli(server, "payouts", "mark-paid", payout_id, "--reference", "BANK-1")
    assert paid.returncode == 0 and "PAID" in paid.stdout
    twice = await cli(server, "payouts", "mark-paid", payout_id, "--reference", "BANK-2")
    assert twice.returncode == 1 and "FAILED_PRECONDITION" in twice.stdout
    summary = await cli(server, "payouts", "summary", "--period", "week")
    assert summary.returncode == 0 and summary.stdout.count("100.00 CNY") == 4
    report = await cli(server, "report", "violations", "--org", ORG)
    assert re.search(r"a17\s+│\s+3\s+│\s+REGISTERED 3\s+│\s+2\s+│\s+0\s+│\s+0", report.stdout), report.stdout


async def test_review_and_confirm_from_the_command_line(server) -> None:
    """`complaint confirm --not-satisfied` reopens a rejected case; `complaint review` decides it."""
    await story_calls(server)
    filed = await cli(server, "complaint", "file", "13800138000", "--caller", C)
    case_id = re.search(r"DNC-\d{8}-\d{6}", filed.stdout).group(0)  # type: ignore[union-attr]
    reopened = await cli(server, "complaint", "confirm", case_id, "--not-satisfied", "--comment", "they did call")
    assert "REOPENED" in reopened.stdout
    decided = await cli(server, "complaint", "review", case_id, "--decision", "rejected", "--note", "no call")
    assert decided.returncode == 0 and "REJECTED" in decided.stdout and "bootstrap-admin" in decided.stdout
    bad = await cli(server, "complaint", "file", "12", "--caller", A)
    assert bad.returncode == 1 and "consumer_number" in bad.stdout


async def test_disputes_consent_and_the_override_from_the_command_line(server) -> None:
    """`file --disputes-consent` sends a consented caller to review (without it: rejected, the consent's
    evidence shown); `confirm --override-reason` closes a case over its pending payout."""
    await story_calls(server)
    await registry(server).GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id=ORG, agent_id="a17", evidence="form F-9")
    )
    await call(server, C)
    plain, disputed, owed = await asyncio.gather(
        cli(server, "complaint", "file", CONSUMER, "--caller", C),
        cli(server, "complaint", "file", CONSUMER, "--caller", C, "--disputes-consent"),
        cli(server, "complaint", "file", CONSUMER, "--caller", A),
    )
    assert "REJECTED" in plain.stdout and "consent: form F-9" in plain.stdout, plain.stdout
    assert "MANUAL_REVIEW" in disputed.stdout and "consent: form F-9" in disputed.stdout
    case_id = re.search(r"DNC-\d{8}-\d{6}", owed.stdout).group(0)  # type: ignore[union-attr]
    refused = await cli(server, "complaint", "confirm", case_id, "--satisfied")
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stdout and "PO-" in refused.stdout
    closed = await cli(server, "complaint", "confirm", case_id, "--satisfied", "--override-reason", "paid in cash")
    assert closed.returncode == 0 and "CLOSED" in closed.stdout and "closed_over_pending_payouts" in closed.stdout
