"""console_users in PostgreSQL: argon2 hashes only, a login mints a session token the gRPC side verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from argon2 import PasswordHasher

from dncgate.domain.errors import InvalidArgument, Unauthenticated
from dncgate.service.access import AccessService, Authenticator
from dncgate.service.logins import CREATED_BY, LoginService
from dncgate.store.pg import Database
from dncgate.store.tokens import TokenStore
from dncgate.store.users import UserStore
from tests.conftest import TEST_PEPPER

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
# Cheap parameters: the tests are about what is stored and minted, not argon2's cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _logins(app, session_s: float = 3600, hasher: PasswordHasher = FAST) -> tuple[LoginService, TokenStore]:
    db = Database(app.pool, 5.0)
    tokens = TokenStore(db)
    return LoginService(UserStore(db), AccessService(tokens, TEST_PEPPER), session_s, hasher), tokens


async def test_only_an_argon2id_hash_of_the_password_is_stored(app, settings) -> None:
    """The row holds `$argon2id$...`, never the password; the roles and orgs are the user's grants."""
    logins, _ = _logins(app)
    await logins.create_user("cli", "hotline zhao", PASSWORD, ["hotline"], ["wuhan-01"])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT * FROM console_users").fetchall()
    assert PASSWORD not in repr(rows)
    [(name, digest, roles, orgs, *_)] = rows
    assert (name, roles, orgs) == ("hotline zhao", ["hotline"], ["wuhan-01"]) and digest.startswith("$argon2id$")


async def test_a_login_mints_a_session_token_with_the_users_grants_that_the_authenticator_verifies(app) -> None:
    """The right password: a token named after the user, her roles, expiring with the session's life."""
    logins, tokens = _logins(app, session_s=600)
    await logins.create_user("cli", "payments li", PASSWORD, ["payments"])
    before = datetime.now(UTC)
    minted = await logins.login("payments li", PASSWORD)
    assert minted is not None and minted.row.created_by == CREATED_BY
    assert minted.row.expires_at is not None
    assert before + timedelta(seconds=590) < minted.row.expires_at < before + timedelta(seconds=610)
    p = await Authenticator(tokens, TEST_PEPPER).token(minted.token)
    assert (p.name, p.roles) == ("payments li", frozenset({"payments"}))


async def test_a_wrong_password_and_an_unknown_user_are_refused_alike(app) -> None:
    """Both are None: which of the two was wrong is not told; no token is minted."""
    logins, tokens = _logins(app)
    await logins.create_user("cli", "hotline zhao", PASSWORD, ["hotline"])
    assert await logins.login("hotline zhao", "wrong password!") is None
    assert await logins.login("nobody", PASSWORD) is None
    assert await tokens.all() == []


async def test_logout_revokes_the_session_token_at_once(app) -> None:
    """After logout the token is refused by the gRPC side's authenticator."""
    logins, tokens = _logins(app)
    await logins.create_user("cli", "hotline zhao", PASSWORD, ["hotline"])
    minted = await logins.login("hotline zhao", PASSWORD)
    assert minted is not None
    await logins.logout(minted.row.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        await Authenticator(tokens, TEST_PEPPER).token(minted.token)


async def test_a_second_user_of_the_same_name_a_short_password_and_an_unknown_role_are_refused(app) -> None:
    """Each is InvalidArgument naming the field."""
    logins, _ = _logins(app)
    await logins.create_user("cli", "hotline zhao", PASSWORD, ["hotline"])
    for name, password, roles, field in (
        ("hotline zhao", PASSWORD, ["hotline"], "name"),
        ("hotline qian", "short", ["hotline"], "password"),
        ("hotline qian", PASSWORD, ["cashier"], "roles[0]"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            await logins.create_user("cli", name, password, roles)
        assert refused.value.field == field


async def test_a_hash_made_with_weaker_parameters_is_rehashed_at_login(app, settings) -> None:
    """argon2's parameters raised since the password was set: the next login stores a new hash."""
    weak, _ = _logins(app, hasher=FAST)
    await weak.create_user("cli", "hotline zhao", PASSWORD, ["hotline"])
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    logins, _ = _logins(app, hasher=stronger)
    assert await logins.login("hotline zhao", PASSWORD) is not None
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        [(digest,)] = conn.execute("SELECT password_hash FROM console_users").fetchall()
    assert not stronger.check_needs_rehash(digest)
