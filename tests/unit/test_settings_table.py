"""The table of DNCGATE_* variables: every setting has its row, the README is written from the rows, and
the errors and spellings not covered by test_config.py."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest

from dncgate.api.workers import _child_env
from dncgate.config import ConfigError, Settings, field_defaults, markdown
from dncgate.settings_table import VARIABLES, Choice

ROOT = Path(__file__).resolve().parents[2]
BY_NAME = {v.name: v for v in VARIABLES}
HEX_PEPPER = "00112233445566778899aabbccddeeff"


def test_the_readme_shows_the_configuration_table_as_the_code_has_it() -> None:
    """README's configuration table is `config.markdown()`, so it cannot drift from the rows."""
    assert markdown() in (ROOT / "README.md").read_text()


def test_every_setting_but_the_reconcile_period_is_filled_by_exactly_one_variable() -> None:
    """Each Settings field is the attr of one row; only sync_interval_s (set by tests) has none."""
    attrs = [v.attr for v in VARIABLES if v.attr is not None]
    assert len(attrs) == len(set(attrs))
    assert {f.name for f in dataclasses.fields(Settings)} - set(attrs) == {"sync_interval_s"}
    assert set(attrs) - {f.name for f in dataclasses.fields(Settings)} == set()


def test_every_dncgate_variable_the_code_names_is_in_the_table() -> None:
    """A DNCGATE_* name read or set anywhere in src/ (client-side and internal ones too) has its row."""
    named = {
        m
        for path in (ROOT / "src" / "dncgate").rglob("*.py")
        if "v1" not in path.relative_to(ROOT / "src" / "dncgate").parts
        for m in re.findall(r"\bDNCGATE_[A-Z][A-Z_]*[A-Z]\b", path.read_text())
    }
    assert named >= {"DNCGATE_PEPPER", "DNCGATE_TARGET", "DNCGATE_PARENT_PID", "DNCGATE_REUSE_PORT"}
    assert named - set(BY_NAME) == set()


def test_a_default_is_written_out_exactly_where_settings_has_none_to_show() -> None:
    """A row's README default text is given if its field defaults to None (or it has no field), else not."""
    defaults = field_defaults()
    for v in VARIABLES:
        if v.internal:
            continue
        shows_none = v.attr is None or defaults[v.attr] is None
        assert bool(v.default) == shows_none, v.name


@pytest.mark.parametrize("variable", [v for v in VARIABLES if v.attr and not v.internal], ids=lambda v: v.name)
def test_setting_a_variable_to_its_documented_default_changes_nothing(variable: typing.Any) -> None:
    """The default the README shows, read back through the row's parser, is the Settings default."""
    row = next(line for line in markdown().splitlines() if line.startswith(f"| `{variable.name}` |"))
    shown = row.split(" | ")[1]
    if variable.default:
        assert shown == variable.default
        return
    env = {variable.name: shown.strip("`")}
    assert Settings.from_env(env) == Settings()


@pytest.mark.parametrize("variable", [v for v in VARIABLES if isinstance(v.parse, Choice)], ids=lambda v: v.name)
def test_each_choice_is_its_fields_literal_type_and_is_named_in_its_help(variable: typing.Any) -> None:
    """The values a choice accepts are the field's Literal values, each shown as `code` in the README."""
    hints = typing.get_type_hints(Settings)
    assert typing.get_args(hints[variable.attr]) == variable.parse.values
    for value in variable.parse.values:
        assert f"`{value}`" in variable.help


@pytest.mark.parametrize(
    ("text", "level"), [("warn", "warning"), ("FATAL", "critical"), ("notset", "debug"), ("Error", "error")]
)
def test_logging_s_other_names_for_a_level_are_read_as_that_level(text: str, level: str) -> None:
    """DNCGATE_LOG_LEVEL accepts every name logging knows, in any case, as one of the five levels."""
    assert Settings.from_env({"DNCGATE_LOG_LEVEL": text}).log_level == level


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DNCGATE_ROLE": "cache"},
            "DNCGATE_ROLE: expected one of all, api, gateway, registry, compensation, recorder, http, console",
        ),
        ({"DNCGATE_REUSE_PORT": "yes"}, "DNCGATE_REUSE_PORT: expected 0 or 1"),
        ({"DNCGATE_PAYOUT_KEY": "00ff"}, "DNCGATE_PAYOUT_KEY: expected 64 hex characters (an AES-256 key)"),
        ({"DNCGATE_RECORDER_BATCH": "10001"}, "DNCGATE_RECORDER_BATCH: 10001 is outside 1..10000"),
        ({"DNCGATE_RESOLUTION_HOURS": "8761"}, "DNCGATE_RESOLUTION_HOURS: 8761 is outside 1..8760"),
        (
            {"DNCGATE_COMPENSATION": "100"},
            "DNCGATE_COMPENSATION: '100': expected an amount and an ISO currency code, like '100.00 CNY'",
        ),
        (
            {"DNCGATE_FIRST_RESPONSE_HOURS": "73"},
            "DNCGATE_FIRST_RESPONSE_HOURS: must not be later than DNCGATE_RESOLUTION_HOURS",
        ),
    ],
)
def test_the_other_bad_values_are_config_errors_worded_as_before(env: dict[str, str], message: str) -> None:
    """The variables test_config.py does not cover fail with their whole message, name first."""
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert str(err.value) == message


def test_the_environment_of_a_worker_reads_back_as_its_settings(tmp_path: Path) -> None:
    """What `serve --workers` puts in a worker's environment is read as role api on the shared port."""
    parent = Settings(data_dir=tmp_path, pepper=bytes.fromhex(HEX_PEPPER), listen="0.0.0.0:7000")
    env = _child_env(parent, "redis://cache:6379/0", "postgresql://db/dncgate", "api")
    s = Settings.from_env(env)
    assert (s.role, s.reuse_port, s.listen, s.data_dir, s.pepper) == (
        "api",
        True,
        "0.0.0.0:7000",
        tmp_path,
        parent.pepper,
    )
    assert (s.redis_url, s.database_url) == ("redis://cache:6379/0", "postgresql://db/dncgate")


def test_variables_dncgate_sets_for_its_own_children_are_not_documented_for_users() -> None:
    """Internal rows (the shared-port flag, the parent's pid) are read but left out of the README."""
    internal = [v.name for v in VARIABLES if v.internal]
    assert internal == ["DNCGATE_REUSE_PORT", "DNCGATE_PARENT_PID"]
    assert all(f"`{name}`" not in markdown() for name in internal)
