"""api_tokens in PostgreSQL: one admin among replicas starting at once, revocation kept, the cache's view."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dncgate.domain.errors import Unauthenticated
from dncgate.service.access import AccessService, Authenticator
from dncgate.store.pg import Database
from dncgate.store.tokens import TokenStore
from tests.conftest import TEST_PEPPER

pytestmark = pytest.mark.integration


async def test_replicas_starting_together_create_one_admin_token_between_them(app) -> None:
    """Eight concurrent `ensure_admin` calls on an empty table: exactly one token, one row."""
    services = [AccessService(TokenStore(Database(app.pool, 5.0)), TEST_PEPPER) for _ in range(8)]
    made = await asyncio.gather(*(s.ensure_admin("replica") for s in services))
    assert len([t for t in made if t]) == 1
    assert [r.roles for r in await TokenStore(Database(app.pool, 5.0)).all()] == [("admin",)]


async def test_an_expired_admin_token_does_not_count_as_one(app) -> None:
    """A live admin is one neither revoked nor expired: past its expiry, start-up makes a new one."""
    tokens = TokenStore(Database(app.pool, 5.0))
    now = datetime.now(UTC)
    svc = AccessService(tokens, TEST_PEPPER, clock=lambda: now)
    await svc.create("t", name="old-admin", roles=["admin"], expires_at=now + timedelta(seconds=1))
    later = AccessService(tokens, TEST_PEPPER, clock=lambda: now + timedelta(seconds=2))
    assert await later.ensure_admin("serve") is not None
    assert await later.ensure_admin("serve") is None


async def test_the_secret_is_not_stored_and_rows_are_never_deleted(app, settings) -> None:
    """Only a 32-byte keyed hash is kept; DELETE is refused by the table's trigger."""
    svc = AccessService(TokenStore(Database(app.pool, 5.0)), TEST_PEPPER)
    new = await svc.create("t", name="d", roles=["dialer"])
    secret = new.token.split("_")[2]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        dump = repr(conn.execute("SELECT * FROM api_tokens").fetchall())
        assert secret not in dump and secret.encode().hex() not in dump
        with pytest.raises(psycopg.errors.RaiseException):
            conn.execute("DELETE FROM api_tokens")


async def test_the_cache_sees_a_revocation_made_elsewhere_on_its_next_refresh(app) -> None:
    """Another process's revocation: still served from the cache until `refresh` sees the new version."""
    tokens = TokenStore(Database(app.pool, 5.0))
    svc = AccessService(tokens, TEST_PEPPER)
    auth = Authenticator(tokens, TEST_PEPPER)
    new = await svc.create("t", name="d", roles=["dialer"])
    await auth.refresh()
    assert (await auth.token(new.token)).id == new.row.id
    assert auth.cached(new.token) is not None
    assert not await auth.refresh()  # nothing changed: no reload
    await svc.revoke("t", new.row.id)  # as another replica would: this Authenticator is not told
    assert await auth.refresh()
    assert auth.cached(new.token) is None
    with pytest.raises(Unauthenticated, match="revoked"):
        await auth.token(new.token)


class _CountedTokens(TokenStore):
    """The real store, counting how often its version is asked for."""

    versions = 0

    async def version(self) -> int:
        self.versions += 1
        return await super().version()


async def test_a_flood_of_unknown_tokens_shares_a_few_refreshes_and_a_new_token_is_known_at_once(app) -> None:
    """Fifty made-up ids at once cost one or two queries; a token made by another replica since works."""
    tokens = _CountedTokens(Database(app.pool, 5.0))
    auth = Authenticator(tokens, TEST_PEPPER)
    await auth.refresh()
    tokens.versions = 0
    made_up = [f"dnc_Unknown{i:03d}_{'A' * 32}" for i in range(50)]
    results = await asyncio.gather(*(auth.token(t) for t in made_up), return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert 1 <= tokens.versions <= 2
    elsewhere = await AccessService(TokenStore(Database(app.pool, 5.0)), TEST_PEPPER).create(
        "t", name="new", roles=["dialer"]
    )
    assert (await auth.token(elsewhere.token)).name == "new"
