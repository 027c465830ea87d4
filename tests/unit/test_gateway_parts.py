"""The list scrub's shortcuts give what the slow paths give: callee parsing, masks, call ids, and the
proto conversions of a batch."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dncgate import phone
from dncgate.api import convert
from dncgate.domain import decision as rules
from dncgate.domain.decision import CallAttempt, Verdict
from dncgate.domain.errors import InvalidArgument
from dncgate.domain.hours import CallingHours
from dncgate.domain.registry import epoch_us
from dncgate.domain.types import Category, Decision, Reason
from dncgate.service.checks import new_call_ids
from dncgate.service.gateway import CheckResult
from dncgate.service.verdicts import MinuteTables, VerdictTable
from dncgate.service.verdicts import callee_parser as _callee_parser
from dncgate.service.verdicts import mask as _mask
from dncgate.store.checkscript import encode_outcomes
from dncgate.v1 import gateway_pb2

NOW = datetime(2026, 11, 23, 14, 30, 0, 123_000, tzinfo=UTC)


@settings(max_examples=500)
@given(st.from_regex(r"(\+86|0086|\+852|\+1)?[ -]?1[3-9][0-9]{1,2}[ -]?[0-9]{4}[ -]?[0-9]{2,5}", fullmatch=True))
def test_the_callee_parser_agrees_with_phone_try_parse(text: str) -> None:
    """E.164, time zones and country code are those of `phone.try_parse`, fast path or not."""
    parsed = phone.try_parse(text, "CN")
    expected = None if parsed is None else (parsed.e164, parsed.zone_names, parsed.country_code)
    assert _callee_parser("CN")(text) == expected


@pytest.mark.parametrize("region", ["CN", "US", "BR"])
def test_the_callee_parser_agrees_in_regions_with_and_without_the_fast_path(region: str) -> None:
    """Regions whose zones depend on the number fall back to `phone.try_parse` entirely."""
    rng = random.Random(region)
    parse = _callee_parser(region)
    for _ in range(2_000):
        text = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 13)))
        text = rng.choice(["", "+", "+86", "00"]) + text
        parsed = phone.try_parse(text, region)
        assert parse(text) == (None if parsed is None else (parsed.e164, parsed.zone_names, parsed.country_code))


def test_the_mask_is_phone_mask_e164_for_every_length_and_country_code() -> None:
    """The scrub's mask hides the same digits as `phone.mask_e164`, whatever the lengths."""
    rng = random.Random(5)
    for cc in (1, 7, 33, 44, 86, 852, 0):
        for length in range(len(str(cc)) + 1, 20):
            for _ in range(5):
                digits = "".join(rng.choice("0123456789") for _ in range(length - 1 - len(str(cc or ""))))
                e164 = f"+{cc or ''}{digits}"
                assert _mask(e164, cc) == phone.mask_e164(e164, cc), e164


def test_a_batch_of_call_ids_looks_like_single_ones_and_never_repeats() -> None:
    """Ids drawn for a batch are 32 hex digits starting with the millisecond, and all different."""
    ids = new_call_ids(epoch_us(NOW), 5_000)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert {i[:12] for i in ids} == {f"{1_795_444_200_123:012x}"}
    assert len(set(ids)) == len(ids)
    assert new_call_ids(epoch_us(NOW), 0) == []


def _request(rng: random.Random, i: int) -> gateway_pb2.CheckRequest:
    return gateway_pb2.CheckRequest(
        caller_number="+862161234567",
        callee_number=f"139{i:08d}",
        agent_id=rng.choice(["", "a1"]),
        org_id="acme",
        campaign_id=rng.choice(["", "spring"]),
        category=rng.choice(list(Category)),
        request_id=rng.choice(["", f"r{i}"]),
    )


def test_check_inputs_converts_each_request_as_check_input_does() -> None:
    """The batch conversion gives `check_input` of every request, in order."""
    rng = random.Random(1)
    requests = [_request(rng, i) for i in range(300)]
    assert convert.check_inputs(requests) == [convert.check_input(r) for r in requests]


def test_check_inputs_names_the_request_with_an_unknown_category() -> None:
    """An unknown category is InvalidArgument on `requests[i].category`, i the first bad request."""
    rng = random.Random(2)
    requests = [_request(rng, i) for i in range(5)]
    requests[3].category = 99
    requests[4].category = 98
    with pytest.raises(InvalidArgument) as err:
        convert.check_inputs(requests)
    assert err.value.field == "requests[3].category"


def test_the_batch_response_is_the_check_responses_and_their_counts() -> None:
    """Each response is `check_response` of its result (next allowed time and violation included)."""
    opens = NOW + timedelta(hours=10)
    verdicts = [
        rules.INVALID_NUMBER,
        rules.REGISTRY_UNAVAILABLE,
        Verdict(Decision.ALLOW, Reason.NOT_REGISTERED),
        Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=opens),
        Verdict(Decision.ALLOW, Reason.OUTSIDE_CALLING_HOURS, violation=True, next_allowed_time=opens),
        Verdict(Decision.ALLOW, Reason.REGISTERED, violation=True),
    ]
    rng = random.Random(3)
    results = [
        CheckResult(rng.choice(verdicts), f"{i:032x}", rng.choice(["", "+8613900000000"]), "+86139****0000", f"r{i}")
        for i in range(200)
    ]
    allowed = sum(r.verdict.allowed for r in results)
    assert convert.check_batch_response(results) == gateway_pb2.CheckBatchResponse(
        responses=[convert.check_response(r) for r in results], allowed=allowed, blocked=len(results) - allowed
    )
    assert convert.check_batch_response([]) == gateway_pb2.CheckBatchResponse()


# Whole-hour, half-hour and 45-minute offsets, with and without daylight saving.
ZONES = (
    "Asia/Shanghai",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "America/St_Johns",
    "America/New_York",
    "Australia/Lord_Howe",
    "Europe/London",
    "Pacific/Chatham",
    "UTC",
)


@settings(max_examples=1500)
@given(
    minute=st.integers(0, 20 * 365 * 24 * 60),
    seconds=st.tuples(st.integers(0, 59_999_999), st.integers(0, 59_999_999)),
    zone=st.sampled_from(ZONES),
    window=st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda w: w[0] < w[1]),
)
def test_a_one_zone_verdict_table_is_the_same_all_minute_long(
    minute: int, seconds: tuple[int, int], zone: str, window: tuple[int, int]
) -> None:
    """What lets single Checks share a table within a minute: any two instants of one minute give the same six
    verdicts (next opening included) for a callee in one time zone, near daylight-saving changes too."""
    start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    hours = CallingHours(*window)
    attempt = CallAttempt(True, (phone.zone(zone),), "org", "", Category.FINANCE)
    a, b = (rules.verdicts_by_case(attempt, hours, start + timedelta(microseconds=us)) for us in seconds)
    assert a == b


def test_minute_tables_compute_once_a_minute_and_give_what_the_domain_gives() -> None:
    tables, calls = MinuteTables(), []
    attempt = CallAttempt(True, (phone.zone("Asia/Shanghai"),), "org", "", Category.FINANCE)
    hours = CallingHours(9 * 60, 21 * 60)

    def compute(key: object) -> VerdictTable:
        calls.append(key)
        return _table(rules.verdicts_by_case(attempt, hours, now))

    key = (("Asia/Shanghai",), "org", "", Category.FINANCE)
    for now in (NOW, NOW + timedelta(seconds=20), NOW + timedelta(seconds=59.8)):  # 14:30 UTC: closed in Shanghai
        assert tables.get(key, epoch_us(now), compute).verdicts == rules.verdicts_by_case(attempt, hours, now)
    assert len(calls) == 1
    now = NOW + timedelta(seconds=60)
    table = tables.get(key, epoch_us(now), compute)
    assert table == _table(rules.verdicts_by_case(attempt, hours, now))
    assert table.code == encode_outcomes(table.verdicts)
    assert len(calls) == 2


def test_minute_tables_do_not_keep_a_table_whose_opening_is_not_on_a_minute() -> None:
    odd = Verdict(Decision.BLOCK, Reason.OUTSIDE_CALLING_HOURS, next_allowed_time=NOW)  # 14:30:00.123
    tables, calls = MinuteTables(), []

    def compute(key: object) -> VerdictTable:
        calls.append(key)
        return _table((odd,) * 6)

    key = (("Asia/Shanghai",), "org", "", Category.FINANCE)
    tables.get(key, epoch_us(NOW), compute)
    tables.get(key, epoch_us(NOW), compute)
    assert len(calls) == 2


def _table(verdicts: tuple[Verdict, ...]) -> VerdictTable:
    return VerdictTable(verdicts, encode_outcomes(verdicts))
