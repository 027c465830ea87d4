"""The frequency caps' counted calls outside the Check's script: giving a slot back.

The Check's script counts an ALLOWed call by adding its call id to the callee's own sorted set
(`hot.cap_key`, store/checkscript.py). A call the dialer reports as not dialled is taken out of it
again: ZREM of one member, so a second report of the same call changes nothing.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from dncgate.store.errors import translated
from dncgate.store.hot import cap_key


class CapSlots:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    @translated
    async def give_back(self, callee_key: bytes, call_id: str) -> bool:
        """Whether the call was still counted (and no longer is)."""
        removed: int = await self.client.zrem(cap_key(callee_key), call_id)
        return removed > 0
