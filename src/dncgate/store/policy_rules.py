"""The range-rule journal in PostgreSQL, and what the Check path copies into its process: the range
rules, the caller lines, and which orgs keep quiet days, require registered lines or require consent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dncgate.domain.errors import Conflict
from dncgate.domain.lines import CallerLine
from dncgate.domain.ranges import RangeAction, RangeRule
from dncgate.service.rules_ports import RulesSnapshot
from dncgate.store.pg import Database

_COLS = "seq, prefix, org_id, action, categories, effective_from, recorded_at, recorded_by"
_LINE_COLS = "seq, caller_e164, org_id, agent_id, valid_from, valid_to, recorded_at, recorded_by"
# The latest policy entry of each org, with the fields the Check path reads.
_POLICY_FLAGS = (
    "SELECT org_id, quiet_on_public_holidays, require_registered_lines, consent_required,"
    " consent_required_categories FROM"
    " (SELECT DISTINCT ON (org_id) org_id, quiet_on_public_holidays, require_registered_lines,"
    " consent_required, consent_required_categories"
    " FROM org_policy_journal ORDER BY org_id, seq DESC) latest"
    " WHERE quiet_on_public_holidays OR require_registered_lines OR consent_required"
)
# One small query a second per replica: the snapshot is read again only when one of these moved.
_VERSION = (
    "SELECT (SELECT coalesce(max(seq), 0) FROM org_policy_journal),"
    " (SELECT coalesce(max(seq), 0) FROM caller_lines), (SELECT coalesce(max(seq), 0) FROM range_rules)"
)


def _rule(r: Sequence[Any]) -> RangeRule:
    return RangeRule(r[0], r[1], r[2], RangeAction(r[3]), r[4], r[5], r[6], r[7])


class PolicyRuleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set_range_rule(
        self,
        prefix: str,
        org_id: str,
        action: RangeAction,
        categories: int,
        effective_from: datetime,
        request_id: str | None,
        *,
        recorded_by: str,
    ) -> RangeRule:
        """Append a rule; with a request_id already used, that entry (Conflict if it was for another prefix)."""
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO range_rules (prefix, org_id, action, categories, effective_from, recorded_by, request_id)"
                f" VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (request_id) DO NOTHING RETURNING {_COLS}",
                (prefix, org_id, action.value, categories, effective_from, recorded_by, request_id),
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(f"SELECT {_COLS} FROM range_rules WHERE request_id = %s", (request_id,))
                row = await cur.fetchone()
                assert row is not None
                if row[1] != prefix or row[2] != org_id:
                    raise Conflict(f"request_id {request_id!r} was already used for another rule")
            return _rule(row)

    async def range_rules(self, org_id: str) -> list[RangeRule]:
        """The journal in order: every rule ("" ), or the org's and the every-org ones."""
        sql = f"SELECT {_COLS} FROM range_rules"
        params: tuple[Any, ...] = ()
        if org_id:
            sql += " WHERE org_id IN (%s, '')"
            params = (org_id,)
        async with self.db.connection() as conn:
            cur = await conn.execute(sql + " ORDER BY seq", params)
            return [_rule(r) for r in await cur.fetchall()]

    async def version(self) -> tuple[int, int, int]:
        async with self.db.connection() as conn:
            row = await (await conn.execute(_VERSION)).fetchone()
        assert row is not None
        return (int(row[0]), int(row[1]), int(row[2]))

    async def snapshot(self) -> RulesSnapshot:
        """Everything the Check path copies, read in one transaction (one consistent view)."""
        async with self.db.connection() as conn, conn.transaction():
            row = await (await conn.execute(_VERSION)).fetchone()
            assert row is not None
            flags = await (await conn.execute(_POLICY_FLAGS)).fetchall()
            lines = await (await conn.execute(f"SELECT {_LINE_COLS} FROM caller_lines ORDER BY seq")).fetchall()
            rules = await (await conn.execute(f"SELECT {_COLS} FROM range_rules ORDER BY seq")).fetchall()
        return RulesSnapshot(
            version=(int(row[0]), int(row[1]), int(row[2])),
            quiet_orgs=frozenset(r[0] for r in flags if r[1]),
            line_orgs=frozenset(r[0] for r in flags if r[2]),
            lines=tuple(CallerLine(*r) for r in lines),
            ranges=tuple(_rule(r) for r in rules),
            consent_orgs={r[0]: int(r[4]) for r in flags if r[3]},
        )
