"""Console users and their logins: a password, checked once with argon2, buys a session token.

A user is a principal like a token. `dncgate user create` stores an argon2id hash of the password
(never the password) with the user's roles and orgs. A successful `login` mints a token in
`api_tokens` named after the user, with the user's grants and an expiry (the session's longest life):
the console calls gRPC with it, so the gRPC side verifies it as it verifies every token (an HMAC and
a cache, no argon2 per call) and applies the same access table. `logout` revokes it; the console does
so at logout and when a session idles out, so a stolen session cookie dies with the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dncgate.domain import access
from dncgate.domain.errors import InvalidArgument
from dncgate.service.access import AccessService, NewToken

log = structlog.get_logger("dncgate.logins")

MIN_PASSWORD = 10  # characters; argon2 slows guessing, it does not make a short password long
MAX_PASSWORD = 1024
CREATED_BY = "console login"  # the session tokens' created_by: what minted them


@dataclass(frozen=True, slots=True)
class UserRow:
    """One row of `console_users`."""

    name: str
    password_hash: str
    roles: tuple[str, ...]
    orgs: tuple[str, ...]
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None


class Users(Protocol):
    """The port `store/users.py`'s `UserStore` satisfies."""

    async def insert(self, row: UserRow) -> None: ...

    async def get(self, name: str) -> UserRow | None: ...

    async def set_hash(self, name: str, password_hash: str) -> None: ...


class LoginService:
    """Create users; log them in (a session token) and out (the token revoked)."""

    def __init__(
        self,
        users: Users,
        access_service: AccessService,
        session_s: float,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._users = users
        self._access = access_service
        self._session = timedelta(seconds=session_s)
        self._hasher = hasher or PasswordHasher()
        self._now = clock or (lambda: datetime.now(UTC))
        # Verified against when the name is unknown: an unknown name costs what a wrong password does.
        self._decoy = self._hasher.hash("not a password of anyone's")

    async def create_user(
        self, actor: str, name: str, password: str, roles: Sequence[str], orgs: Sequence[str] = ()
    ) -> UserRow:
        """A new user with these grants; the password is kept as its argon2id hash only."""
        if not access.valid_name(name):
            raise InvalidArgument("name", "1-128 letters, digits, spaces or ._@:+- (no leading or trailing space)")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidArgument("password", f"{MIN_PASSWORD} to {MAX_PASSWORD} characters")
        if not roles:
            raise InvalidArgument("roles", f"at least one of {', '.join(access.ROLE_METHODS)}")
        for i, role in enumerate(roles):
            if role not in access.ROLE_METHODS:
                raise InvalidArgument(
                    f"roles[{i}]", f"{role!r} is not a role; expected one of {', '.join(access.ROLE_METHODS)}"
                )
        row = UserRow(
            name=name,
            password_hash=await asyncio.to_thread(self._hasher.hash, password),
            roles=tuple(dict.fromkeys(roles)),
            orgs=tuple(dict.fromkeys(o.strip() for o in orgs if o.strip())),
            created_at=self._now(),
            created_by=actor,
        )
        await self._users.insert(row)
        log.info("user_created", user=name, roles=list(row.roles), by=actor)
        return row

    async def login(self, name: str, password: str) -> NewToken | None:
        """A session token for the user if the password is theirs (and the user is not disabled), else
        None; which of name or password was wrong is not told."""
        if len(password) > MAX_PASSWORD or not access.valid_name(name):
            return None
        row = await self._users.get(name)
        if not await asyncio.to_thread(self._verify, row.password_hash if row else self._decoy, password):
            log.info("login_failed", user=name if row else "")
            return None
        if row is None or row.disabled_at is not None:
            log.info("login_failed", user=name if row else "")
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            await self._users.set_hash(name, await asyncio.to_thread(self._hasher.hash, password))
        token = await self._access.create(
            CREATED_BY, name=row.name, roles=row.roles, orgs=row.orgs, expires_at=self._now() + self._session
        )
        log.info("login", user=name, token_id=token.row.id)
        return token

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def logout(self, token_id: str) -> None:
        """Revoke a session token (at logout, or when its session idled out)."""
        await self._access.revoke(CREATED_BY, token_id)
