"""The consent journal: grants, revocations, re-grants and expiry, as in force and as known at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dncgate.domain.registry import Consent, ConsentChange, consent_states, consents_at

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def grant(
    seq: int,
    effective: float,
    *,
    org: str = "wuhan-01",
    agent: str = "",
    expires: float | None = None,
    recorded: float | None = None,
) -> ConsentChange:
    return ConsentChange(
        seq,
        org,
        agent,
        True,
        None if expires is None else at(expires),
        "signed form #42",
        at(effective),
        at(effective if recorded is None else recorded),
    )


def revoke(
    seq: int, effective: float, *, org: str = "wuhan-01", agent: str = "", recorded: float | None = None
) -> ConsentChange:
    recorded_at = at(effective if recorded is None else recorded)
    return ConsentChange(seq, org, agent, False, None, "hotline", at(effective), recorded_at)


def test_no_journal_means_no_consent() -> None:
    """An empty journal gives no consent."""
    assert consents_at([], T0) == []


def test_a_grant_is_in_force_from_its_effective_time() -> None:
    """The grant applies at its effective instant and not a microsecond before."""
    g = grant(1, 10)
    assert consents_at([g], at(10)) == [Consent("wuhan-01", "")]
    assert consents_at([g], at(10) - timedelta(microseconds=1)) == []


def test_a_grant_carries_its_agent_and_expiry() -> None:
    """The consent in force names the agent and keeps the expiry for the decision."""
    assert consents_at([grant(1, 0, agent="a17", expires=60)], at(5)) == [Consent("wuhan-01", "a17", at(60))]


def test_a_revocation_ends_the_consent() -> None:
    """After a revocation the org has no consent."""
    journal = [grant(1, 0), revoke(2, 30)]
    assert consents_at(journal, at(29)) == [Consent("wuhan-01", "")]
    assert consents_at(journal, at(30)) == []


def test_a_re_grant_after_a_revocation_restores_consent() -> None:
    """Grant, revoke, grant again: the latest grant is in force with its own expiry."""
    journal = [grant(1, 0), revoke(2, 30), grant(3, 60, expires=120)]
    assert consents_at(journal, at(45)) == []
    assert consents_at(journal, at(60)) == [Consent("wuhan-01", "", at(120))]


def test_a_consent_expires_at_its_exact_expiry_instant() -> None:
    """expires_at is exclusive: in force just before, gone at that instant."""
    journal = [grant(1, 0, expires=60)]
    assert consents_at(journal, at(60) - timedelta(microseconds=1)) == [Consent("wuhan-01", "", at(60))]
    assert consents_at(journal, at(60)) == []


def test_an_expired_consent_does_not_come_back_by_itself() -> None:
    """Long after expiry there is still no consent."""
    assert consents_at([grant(1, 0, expires=60)], at(10_000)) == []


def test_a_later_grant_without_expiry_replaces_an_expiring_one() -> None:
    """Renewing consent without an end date keeps it in force past the old expiry."""
    journal = [grant(1, 0, expires=60), grant(2, 30)]
    assert consents_at(journal, at(90)) == [Consent("wuhan-01", "")]


def test_a_later_expiring_grant_replaces_an_open_ended_one() -> None:
    """The latest grant's terms apply, even when they are narrower."""
    journal = [grant(1, 0), grant(2, 30, expires=60)]
    assert consents_at(journal, at(90)) == []


def test_a_revocation_scheduled_later_does_not_apply_yet() -> None:
    """A revocation effective tomorrow leaves today's consent in force."""
    journal = [grant(1, 0), revoke(2, 24 * 60, recorded=0)]
    assert consents_at(journal, at(60)) == [Consent("wuhan-01", "")]


def test_same_effective_time_is_ordered_by_seq() -> None:
    """A revocation recorded after a grant for the same instant wins; the reverse order too."""
    assert consents_at([grant(1, 10), revoke(2, 10)], at(20)) == []
    assert consents_at([revoke(2, 10), grant(1, 10)], at(20)) == []
    assert consents_at([revoke(1, 10), grant(2, 10)], at(20)) == [Consent("wuhan-01", "")]


def test_a_backdated_entry_is_ordered_by_effective_time_not_seq() -> None:
    """A grant back-dated before an existing revocation does not undo that revocation."""
    journal = [revoke(1, 30), grant(2, 10, recorded=40)]
    assert consents_at(journal, at(50)) == []


def test_consents_for_different_agents_are_kept_apart() -> None:
    """Revoking agent a17's consent leaves agent a18's and the other org's in force."""
    journal = [
        grant(1, 0, agent="a17"),
        grant(2, 0, agent="a18"),
        grant(3, 0, org="beijing-02"),
        revoke(4, 10, agent="a17"),
    ]
    assert sorted(consents_at(journal, at(20)), key=repr) == sorted(
        [Consent("wuhan-01", "a18"), Consent("beijing-02", "")], key=repr
    )


def test_revoking_one_agent_leaves_the_org_wide_consent() -> None:
    """Org-wide and per-agent consents are separate entries; revoking one does not revoke the other."""
    journal = [grant(1, 0), grant(2, 0, agent="a17"), revoke(3, 10, agent="a17")]
    assert consents_at(journal, at(20)) == [Consent("wuhan-01", "")]


def test_revoking_the_org_wide_consent_leaves_a_per_agent_consent() -> None:
    """Revoking with agent_id '' ends only the org-wide entry (see the report: this may be surprising)."""
    journal = [grant(1, 0), grant(2, 0, agent="a17"), revoke(3, 10)]
    assert consents_at(journal, at(20)) == [Consent("wuhan-01", "a17")]


def test_known_at_ignores_a_grant_recorded_later() -> None:
    """A consent back-dated after the call does not excuse the call."""
    journal = [grant(1, 0, recorded=60)]
    assert consents_at(journal, at(30), known_at=at(30)) == []
    assert consents_at(journal, at(30)) == [Consent("wuhan-01", "")]


def test_known_at_ignores_a_revocation_recorded_later() -> None:
    """As known at the call, a consent revoked only afterwards (back-dated) was still in force."""
    journal = [grant(1, 0), revoke(2, 10, recorded=60)]
    assert consents_at(journal, at(30), known_at=at(30)) == [Consent("wuhan-01", "")]
    assert consents_at(journal, at(30), known_at=at(60)) == []


def test_known_at_includes_an_entry_recorded_at_that_instant() -> None:
    """recorded_at == known_at is known."""
    assert consents_at([grant(1, 0, recorded=5)], at(10), known_at=at(5)) == [Consent("wuhan-01", "")]


def test_consent_covers_only_its_org_and_agent() -> None:
    """Consent.covers: '' matches every agent of the org; a named agent matches only itself."""
    assert Consent("o", "").covers("o", "a1")
    assert Consent("o", "").covers("o", "")
    assert Consent("o", "a1").covers("o", "a1")
    assert not Consent("o", "a1").covers("o", "a2")
    assert not Consent("o", "a1").covers("o", "")
    assert not Consent("o", "").covers("p", "a1")


def test_consent_without_expiry_is_active_forever() -> None:
    """expires_at None never lapses."""
    assert Consent("o", "").active_at(datetime(9999, 1, 1, tzinfo=UTC))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["wuhan-01", "acme"]),
            st.sampled_from(["", "a17"]),
            st.booleans(),
            st.floats(0, 100),
            st.none() | st.floats(0, 200),
        ),
        max_size=8,
    ),
    st.floats(0, 150),
)
def test_consent_states_give_each_named_scope_the_consent_in_force_or_none(
    entries: list[tuple[str, str, bool, float, float | None]], now: float
) -> None:
    """consent_states names every (org, agent) of the journal, with what consents_at says for that scope alone."""
    changes = [
        grant(i, e, org=o, agent=a, expires=x) if granted else revoke(i, e, org=o, agent=a)
        for i, (o, a, granted, e, x) in enumerate(entries, 1)
    ]
    states = consent_states(changes, at(now))
    assert set(states) == {(c.org_id, c.agent_id) for c in changes}
    for (org, agent), state in states.items():
        alone = consents_at([c for c in changes if (c.org_id, c.agent_id) == (org, agent)], at(now))
        assert state == (alone[0] if alone else None)
