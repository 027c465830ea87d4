"""The port of the access use cases (service/access.py): the stored tokens and certificate subjects.

`store/tokens.py`'s `TokenStore` satisfies it; an outage raises `StoreUnavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dncgate.domain.access import Kind


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One row of `api_tokens`. `secret_hash` is None for a certificate; `orgs` empty means every org."""

    id: str
    kind: Kind
    name: str
    subject: str
    secret_hash: bytes | None
    roles: tuple[str, ...]
    orgs: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str
    revoked_by: str | None = None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Tokens(Protocol):
    async def insert(self, row: TokenRow) -> None: ...

    async def live_subject(self, subject: str) -> TokenRow | None: ...

    async def all(self, include_revoked: bool = True) -> list[TokenRow]: ...

    async def version(self) -> int: ...

    async def revoke(self, token_id: str, at: datetime, by: str) -> TokenRow | None: ...

    async def ensure_admin(self, row: TokenRow, now: datetime) -> bool: ...
