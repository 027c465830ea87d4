"""The recorder's settings and `serve --role`: parsed from the environment and the command line, checked."""

from __future__ import annotations

import pytest

from dncgate.cli.main import build_parser
from dncgate.config import ROLES, ConfigError, Settings
from dncgate.domain.calls import CallOutcome


def test_by_default_one_process_runs_everything_and_names_its_recorder_after_the_host() -> None:
    """No variables: role all, batches of 1000, and no consumer name (the host name is used)."""
    s = Settings.from_env({})
    assert (s.role, s.recorder_batch, s.recorder_consumer) == ("all", 1000, None)


def test_role_consumer_and_batch_are_read_from_the_environment() -> None:
    """DNCGATE_ROLE (any case), DNCGATE_RECORDER_CONSUMER and DNCGATE_RECORDER_BATCH are honoured."""
    s = Settings.from_env(
        {"DNCGATE_ROLE": "Recorder", "DNCGATE_RECORDER_CONSUMER": "recorder-0", "DNCGATE_RECORDER_BATCH": "250"}
    )
    assert (s.role, s.recorder_consumer, s.recorder_batch) == ("recorder", "recorder-0", 250)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DNCGATE_ROLE": "cache"}, "DNCGATE_ROLE"),
        ({"DNCGATE_RECORDER_BATCH": "0"}, "DNCGATE_RECORDER_BATCH"),
        ({"DNCGATE_RECORDER_BATCH": "lots"}, "DNCGATE_RECORDER_BATCH"),
    ],
)
def test_a_bad_role_or_batch_is_a_config_error_naming_the_variable(env: dict[str, str], variable: str) -> None:
    """An unknown role or a batch outside 1..10000 stops start-up with the variable's name."""
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


@pytest.mark.parametrize("role", ROLES)
def test_serve_accepts_every_role(role: str) -> None:
    """`dncgate serve --role R` parses for each documented role."""
    assert build_parser().parse_args(["serve", "--role", role]).role == role


def test_serve_refuses_an_unknown_role() -> None:
    """An unknown --role is a usage error, before anything starts."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--role", "cache"])


def test_a_connected_call_or_an_opt_out_implies_it_was_dialled() -> None:
    """Reports are read for what they imply: connected or opted out means dialled; an opt-out means connected."""
    assert CallOutcome("c", False, False, 0, True).implied() == CallOutcome("c", True, True, 0, True)
    assert CallOutcome("c", False, True, 0, False).implied() == CallOutcome("c", True, True, 0, False)
    assert CallOutcome("c", False, False, 12, False).implied() == CallOutcome("c", True, False, 12, False)
    assert CallOutcome("c", False, False, 0, False).implied() == CallOutcome("c", False, False, 0, False)
