"""The credential's hot path (`Authenticator.cached_header`, what `Guard.fast` asks on every RPC): the exact
`authorization` value of a verified token, its expiry compared on every call, nothing else found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dncgate.domain.errors import Unauthenticated
from dncgate.service.access import AccessService, Authenticator
from dncgate.store.pg import Database
from dncgate.store.tokens import TokenStore
from tests.conftest import TEST_PEPPER

pytestmark = pytest.mark.integration


async def test_the_hot_path_finds_a_verified_token_by_its_header_until_the_second_it_expires(app) -> None:
    tokens = TokenStore(Database(app.pool, 5.0))
    now = datetime.now(UTC)
    clock = [now.timestamp()]
    auth = Authenticator(tokens, TEST_PEPPER, clock=lambda: clock[0])
    new = await AccessService(tokens, TEST_PEPPER).create(
        "t", name="d", roles=["dialer"], expires_at=now + timedelta(seconds=60)
    )
    header = f"Bearer {new.token}"
    assert auth.cached_header(header) is None  # not verified yet: the slow path looks first
    assert (await auth.token(new.token)).id == new.row.id
    p = auth.cached_header(header)
    assert p is not None and p.id == new.row.id and auth.cached(new.token) is p
    # Only the exact value is found: any other shape goes to `Guard.principal`, which parses it.
    for other in (new.token, f"bearer {new.token}", f"Bearer  {new.token}", f"{header} ", f"Basic {new.token}"):
        assert auth.cached_header(other) is None, other
    clock[0] = now.timestamp() + 59.9
    assert auth.cached_header(header) is p
    clock[0] = now.timestamp() + 60.0  # from its expiry on, on the very next call
    assert auth.cached_header(header) is None and auth.cached(new.token) is None
    with pytest.raises(Unauthenticated, match="expired"):
        await auth.token(new.token)
