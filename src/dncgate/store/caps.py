"""The frequency caps' counted calls outside the Check's script: giving a slot back.

The Check's script counts an ALLOWed call by adding its call id to the callee's own sorted set
(`hot.cap_key`, store/checkscript.py). A call the dialer reports as not dialled is taken out of it
again (and out of her count from the org, for its own daily cap): ZREM of one member, so a second
report of the same call changes nothing.
"""

from __future__ import annotations

from dncgate.store.errors import translated
from dncgate.store.hot import HotRegistry


class CapSlots:
    def __init__(self, hot: HotRegistry) -> None:
        self.client = hot.client
        self.layout = hot.layout

    @translated
    async def give_back(self, callee_key: bytes, org_id: str, call_id: str) -> bool:
        """Take the call out of the callee's count and out of her count from its org; whether it was
        still counted in either (and no longer is)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.layout.cap_key(callee_key), call_id)  # one shard's tag: one slot, one MULTI
        pipe.zrem(self.layout.org_cap_key(callee_key, org_id), call_id)
        removed: list[int] = await pipe.execute()
        return any(removed)
