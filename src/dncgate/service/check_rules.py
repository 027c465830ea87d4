"""The rules beyond the registry on the Check path: number ranges, quiet days, registered caller lines,
opt-in (an org that requires a consent on file).

Each is decided in Python before the Check's script, from a copy in this process (`CheckRules`),
never read from PostgreSQL or Redis by a Check: `standing` sums what they say of one call into the
bits of `domain.decision` (UNKNOWN_LINE, RANGE_BLOCK, QUIET, CONSENT_REQUIRED), which the verdict
tables are keyed by. With no rule configured anywhere, `active` is False and a Check pays one attribute
read for all four. Opt-in needs the consent the script reads in Redis: the bit only says the org's
policy wants one for this call's category, and the verdicts of the state the script picks say the rest.

How fast a change reaches it: `watch` asks the journals' latest seqs (`RulesSource.version`, one small
query) every WATCH_INTERVAL_S and reads the snapshot again when one moved, so a SetRangeRule,
SetOrgPolicy or RegisterCallerLine is on every replica's Checks within about a second of its commit,
two at most (this one's too). `effective_from`, `valid_from` and `valid_to` are judged at each
Check's own time, not at the refresh's. While PostgreSQL can't be read the last copy stays in force
(logged); the Checks never wait for it.

What a Check pays with rules configured: `standing` is memoized per (org, category, the callee's first
digits as long as the longest rule prefix, country code, caller), since nothing else of the call moves
its answer, until the next instant a range rule takes effect or a line assignment starts or ends (then
the memo starts over): a Check pays a key and one dict lookup; the walk over prefixes, lines and
policies runs once per key (`_standing`). The memo is bounded (MEMO_LIMIT keys, then emptied) and
dropped with the copy it was made from.

Quiet days: China's public holidays (`calendars.package_calendar`, the maintained chinese-calendar
schedule, with the operator's holidays file over it) for callees whose country code is 86. No other
region has a calendar installed, so an org's quiet days bind its calls to China only, and a callee
elsewhere never has a quiet day (tests/unit/test_check_rules.py).
"""

from __future__ import annotations

import asyncio
import bisect
from datetime import date

import structlog

from dncgate.domain.decision import CONSENT_REQUIRED, NO_RULES, QUIET, RANGE_BLOCK, UNKNOWN_LINE, QuietDays
from dncgate.domain.lines import live
from dncgate.domain.ranges import RangeTable
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, mask_covers
from dncgate.service.receipts import watch_journal
from dncgate.service.rules_ports import RulesSnapshot, RulesSource

log = structlog.get_logger("dncgate.check_rules")

WATCH_INTERVAL_S = 1.0
CHINA_CODE = 86
_FOREVER = 1 << 62  # an open-ended assignment's end
MEMO_LIMIT = 1 << 16  # standing's memo keys before it is emptied


class CheckRules:
    """The in-process copy (replaced whole by `load`, never mutated), and `standing` of a call against it."""

    def __init__(self, china_holidays: frozenset[date] = frozenset()) -> None:
        self.quiet_days: dict[int, QuietDays] = {CHINA_CODE: QuietDays(china_holidays)}
        self.version: tuple[int, int, int] | None = None
        self.quiet_orgs: frozenset[str] = frozenset()
        self.line_orgs: frozenset[str] = frozenset()
        # per org requiring consent, the categories it binds (a preference mask, 0: every category)
        self.consent_orgs: dict[str, int] = {}
        # per line, its live assignments newest first: (valid_from, valid_to or _FOREVER, org), in µs
        self.lines: dict[str, tuple[tuple[int, int, str], ...]] = {}
        self.ranges = RangeTable(())
        self.active = False
        self._memo: dict[tuple[str, Category, str, int, str], int] = {}
        self._prefix_len = 0  # the longest range prefix: digits beyond it move no rule's answer
        self._changes: tuple[int, ...] = ()  # every instant a rule's answer may change, in µs, sorted
        self._memo_from = 0  # the memo holds from this instant (the last change at or before its start)
        self._memo_until = 0  # until this one (the next change after it)

    def load(self, snap: RulesSnapshot) -> None:
        by_line: dict[str, list[tuple[int, int, str]]] = {}
        for r in sorted(live(snap.lines), key=lambda r: r.seq, reverse=True):
            end = epoch_us(r.valid_to) if r.valid_to is not None else _FOREVER
            by_line.setdefault(r.caller_e164, []).append((epoch_us(r.valid_from), end, r.org_id))
        self.quiet_orgs, self.line_orgs = snap.quiet_orgs, snap.line_orgs
        self.consent_orgs = dict(snap.consent_orgs)
        self.lines = {k: tuple(v) for k, v in by_line.items()}
        self.ranges = RangeTable(snap.ranges)
        self.version = snap.version
        self._prefix_len = max(map(len, self.ranges.entries), default=0)
        changes = {t for by_org in self.ranges.entries.values() for es in by_org.values() for t, _ in es}
        changes.update(t for spans in self.lines.values() for start, end, _ in spans for t in (start, end))
        self._changes = tuple(sorted(changes))
        self._memo = {}
        self._memo_from = self._memo_until = 0
        self.active = bool(self.quiet_orgs or self.line_orgs or self.ranges or self.consent_orgs)

    def standing(
        self, org_id: str, category: Category, callee_e164: str, country_code: int, caller_e164: str, now_us: int
    ) -> int:
        """What the rules say of this call at `now_us` (µs since the epoch): `domain.decision` bits,
        NO_RULES when none binds it (memoized: module docstring)."""
        if now_us >= self._memo_until or now_us < self._memo_from:
            self._restart_memo(now_us)
        key = (org_id, category, callee_e164[: self._prefix_len], country_code, caller_e164)
        bits = self._memo.get(key)
        if bits is None:
            bits = self._standing(org_id, category, callee_e164, country_code, caller_e164, now_us)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo = {}
            self._memo[key] = bits
        return bits

    def _restart_memo(self, now_us: int) -> None:
        """An empty memo for the span of time around `now_us` in which no rule's answer changes."""
        changes = self._changes
        i = bisect.bisect_right(changes, now_us)
        self._memo = {}
        self._memo_from = changes[i - 1] if i else 0
        self._memo_until = changes[i] if i < len(changes) else _FOREVER

    def _standing(
        self, org_id: str, category: Category, callee_e164: str, country_code: int, caller_e164: str, now_us: int
    ) -> int:
        bits = NO_RULES
        if org_id in self.line_orgs and not self.line_of(caller_e164, org_id, now_us):
            bits |= UNKNOWN_LINE
        if self.ranges and self.ranges.blocked_us(callee_e164, org_id, category, now_us):
            bits |= RANGE_BLOCK
        if org_id in self.quiet_orgs and country_code in self.quiet_days:
            bits |= QUIET
        consent = self.consent_orgs.get(org_id)
        if consent is not None and (consent == 0 or mask_covers(consent, category)):
            bits |= CONSENT_REQUIRED  # as `OrgPolicyEntry.requires_consent`
        return bits

    def line_of(self, caller_e164: str, org_id: str, now_us: int) -> bool:
        """Whether `caller_e164` is one of the org's lines (any of its agents') at `now_us`: its latest
        live assignment covering that instant is the org's (`domain.lines.owner_at`)."""
        for start, end, org in self.lines.get(caller_e164, ()):
            if start <= now_us < end:
                return org == org_id
        return False

    def quiet_days_of(self, country_code: int) -> QuietDays | None:
        return self.quiet_days.get(country_code)

    async def refresh(self, source: RulesSource) -> None:
        """Read the snapshot again if a journal moved since the last one."""
        if self.version is not None and await source.version() == self.version:
            return
        snap = await source.snapshot()
        self.load(snap)
        log.info(
            "check_rules",
            ranges=len(snap.ranges),
            lines=len(self.lines),
            quiet_orgs=len(snap.quiet_orgs),
            line_orgs=len(snap.line_orgs),
            consent_orgs=len(self.consent_orgs),
        )

    async def watch(self, source: RulesSource, stop: asyncio.Event, interval_s: float = WATCH_INTERVAL_S) -> None:
        """`refresh` every `interval_s` until `stop` is set; a store outage keeps the last copy."""
        await watch_journal(lambda: self.refresh(source), stop, interval_s, "check_rules_unreadable")
