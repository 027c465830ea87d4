"""Tokens and who holds them: create, list, revoke, the first admin token, and verification with a cache.

A token is `dnc_<id>_<secret>`; only HMAC-SHA256(key, id "_" secret) is stored, the key derived from the
pepper, so a row of another deployment verifies nothing here. `Authenticator` answers a request from an
in-process cache (a dict lookup and an expiry compare); every replica polls the table's version each
`refresh_s` (1 s), so a revocation anywhere is refused everywhere within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from dncgate import subjects
from dncgate.domain import access
from dncgate.domain.access import Kind, Principal
from dncgate.domain.errors import InvalidArgument, NotFound, StoreUnavailable, Unauthenticated
from dncgate.service.access_ports import TokenRow, Tokens

log = structlog.get_logger("dncgate.access")

_ALPHABET = string.ascii_letters + string.digits
_KEY_INPUT = b"dncgate api token key v1"
_MAX_CACHED = 10_000
_MISS_REFRESH_S = 0.25  # a token not in the cache refreshes the rows at most this often
BOOTSTRAP_NAME = "bootstrap-admin"


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def token_key(pepper: bytes) -> bytes:
    return hmac.new(pepper, _KEY_INPUT, hashlib.sha256).digest()


def secret_hash(key: bytes, token_id: str, secret: str) -> bytes:
    return hmac.new(key, f"{token_id}_{secret}".encode(), hashlib.sha256).digest()


def _epoch(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()


def principal_of(row: TokenRow) -> Principal:
    return access.principal(row.id, row.kind, row.name, row.subject, row.roles, row.orgs, _epoch(row.expires_at))


@dataclass(frozen=True, slots=True)
class NewToken:
    row: TokenRow
    token: str  # the whole `dnc_<id>_<secret>`, shown once; "" for a certificate subject


class AccessService:
    """The use cases of `dncgate.v1.Access` and of `dncgate token create --bootstrap`."""

    def __init__(self, tokens: Tokens, pepper: bytes, clock: Callable[[], datetime] | None = None) -> None:
        self._tokens = tokens
        self._key = token_key(pepper)
        self._now = clock or (lambda: datetime.now(UTC))
        self.on_change: Callable[[str], None] = lambda token_id: None  # the local cache forgets at once

    def _new_row(
        self,
        *,
        name: str,
        roles: Sequence[str],
        orgs: Sequence[str],
        expires_at: datetime | None,
        certificate_subject: str,
        created_by: str,
    ) -> tuple[TokenRow, str]:
        if not access.valid_name(name):
            raise InvalidArgument("name", "1-128 letters, digits, spaces or ._@:+- (no leading or trailing space)")
        if not roles:
            raise InvalidArgument("roles", f"at least one of {', '.join(access.ROLES)}")
        for i, role in enumerate(roles):
            if role not in access.ROLE_METHODS:
                expected = ", ".join(access.ROLES)
                raise InvalidArgument(f"roles[{i}]", f"{role!r} is not a role; expected one of {expected}")
        for i, org in enumerate(orgs):
            if not org.strip():
                raise InvalidArgument(f"orgs[{i}]", "is empty")
        now = self._now()
        if expires_at is not None and expires_at <= now:
            raise InvalidArgument("expires_at", "is in the past")
        token_id = _random(access.TOKEN_ID_LENGTH)
        if certificate_subject:
            try:
                subject = subjects.normalize(certificate_subject)
            except subjects.SubjectError as exc:
                raise InvalidArgument("certificate_subject", str(exc)) from None
            kind, secret_digest, token = Kind.CERTIFICATE, None, ""
        else:
            secret = _random(access.SECRET_LENGTH)
            kind, subject, secret_digest = Kind.TOKEN, "", secret_hash(self._key, token_id, secret)
            token = access.format_token(token_id, secret)
        row = TokenRow(
            id=token_id,
            kind=kind,
            name=name,
            subject=subject,
            secret_hash=secret_digest,
            roles=tuple(dict.fromkeys(roles)),
            orgs=tuple(dict.fromkeys(o.strip() for o in orgs)),
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            created_by=created_by,
        )
        return row, token

    async def create(
        self,
        actor: str,
        *,
        name: str,
        roles: Sequence[str],
        orgs: Sequence[str] = (),
        expires_at: datetime | None = None,
        certificate_subject: str = "",
    ) -> NewToken:
        """A new token (or certificate subject) with these grants, created by `actor`."""
        row, token = self._new_row(
            name=name,
            roles=roles,
            orgs=orgs,
            expires_at=expires_at,
            certificate_subject=certificate_subject,
            created_by=actor,
        )
        if row.kind is Kind.CERTIFICATE and await self._tokens.live_subject(row.subject) is not None:
            raise InvalidArgument("certificate_subject", f"{row.subject} already has a live entry; revoke it first")
        await self._tokens.insert(row)
        log.info("token_created", token_id=row.id, kind=row.kind.value, roles=list(row.roles), by=actor)
        return NewToken(row, token)

    async def list(self, include_revoked: bool = False) -> list[TokenRow]:
        return await self._tokens.all(include_revoked)

    async def revoke(self, actor: str, token_id: str) -> TokenRow:
        if not token_id:
            raise InvalidArgument("id", "is required")
        row = await self._tokens.revoke(token_id, self._now(), actor)
        if row is None:
            raise NotFound(f"no token {token_id}")
        self.on_change(token_id)
        log.info("token_revoked", token_id=token_id, by=actor)
        return row

    async def ensure_admin(self, created_by: str) -> str | None:
        """A new admin token if no live one exists (the whole token, to write to a file), else None."""
        row, token = self._new_row(
            name=BOOTSTRAP_NAME,
            roles=[access.ADMIN],
            orgs=(),
            expires_at=None,
            certificate_subject="",
            created_by=created_by,
        )
        if not await self._tokens.ensure_admin(row, self._now()):
            return None
        log.info("admin_token_created", token_id=row.id)
        return token


_BEARER = "Bearer "  # a verified token is cached under its `authorization` value as sent: this, then the token


class Authenticator:
    """Bearer tokens and certificate subjects to principals, from an in-process cache.

    `cached_header` is the hot path: one dict lookup (`Bearer <token>` as sent, verified before it got there)
    and an expiry compare. A token not in the cache is verified once (its row by id, HMAC compared in
    constant time) and cached. `refresh` reloads the rows when the table's version has changed; the
    rows are never looked up one by one, so no request makes a query of its own.
    """

    def __init__(self, tokens: Tokens, pepper: bytes, clock: Callable[[], float] = time.time) -> None:
        self._tokens = tokens
        self._key = token_key(pepper)
        self._clock = clock
        self._rows: dict[str, TokenRow] = {}
        self._subjects: dict[str, TokenRow] = {}
        self._verified: dict[str, Principal] = {}
        self._certified: dict[str, Principal] = {}
        self._version: int | None = None
        self._refreshed_at = -_MISS_REFRESH_S
        self._lock = asyncio.Lock()

    def cached(self, token: str) -> Principal | None:
        """The principal of an already-verified, unexpired token; None if it must be verified first."""
        return self.cached_header(_BEARER + token)

    def cached_header(self, value: str) -> Principal | None:
        """`cached` for an `authorization` metadata value as sent, what `Guard.fast` holds: no string is cut
        or built per call. Only the exact `Bearer <token>` of a verified token is found; anything else
        (another scheme, a space more) is None, and `Guard.principal` looks at it."""
        p = self._verified.get(value)
        if p is not None and (p.expires_at is None or p.expires_at > self._clock()):
            return p
        return None

    async def token(self, token: str) -> Principal:
        """The principal of a bearer token; Unauthenticated for a malformed, unknown, revoked or expired one."""
        p = self.cached(token)
        if p is not None:
            return p
        parsed = access.parse_token(token)
        if parsed is None:
            raise Unauthenticated("malformed bearer token: expected dnc_<id>_<secret>", "malformed")
        token_id, secret = parsed
        row = await self._lookup(token_id, lambda: self._rows)
        if row is None or row.kind is not Kind.TOKEN or row.secret_hash is None:
            raise Unauthenticated(f"unknown token {token_id}")
        if not hmac.compare_digest(secret_hash(self._key, token_id, secret), row.secret_hash):
            raise Unauthenticated(f"unknown token {token_id}")
        p = self._live(row)
        if len(self._verified) >= _MAX_CACHED:
            self._verified.clear()
        self._verified[_BEARER + token] = p  # well-formed (parsed above): one key per token
        return p

    async def certificate(self, subject: str) -> Principal:
        """The principal mapped to a verified client certificate's subject (RFC 4514)."""
        p = self._certified.get(subject)
        if p is not None and (p.expires_at is None or p.expires_at > self._clock()):
            return p
        row = await self._lookup(subject, lambda: self._subjects)
        if row is None:
            raise Unauthenticated(f"no live entry for certificate subject {subject}", "unknown_certificate")
        p = self._live(row)
        if len(self._certified) >= _MAX_CACHED:
            self._certified.clear()
        self._certified[subject] = p
        return p

    def _live(self, row: TokenRow) -> Principal:
        if row.revoked_at is not None:
            raise Unauthenticated(f"token {row.id} was revoked", "revoked")
        p = principal_of(row)
        if p.expires_at is not None and p.expires_at <= self._clock():
            raise Unauthenticated(f"token {row.id} expired at {row.expires_at:%Y-%m-%dT%H:%M:%SZ}", "expired")
        return p

    async def _lookup(self, key: str, table: Callable[[], dict[str, TokenRow]]) -> TokenRow | None:
        """The row under `key` in the table `table()` returns; on a miss, after a refresh begun since.

        Misses share their refreshes, at most one per `_MISS_REFRESH_S` (a miss waits for the next one,
        a quarter of a second at most): a flood of made-up ids costs PostgreSQL four cheap queries a
        second, and a token created a moment ago on another replica is known on its first use.
        """
        row = table().get(key)
        if row is None:
            await self._refreshed_since(self._clock())
            row = table().get(key)
        return row

    async def _refreshed_since(self, arrived: float) -> None:
        async with self._lock:
            if self._refreshed_at >= arrived:  # another miss's refresh began after this one arrived
                return
            wait = self._refreshed_at + _MISS_REFRESH_S - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.refresh()

    def forget(self, token_id: str) -> None:
        """Drop what is cached of a token now (its revocation here), before the next refresh."""
        self._verified = {t: p for t, p in self._verified.items() if p.id != token_id}
        self._certified = {s: p for s, p in self._certified.items() if p.id != token_id}
        self._rows.pop(token_id, None)
        self._subjects = {s: r for s, r in self._subjects.items() if r.id != token_id}

    async def refresh(self) -> bool:
        """Reload the rows if the table changed since the last look; whether it had."""
        started = self._clock()
        version = await self._tokens.version()
        self._refreshed_at = started
        if version == self._version:
            return False
        rows = await self._tokens.all(include_revoked=True)
        self._rows = {r.id: r for r in rows}
        self._subjects = {r.subject: r for r in rows if r.kind is Kind.CERTIFICATE and r.revoked_at is None}
        self._verified, self._certified = {}, {}
        self._version = version
        return True

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Refresh every `interval_s` until `stop`; an outage keeps the last rows (logged once per outage)."""
        down = False
        while not stop.is_set():
            try:
                await self.refresh()
                if down:
                    log.info("token_refresh_recovered")
                down = False
            except StoreUnavailable as exc:
                if not down:
                    log.warning("token_refresh_failed", detail=exc.message)
                down = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
