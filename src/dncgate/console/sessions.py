"""Server-side console sessions: the cookie holds a random id, everything else stays in this process.

A session starts anonymous (the login and status forms need its CSRF token) and is replaced by a new
one, with a new id and CSRF token, at login: an id planted before the login is worth nothing after it.
A session unused for `idle_s` is gone; `sweep` hands back those that idled out so their session tokens
can be revoked. The console runs in one process, so the sessions need no shared store: a restart logs
everyone out (their session tokens are revoked by expiry, or by an admin).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dncgate.console import i18n

COOKIE = "dncgate_session"
_MAX_SESSIONS = 50_000  # anonymous sessions are cheap to make: past this, the oldest anonymous one goes


@dataclass(slots=True)
class Session:
    """One browser's session. `token` is the credential sent to gRPC (empty: not logged in);
    `token_id` is set when the console minted it (a password login) and must revoke it."""

    id: str
    csrf: str
    last_seen: float
    lang: str = i18n.DEFAULT
    token: str = ""
    token_id: str | None = None
    name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    flash: str = ""  # a message key shown once, on the next page

    @property
    def logged_in(self) -> bool:
        return bool(self.token)

    def csrf_ok(self, sent: str | None) -> bool:
        """Whether a form's CSRF field is this session's token (compared in constant time)."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionStore:
    """The live sessions of this process, by id."""

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def new(self, lang: str = i18n.DEFAULT) -> Session:
        if len(self._sessions) >= _MAX_SESSIONS:
            # A flood of cookie-less requests evicts anonymous sessions (the oldest first), not logins.
            oldest = min(self._sessions.values(), key=lambda s: (s.logged_in, s.last_seen))
            self._sessions.pop(oldest.id)
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock(), i18n.language(lang))
        self._sessions[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id, its idle clock restarted; None for an unknown or idle one (an
        idle one stays until `sweep` hands it back for its token to be revoked)."""
        if not session_id:
            return None
        s = self._sessions.get(session_id)
        if s is None or self._idle(s):
            return None
        s.last_seen = self._clock()
        return s

    def renew(self, old: Session) -> Session:
        """A fresh session (new id, new CSRF token) in place of `old`, keeping its language: at login."""
        self._sessions.pop(old.id, None)
        return self.new(old.lang)

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def sweep(self) -> list[Session]:
        """Remove the sessions that idled out and return them."""
        gone = [s for s in self._sessions.values() if self._idle(s)]
        for s in gone:
            del self._sessions[s.id]
        return gone

    def _idle(self, s: Session) -> bool:
        return self._clock() - s.last_seen > self.idle_s

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))


class ClientLimit:
    """At most `per_minute` events per client key in any sliding minute (the status page's per-client
    limit, beside GetComplaintStatus's own per case id)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._seen: dict[str, list[float]] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        if len(self._seen) > 10_000:  # forget clients that have gone quiet
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < 60}
        recent = [t for t in self._seen.get(key, []) if now - t < 60]
        if len(recent) >= self.per_minute:
            self._seen[key] = recent
            return False
        recent.append(now)
        self._seen[key] = recent
        return True
