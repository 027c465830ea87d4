"""Who made each change: journal entries, complaint history and payments name the token of the call.

Two tokens of the same role make two entries, and each entry names its own token: the principal the
server authenticated, never a name the client sent (no request has a field for it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor

from dncgate.v1 import (
    access_pb2,
    common_pb2,
    compensation_pb2,
    compensation_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.auth import aio_channel
from tests.e2e.compensation_support import A, B, V, db_rows, story_calls
from tests.e2e.conftest import CONSUMER, check_request

pytestmark = pytest.mark.e2e

APP = common_pb2.SOURCE_APP


@dataclass
class Caller:
    """A token of the test's own, its stubs, and the label the server records it under."""

    label: str
    channel: Any

    @property
    def registry(self) -> Any:
        return registry_pb2_grpc.RegistryStub(self.channel)

    @property
    def gate(self) -> Any:
        return gateway_pb2_grpc.CallGateStub(self.channel)

    @property
    def compensation(self) -> Any:
        return compensation_pb2_grpc.CompensationStub(self.channel)


@pytest.fixture
async def callers(server: Any) -> AsyncIterator[Any]:
    """`await callers(name, *roles)`: a new token with those roles, as a `Caller`."""
    channels: list[Any] = []

    async def make(name: str, *roles: str) -> Caller:
        new = await server.app.access.create("test", name=name, roles=list(roles))
        channel = aio_channel(server.target, new.token)
        channels.append(channel)
        return Caller(f"{name} (token {new.row.id})", channel)  # as the README says a principal is named

    yield make
    for channel in channels:
        await channel.close()


def admin_label(server: Any) -> str:
    return f"bootstrap-admin (token {server.token.split('_')[1]})"


def preference(number: str = CONSUMER, dnd: bool = True, **kw: Any) -> registry_pb2.SetPreferenceRequest:
    return registry_pb2.SetPreferenceRequest(number=number, do_not_disturb=dnd, source=APP, **kw)


async def history(server: Any, number: str = CONSUMER) -> Any:
    stub = registry_pb2_grpc.RegistryStub(server.channel)
    return await stub.GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=number))


async def test_each_registry_write_names_the_token_that_made_it(server: Any, callers: Any) -> None:
    """Preferences and consents by two registry tokens, policies by two admins: each entry names its own."""
    alice, bob = await callers("alice app", "registry"), await callers("bob hotline", "registry")
    other_admin = await callers("second admin", "admin")
    assert (await alice.registry.SetPreference(preference())).recorded_by == alice.label
    assert (await bob.registry.SetPreference(preference(dnd=False))).recorded_by == bob.label
    granted = await alice.registry.GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id="acme")
    )
    revoked = await bob.registry.RevokeConsent(
        registry_pb2.RevokeConsentRequest(consumer_number=CONSUMER, org_id="acme")
    )
    assert (granted.recorded_by, revoked.recorded_by) == (alice.label, bob.label)
    h = await history(server)
    assert [e.recorded_by for e in h.entries] == [alice.label, bob.label]
    assert [c.recorded_by for c in h.consents] == [alice.label, bob.label]
    now = await alice.registry.GetPreference(registry_pb2.GetPreferenceRequest(number=CONSUMER))
    assert now.recorded_by == bob.label  # the entry in effect, and who made it

    def policy(mode: int, request_id: str) -> registry_pb2.SetOrgPolicyRequest:
        return registry_pb2.SetOrgPolicyRequest(org_id="acme", mode=mode, request_id=request_id)

    admin = registry_pb2_grpc.RegistryStub(server.channel)
    assert (await admin.SetOrgPolicy(policy(common_pb2.MODE_MONITOR, "p-1"))).recorded_by == admin_label(server)
    assert (await other_admin.registry.SetOrgPolicy(policy(common_pb2.MODE_ENFORCE, "p-2"))).recorded_by == (
        other_admin.label
    )
    # A replay returns the entry as it was made, by whoever made it.
    replay = await other_admin.registry.SetOrgPolicy(policy(common_pb2.MODE_MONITOR, "p-1"))
    assert (replay.mode, replay.recorded_by) == (common_pb2.MODE_MONITOR, admin_label(server))
    got = await admin.GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id="acme"))
    assert (got.mode, got.explicit, got.recorded_by) == (common_pb2.MODE_ENFORCE, True, other_admin.label)
    default = await admin.GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id="nobody-set-this"))
    assert (default.explicit, default.recorded_by) == (False, "")


async def test_an_import_and_an_in_call_opt_out_name_the_importer_and_the_dialer(server: Any, callers: Any) -> None:
    """Every row an import copies names the importing token; an opt-out reported after a call, the dialer's."""
    feed, dialer = await callers("national feed", "importer"), await callers("dialer 7", "dialer")

    async def rows() -> AsyncIterator[registry_pb2.ImportRegistryRequest]:
        row = registry_pb2.ImportRegistryRequest
        yield row(number="13912340001", do_not_disturb=True, source=APP)
        yield row(rows=[row(number=n, do_not_disturb=True, source=APP) for n in ("13912340001", "13912340002") * 2])

    summary = await feed.registry.ImportRegistry(rows())
    assert summary.accepted == 5
    call = await dialer.gate.Check(check_request())
    reported = await dialer.gate.ReportCallOutcome(
        gateway_pb2.ReportCallOutcomeRequest(call_id=call.call_id, dialled=True, consumer_opted_out=True)
    )
    assert reported.opt_out_registered
    [opt_out] = (await history(server)).entries
    assert (opt_out.source, opt_out.recorded_by) == (common_pb2.SOURCE_IN_CALL, dialer.label)
    assert [e.recorded_by for e in (await history(server, "13912340001")).entries] == [feed.label] * 3
    by_whom = await db_rows(server, "SELECT recorded_by, count(*) FROM preference_journal GROUP BY 1 ORDER BY 2")
    assert by_whom == [(dialer.label, 1), (feed.label, 5)]


async def test_complaint_history_and_payouts_name_who_filed_confirmed_and_paid(server: Any, callers: Any) -> None:
    """Filing, confirming and paying are each the caller's entry; what dncgate concludes itself is `dncgate`'s."""
    li, wang = await callers("hotline li", "hotline"), await callers("hotline wang", "hotline")
    desk = await callers("payments desk", "payments")
    await story_calls(server)
    filed = await li.compensation.FileComplaint(
        V.FileComplaintRequest(consumer_number=CONSUMER, caller_numbers=[A, B], channel=V.CHANNEL_APP)
    )
    assert [(h.actor, h.action) for h in filed.history] == [(li.label, "filed"), ("dncgate", "verified")]
    assert filed.history[0].note.startswith("via app: 2 caller numbers")
    first, second = (f.payout_id for f in filed.findings)
    paid = await desk.compensation.MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=first, payment_reference="B-1"))
    assert (paid.status, paid.paid_by) == (V.PAYOUT_STATUS_PAID, desk.label)
    listed = await desk.compensation.ListPayouts(V.ListPayoutsRequest())
    assert {(p.payout_id, p.paid_by) for p in listed.payouts} == {(first, desk.label), (second, "")}
    await desk.compensation.MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=second, payment_reference="B-2"))
    assert await db_rows(server, "SELECT DISTINCT paid_by FROM payouts") == [(desk.label,)]
    reopened = await wang.compensation.ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=filed.case_id, satisfied=False, comment="the second came late")
    )
    assert [(h.actor, h.action) for h in reopened.history] == [
        (li.label, "filed"),
        ("dncgate", "verified"),
        (desk.label, "payout_paid"),
        (desk.label, "payout_paid"),
        ("dncgate", "paid"),
        (wang.label, "reopened"),
    ]


def _fields(message: Descriptor, seen: set[str] | None = None) -> set[str]:
    """Every field name of a message and of the messages it holds (recursively)."""
    seen = set() if seen is None else seen
    if message.full_name in seen:
        return set()
    seen.add(message.full_name)
    names = set()
    for f in message.fields:
        names.add(f.name)
        if f.message_type is not None:
            names |= _fields(f.message_type, seen)
    return names


async def test_no_request_lets_a_client_name_who_made_a_change(server: Any, callers: Any) -> None:
    """No request message has a field for the recorder; one sent anyway (an unknown field) changes nothing."""
    for module in (registry_pb2, compensation_pb2, gateway_pb2, access_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                fields = _fields(method.input_type)
                assert not fields & {"recorded_by", "actor", "paid_by", "created_by", "revoked_by"}, method.full_name
    alice = await callers("alice app", "registry")
    # SetPreferenceRequest's bytes, then Preference.recorded_by's field (9) as a forger would add it.
    forged = preference().SerializeToString() + registry_pb2.Preference(recorded_by="mallory").SerializeToString()
    set_preference = alice.channel.unary_unary(
        "/dncgate.v1.Registry/SetPreference", response_deserializer=registry_pb2.Preference.FromString
    )
    assert (await set_preference(forged)).recorded_by == alice.label
    assert [e.recorded_by for e in (await history(server)).entries] == [alice.label]


async def test_the_cli_shows_who_made_each_entry_and_who_paid(server: Any, callers: Any) -> None:
    """`registry history`, `registry get`, `org get` and `payouts list` print the recording principal."""
    alice, desk = await callers("alice app", "registry"), await callers("payments desk", "payments")
    await alice.registry.SetPreference(preference(dnd=False))
    await story_calls(server)  # DND by the admin, acme's policy too
    hotline = compensation_pb2_grpc.CompensationStub(server.channel)
    case = await hotline.FileComplaint(V.FileComplaintRequest(consumer_number=CONSUMER, caller_numbers=[A]))
    await desk.compensation.MarkPayoutPaid(
        V.MarkPayoutPaidRequest(payout_id=case.findings[0].payout_id, payment_reference="B-1")
    )
    env = {**os.environ, "DNCGATE_TARGET": server.target, "DNCGATE_TOKEN": server.token, "COLUMNS": "300"}

    async def cli(*args: str) -> str:
        run = [sys.executable, "-m", "dncgate.cli", *args]
        done = await asyncio.to_thread(subprocess.run, run, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    shown = await asyncio.gather(
        cli("registry", "history", CONSUMER),
        cli("registry", "get", CONSUMER),
        cli("org", "get", "wuhan-01"),
        cli("payouts", "list"),
    )
    history_out, get_out, org_out, payouts_out = shown
    assert alice.label in history_out and admin_label(server) in history_out
    assert admin_label(server) in get_out and admin_label(server) in org_out
    assert desk.label in payouts_out
    assert all("13800138000" not in out for out in shown)
