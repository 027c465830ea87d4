"""ForgetConsumer over the real server: refused while a payout is pending, then the sealed numbers and
masks gone from PostgreSQL, the keyed do-not-disturb entry still blocking, the append-only tables
still refusing every other change, and the act itself recorded without the number."""

from __future__ import annotations

from typing import Any

import grpc
import psycopg
import pytest

from dncgate.v1 import common_pb2, gateway_pb2, registry_pb2
from tests.e2e.compensation_support import ORG, A, B, V, db_rows, file, hotline, refused, story_calls
from tests.e2e.conftest import CONSUMER, check_request, gate, registry
from tests.e2e.test_hotline_cli import cli

pytestmark = pytest.mark.e2e

MASK = "+86138****8000"  # CONSUMER, as every masked column and free text shows it


async def _a_paid_and_noted_case(server: Any) -> Any:
    """Her case with two payouts, her number in its description, an update and a history note."""
    await story_calls(server)
    stub = hotline(server)
    c = await file(server, A, B, description="she is on 138 0013 8000 and called twice")
    assert c.status == V.COMPLAINT_STATUS_VERIFIED and c.description == f"she is on {MASK} and called twice"
    await stub.AddComplaintUpdate(
        V.AddComplaintUpdateRequest(case_id=c.case_id, text="called her back on 13800138000", visible_to_consumer=True)
    )
    return c


async def test_forgetting_waits_for_pending_payouts_then_shreds_her_number_and_keeps_her_protected(
    server: Any, desk: Any
) -> None:
    """While payouts are pending: FAILED_PRECONDITION naming them, nothing changed. Once paid: the
    sealed columns are NULL, her mask is "[erased]" everywhere in her case, the counts say so, a
    replay answers the same erasure, her keyed do-not-disturb entry still blocks a call, and her
    keyed hash still knows the numbers she was paid for."""
    c = await _a_paid_and_noted_case(server)
    stub = hotline(server)
    payout_ids = sorted(f.payout_id for f in c.findings)
    forget = V.ForgetConsumerRequest(consumer_number="+86 138 0013 8000", request_id="forget-1")
    err = await refused(stub.ForgetConsumer, forget)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert all(p in (err.details() or "") for p in payout_ids)
    assert await db_rows(server, "SELECT count(*) FROM erasures") == [(0,)]
    assert await db_rows(server, "SELECT count(*) FROM complaints WHERE consumer_sealed IS NULL") == [(0,)]
    line, _ = await desk("hotline zhao", "hotline")
    denied = await refused(line.ForgetConsumer, forget)
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    for pid in payout_ids:
        reference = f"WX-{pid[-4:]} to 138 0013 8000"
        await stub.MarkPayoutPaid(V.MarkPayoutPaidRequest(payout_id=pid, payment_reference=reference))
    await stub.ConfirmResolution(
        V.ConfirmResolutionRequest(case_id=c.case_id, satisfied=True, comment=f"she ({MASK}) is happy")
    )

    erased = await stub.ForgetConsumer(forget)
    assert (erased.complaints_erased, erased.payouts_erased) == (1, 2)
    assert erased.calls_masked == (await db_rows(server, "SELECT count(*) FROM call_log"))[0][0] > 0
    assert await db_rows(server, "SELECT DISTINCT callee_masked FROM call_log") == [("[erased]",)]
    # description, the update and its notice, the two payout_paid and the confirmation's history notes,
    # the two references
    assert erased.texts_rewritten == 8 and erased.erasure_id.startswith("ER-")
    assert await db_rows(server, "SELECT count(*) FROM complaints WHERE consumer_sealed IS NOT NULL") == [(0,)]
    assert await db_rows(server, "SELECT count(*) FROM payouts WHERE consumer_sealed IS NOT NULL") == [(0,)]
    assert await db_rows(server, "SELECT DISTINCT consumer_masked FROM complaints") == [("[erased]",)]
    assert await db_rows(server, "SELECT DISTINCT consumer_masked FROM payouts") == [("[erased]",)]
    assert await db_rows(server, "SELECT count(*) FROM notifications WHERE destination_sealed IS NOT NULL") == [(0,)]
    assert await db_rows(server, "SELECT DISTINCT destination_masked FROM notifications") == [("[erased]",)]
    like = f"%%{MASK.replace('*', '_')}%%"
    for table, column in (
        ("complaints", "description"),
        ("complaint_history", "note"),
        ("complaint_updates", "text"),
        ("complaint_findings", "consent_evidence"),
        ("payouts", "payment_reference"),
        ("notifications", "text"),
    ):
        assert await db_rows(server, f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", like) == [(0,)], table
    shown = await stub.GetComplaint(V.GetComplaintRequest(case_id=c.case_id))
    assert shown.consumer_number_masked == "[erased]" and shown.description == "she is on [erased] and called twice"
    assert shown.updates[-1].text == "called her back on [erased]"
    assert MASK not in str(shown) and CONSUMER not in str(shown)
    rows = await db_rows(server, "SELECT actor, complaints_erased, payouts_erased, texts_rewritten FROM erasures")
    assert len(rows) == 1 and rows[0][0].startswith("bootstrap-admin") and rows[0][1:] == (1, 2, 8)
    assert await db_rows(server, "SELECT count(*) FROM erasures WHERE consumer_key IS NULL") == [(0,)]
    assert (await stub.ForgetConsumer(forget)).erasure_id == erased.erasure_id  # a replay erases nothing new
    assert await db_rows(server, "SELECT count(*) FROM erasures") == [(1,)]
    reused = await refused(
        stub.ForgetConsumer, V.ForgetConsumerRequest(consumer_number="13900139000", request_id="forget-1")
    )
    assert reused.code() == grpc.StatusCode.ALREADY_EXISTS

    # The keyed do-not-disturb entry stays: a call to her is still blocked (an org that enforces).
    blocked = await gate(server).Check(check_request(CONSUMER, org_id="enforcing-org"))
    assert (blocked.decision, blocked.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_REGISTERED)
    # Her keyed hash still knows what she was paid for: filing again owes nothing twice.
    again = await file(server, A)
    assert again.status == V.COMPLAINT_STATUS_ALREADY_COMPENSATED


async def test_the_append_only_tables_still_refuse_every_change_but_the_erasure_s(server: Any) -> None:
    """Outside an erasure, history and updates refuse any UPDATE or DELETE; inside one, only their text
    column may change; a paid payout may only lose its sealed number and mask; the erasures table
    itself is append-only."""
    await _a_paid_and_noted_case(server)
    url = server.settings.database_url
    refused = [
        "UPDATE complaint_history SET note = 'x'",
        "DELETE FROM complaint_history",
        "UPDATE complaint_updates SET text = 'x'",
        "SELECT set_config('dncgate.erasure', 'on', true); UPDATE complaint_history SET actor = 'someone else'",
        "SELECT set_config('dncgate.erasure', 'on', true); UPDATE complaint_updates SET visible_to_consumer = false",
        "SELECT set_config('dncgate.erasure', 'on', true); DELETE FROM complaint_updates",
        # a pending payout is never erased
        "SELECT set_config('dncgate.erasure', 'on', true); UPDATE payouts SET consumer_sealed = NULL",
        "INSERT INTO erasures (at, actor, consumer_key, complaints_erased, payouts_erased, calls_masked,"
        " texts_rewritten) VALUES (now(), 'a', decode(repeat('00', 32), 'hex'), 0, 0, 0, 0);"
        " UPDATE erasures SET actor = 'b'",
    ]
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for sql in refused:
            with pytest.raises(psycopg.errors.RaiseException):
                async with conn.transaction():
                    await conn.execute(sql.encode())
        async with conn.transaction():
            await conn.execute(b"SELECT set_config('dncgate.erasure', 'on', true)")
            await conn.execute(b"UPDATE complaint_history SET note = note || ' (rewritten)'")
        # the setting ended with its transaction
        with pytest.raises(psycopg.errors.RaiseException):
            async with conn.transaction():
                await conn.execute(b"UPDATE complaint_history SET note = 'again'")


async def test_the_command_line_forgets_a_consumer(server: Any) -> None:
    """`dncgate complaint forget NUMBER` says what it erased and that the do-not-disturb entry stays;
    a bad number is refused naming the field."""
    await file(server, "+862759009999", description="her number 13800138000")
    done = await cli(server, "complaint", "forget", CONSUMER, "--request-id", "f-cli")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cases shredded" in done.stdout and "do-not-disturb" in done.stdout
    assert await db_rows(server, "SELECT complaints_erased, texts_rewritten FROM erasures") == [(1, 1)]
    bad = await cli(server, "complaint", "forget", "12")
    assert bad.returncode != 0 and "consumer_number" in bad.stdout + bad.stderr


async def test_forgetting_erases_her_mask_from_her_org_list_reasons_and_consent_evidence_and_her_entries_still_bind(
    server: Any,
) -> None:
    """Her org-list entry's reason and her consent's evidence lose her mask (her rows only, picked by her
    keyed hash); the entry still blocks that org's call and the consent stays in force; the journals
    still refuse every other change, inside an erasure too."""
    reg = registry(server)
    await reg.AddToOrgList(
        registry_pb2.AddToOrgListRequest(org_id=ORG, number=CONSUMER, reason="she said on 138 0013 8000: never again")
    )
    await reg.GrantConsent(
        registry_pb2.GrantConsentRequest(consumer_number=CONSUMER, org_id="other-org", evidence="form of 13800138000")
    )
    # Another consumer's entry naming her number: not her row, so not hers to erase (a mask is ambiguous).
    await reg.AddToOrgList(
        registry_pb2.AddToOrgListRequest(org_id=ORG, number="13900139000", reason="neighbour of 13800138000")
    )
    assert await db_rows(server, "SELECT count(*) FROM org_list_journal WHERE strpos(reason, %s) > 0", MASK) == [(2,)]

    erased = await hotline(server).ForgetConsumer(V.ForgetConsumerRequest(consumer_number=CONSUMER))
    assert (erased.complaints_erased, erased.texts_rewritten) == (0, 2)
    reasons = await db_rows(server, "SELECT reason FROM org_list_journal ORDER BY seq")
    assert reasons == [("she said on [erased]: never again",), (f"neighbour of {MASK}",)]
    assert await db_rows(server, "SELECT evidence, granted FROM consent_journal") == [("form of [erased]", True)]

    blocked = await gate(server).Check(check_request(CONSUMER, org_id=ORG))
    assert (blocked.decision, blocked.reason) == (gateway_pb2.DECISION_BLOCK, gateway_pb2.REASON_ORG_LIST)
    history = await reg.GetOrgListHistory(registry_pb2.GetOrgListHistoryRequest(number=CONSUMER, org_id=ORG))
    assert history.listed and [e.reason for e in history.entries] == ["she said on [erased]: never again"]
    await reg.SetPreference(
        registry_pb2.SetPreferenceRequest(number=CONSUMER, do_not_disturb=True, source=common_pb2.SOURCE_APP)
    )
    consented = await gate(server).Check(check_request(CONSUMER, org_id="other-org"))
    assert consented.reason == gateway_pb2.REASON_CONSENT_ON_FILE  # the consent is in force as before

    on = "SELECT set_config('dncgate.erasure', 'on', true); "
    refused = [
        "UPDATE org_list_journal SET reason = 'x'",
        "DELETE FROM org_list_journal",
        "UPDATE consent_journal SET evidence = 'x'",
        on + "UPDATE org_list_journal SET listed = false",
        on + "UPDATE consent_journal SET granted = false",
        on + "UPDATE preference_journal SET do_not_disturb = false",
        on + "DELETE FROM org_list_journal",
    ]
    async with await psycopg.AsyncConnection.connect(server.settings.database_url) as conn:
        for sql in refused:
            with pytest.raises(psycopg.errors.RaiseException):
                async with conn.transaction():
                    await conn.execute(sql.encode())
