"""Free text that reaches PostgreSQL (consent evidence, payment references) keeps no phone number in clear."""

from __future__ import annotations

from typing import Any

import pytest

from dncgate.service.compensation import ComplaintInput
from tests.integration.support import CONSUMER
from tests.integration.test_compensation_store import monitored_calls

pytestmark = pytest.mark.integration

OTHER = "13900139000"  # a number the text mentions, in the consumer's own words
CLEAR = (OTHER, "+86" + OTHER, "86" + OTHER)


async def test_consent_evidence_is_journaled_with_numbers_masked(app: Any) -> None:
    """`consent grant --evidence "recorded call ... 13900139000"`: the journal row holds the mask only."""
    view = await app.registry.grant_consent(
        CONSUMER, "acme", "", None, f"recorded call 2026-11-02 14:03 from {OTHER}, id REC-77", "g-1", actor="test"
    )
    assert view.change.evidence == "recorded call 2026-11-02 14:03 from +86139****9000, id REC-77"
    async with app.pool.connection() as conn:
        rows = await (await conn.execute("SELECT evidence FROM consent_journal")).fetchall()
    assert [r[0] for r in rows] == [view.change.evidence]
    assert not any(c in rows[0][0] for c in CLEAR)


async def test_a_payment_reference_is_stored_with_numbers_masked_and_its_transaction_id_readable(app: Any) -> None:
    """A number in a payment reference is masked in the payout and the case history; the payment
    system's long transaction id stays as it was, and the same reference again is still a no-op."""
    await monitored_calls(app, "+862759001111")
    case = await app.compensation.file_complaint(
        ComplaintInput(CONSUMER, ["+862759001111"]), actor="test", filer_name="test"
    )
    payout_id = case.findings[0].payout_id
    reference = f"WX 4200001234202611221234567890 to {OTHER}"
    paid = await app.compensation.payouts.mark_paid(payout_id, reference, actor="test")
    assert paid.payment_reference == "WX 4200001234202611221234567890 to +86139****9000"
    again = await app.compensation.payouts.mark_paid(payout_id, reference, actor="test")
    assert again.payment_reference == paid.payment_reference and again.paid_at == paid.paid_at
    async with app.pool.connection() as conn:
        stored = await (await conn.execute("SELECT payment_reference FROM payouts")).fetchall()
        notes = await (await conn.execute("SELECT note FROM complaint_history")).fetchall()
    texts = [r[0] for r in stored] + [r[0] for r in notes]
    assert any("4200001234202611221234567890" in t for t in texts if t)
    assert [t for t in texts if t and any(c in t for c in CLEAR)] == []
