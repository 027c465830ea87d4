"""ForgetConsumer: a consumer's deletion request, honoured once every payout owed to her is paid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from dncgate import phone
from dncgate.domain import access
from dncgate.domain.erasure import Erasure, check_erasable
from dncgate.domain.errors import Conflict, InvalidArgument
from dncgate.service.compensation_ports import Erasures

log = structlog.get_logger("dncgate.compensation")


class ErasureDesk:
    """Shreds what could give her number back, keeps what keeps her from being called.

    Destroyed: the sealed number of her cases and payouts (nothing can decrypt it again), her mask in
    their consumer_masked columns, in their free text, in the call log's callee_masked and in the free
    text of her journal rows (a consent's evidence, an org-list entry's reason). Kept: the keyed hashes
    (HMAC of the number with the pepper) on her do-not-disturb entry, org-list entries, consents,
    cases, payouts and calls. The do-not-disturb entry and the org-list entries are what block the next
    call to her (an org she told not to call her still may not); the payouts' hashes are what
    keep a caller from being paid for twice. A keyed hash names no number without the pepper, and only
    a caller who already has the number can test it.
    """

    def __init__(self, store: Erasures, keyer: phone.NumberKeyer, region: str, now: Callable[[], datetime]) -> None:
        self.store = store
        self.keyer = keyer
        self.region = region
        self.now = now

    async def forget(self, consumer_number: str, request_id: str = "", *, actor: str) -> Erasure:
        """Erase her number, under `actor` (the admin principal); refused while a payout is still pending."""
        access.actor(actor)
        if not consumer_number.strip():
            raise InvalidArgument("consumer_number", "is required")
        consumer = phone.try_parse(consumer_number, self.region)
        if consumer is None:
            raise InvalidArgument("consumer_number", "is not a valid phone number")
        key = self.keyer.digest(consumer.e164)
        rid = request_id.strip() or None
        async with self.store.transaction() as tx:
            if rid is not None and (done := await tx.by_request_id(rid)) is not None:
                return _replayed(done, key, rid)
            case_ids = await tx.lock_consumer(key)
            check_erasable(await tx.pending_payouts(case_ids))
            counts = await tx.shred(key, case_ids, consumer.masked)
            recorded = await tx.record(
                rid,
                self.now(),
                actor,
                key,
                counts["complaints"],
                counts["payouts"],
                counts["calls"],
                counts["texts"],
            )
            if recorded is None:  # the same request_id, committed first by a concurrent call
                assert rid is not None
                done = await tx.by_request_id(rid)
                assert done is not None
                return _replayed(done, key, rid)
            erasure = recorded
        log.info(
            "consumer_erased",
            erasure_id=erasure.erasure_id,
            complaints=erasure.complaints,
            payouts=erasure.payouts,
            calls=erasure.calls,
            texts=erasure.texts,
        )
        return erasure


def _replayed(done: tuple[Erasure, bytes], key: bytes, request_id: str) -> Erasure:
    erasure, owner = done
    if owner != key:
        raise Conflict(f"request_id {request_id!r} was already used to erase another consumer")
    return erasure
