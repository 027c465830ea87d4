"""Every hand-written fast copy of a slower reference, with the figure that keeps it and the test that
holds the two equal. A copy that no longer buys a measured gain is deleted, not kept in step.

Numbers (`phone.try_parse` costs ~45 us a number: a scrub or an import sees each number once):
- `phone_fast.FastE164.e164` / `.zones`, and `service.verdicts.callee_parser` built on them, copy
  `phone.try_parse` for plain digit strings: ~1 us instead of ~45 us, which took a scrub from ~9,600 to
  ~68,000 numbers/s and an import to ~57,000 rows/s. Held equal by tests/unit/test_phone_fast.py (every
  prefix of several regions, random digits) and
  tests/unit/test_gateway_parts.py::test_the_callee_parser_agrees_with_phone_try_parse.
- `service.verdicts.mask` copies `phone.mask_e164` at a third of its cost (the star layout per length
  and country code, probed once). Held equal by
  tests/unit/test_gateway_parts.py::test_the_mask_is_phone_mask_e164_for_every_length_and_country_code.

Call ids:
- `service.checks.new_call_ids` copies `service.checks.new_call_id` for a batch, drawing the random
  parts of every id in one `os.urandom` call. Held equal (format, order, no repeats) by
  tests/unit/test_gateway_parts.py::test_a_batch_of_call_ids_looks_like_single_ones_and_never_repeats.

Verdicts:
- `service.verdicts.MinuteTables` keeps `domain.decision.verdicts_by_case` for a minute per callee time
  zone, org, agent and category (a single Check 57 -> 17 us of Python together with the route cache).
  Held equal by tests/unit/test_gateway_parts.py::
  test_minute_tables_compute_once_a_minute_and_give_what_the_domain_gives.
- The Lua `classify` of `store.checkscript.CheckScript` (both scripts) sorts a callee as the Python fold does
  (`tests/reference.py lookup` read back, then `domain.decision.decide`); it is what makes a
  Check one round trip. Held equal by
  tests/integration/test_check_script.py::test_the_script_and_the_python_fold_give_the_same_verdict_for_random_states
  and ::test_the_batch_script_classifies_and_logs_like_the_fold_and_the_single_script.

Batches (a scrub converts thousands of requests per call):
- `api.convert.check_inputs` copies `api.convert.check_input` per request at a third of the cost. Held
  equal by tests/unit/test_gateway_parts.py::test_check_inputs_converts_each_request_as_check_input_does.
- `api.convert.check_batch_response` builds the batch's responses per distinct verdict instead of one
  `check_response` each. Held equal by
  tests/unit/test_gateway_parts.py::test_the_batch_response_is_the_check_responses_and_their_counts.
- `api.limits.Shape` checks a batch's string fields column by column instead of request by request.
  Held equal by
  tests/unit/test_limits.py::test_a_batch_checked_column_by_column_refuses_what_one_request_at_a_time_refuses.
- The batch script's XADD of an event (`CheckChunk`) spells out the fields of `store.calls.single_context` (one
  format for the single script, and through `event_context` for `encode_event`). Held equal by
  tests/integration/test_check_batch.py::test_a_batch_answers_and_logs_exactly_as_the_same_checks_one_by_one.

Call events:
- `store.recorder._row` copies `_event_row(decode_event(...))` for the spellings `encode_event` writes,
  at a third of the cost (the recorder's CPU per event 28 -> 6 us together with the binary COPY). Held
  equal, rows and dead letters alike, by
  tests/unit/test_call_decoding.py::test_the_row_or_dead_letter_is_the_one_decode_event_gives.

`TWINS` below is the same list as data (copy, reference, test), so that tests/unit/test_fastpaths.py can
check that every name still exists and every test is still there.
"""

from __future__ import annotations

# (the copy, its reference, the test holding them equal): dotted names under `dncgate`, and a test's
# file::name under tests/.
TWINS: tuple[tuple[str, str, str], ...] = (
    (
        "store.recorder._row",
        "store.calls.decode_event",
        "unit/test_call_decoding.py::test_the_row_or_dead_letter_is_the_one_decode_event_gives",
    ),
    ("phone_fast.FastE164", "phone.try_parse", "unit/test_phone_fast.py::test_every_prefix_agrees_with_phonenumbers"),
    (
        "service.verdicts.callee_parser",
        "phone.try_parse",
        "unit/test_gateway_parts.py::test_the_callee_parser_agrees_with_phone_try_parse",
    ),
    (
        "service.verdicts.mask",
        "phone.mask_e164",
        "unit/test_gateway_parts.py::test_the_mask_is_phone_mask_e164_for_every_length_and_country_code",
    ),
    (
        "service.checks.new_call_ids",
        "service.checks.new_call_id",
        "unit/test_gateway_parts.py::test_a_batch_of_call_ids_looks_like_single_ones_and_never_repeats",
    ),
    (
        "service.verdicts.MinuteTables",
        "domain.decision.verdicts_by_case",
        "unit/test_gateway_parts.py::test_minute_tables_compute_once_a_minute_and_give_what_the_domain_gives",
    ),
    (
        "store.checkscript.CheckScript",
        "domain.decision.decide",
        "integration/test_check_script.py::test_the_script_and_the_python_fold_give_the_same_verdict_for_random_states",
    ),
    (
        "api.convert.check_inputs",
        "api.convert.check_input",
        "unit/test_gateway_parts.py::test_check_inputs_converts_each_request_as_check_input_does",
    ),
    (
        "api.convert.check_batch_response",
        "api.convert.check_response",
        "unit/test_gateway_parts.py::test_the_batch_response_is_the_check_responses_and_their_counts",
    ),
    (
        "api.limits.Shape",
        "api.limits.shape_of",
        "unit/test_limits.py::test_a_batch_checked_column_by_column_refuses_what_one_request_at_a_time_refuses",
    ),
    (
        "store.checkscript.CheckChunk",
        "store.calls.single_context",
        "integration/test_check_batch.py::test_a_batch_answers_and_logs_exactly_as_the_same_checks_one_by_one",
    ),
)
