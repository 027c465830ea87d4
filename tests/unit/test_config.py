"""Settings from an explicit environment: defaults, every DNCGATE_* variable, errors, the pepper file."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest

from dncgate.config import ConfigError, Settings
from dncgate.domain.hours import CallingHours
from dncgate.domain.types import Mode

HEX_PEPPER = "00112233445566778899aabbccddeeff"  # 32 hex characters = 16 bytes
EXTERNAL = {"DNCGATE_REDIS_URL": "redis://cache:6379/0", "DNCGATE_DATABASE_URL": "postgresql://db/dncgate"}


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    """No variables: embedded stores, CN numbers, Shanghai time, 09:00-21:00, enforce mode."""
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.listen, s.data_dir, s.redis_url, s.database_url, s.pepper) == (
        "127.0.0.1:50051",
        Path.cwd() / ".dncgate",
        None,
        None,
        None,
    )
    assert (s.default_region, s.default_timezone, s.calling_hours, s.mode) == (
        "CN",
        "Asia/Shanghai",
        CallingHours(540, 1260),
        Mode.ENFORCE,
    )
    assert (s.redis_timeout_ms, s.max_batch, s.registry_bucket_bits) == (250, 5000, 16)
    assert (s.log_format, s.log_level, s.embedded) == ("auto", "info", True)
    assert s.call_log_retention_days == 1825  # five years


def test_variables_outside_the_dncgate_namespace_are_ignored() -> None:
    """Only DNCGATE_* names are read."""
    assert Settings.from_env({"REDIS_URL": "redis://x", "PEPPER": HEX_PEPPER, "MODE": "monitor"}) == Settings()


def test_blank_values_count_as_unset() -> None:
    """A variable set to spaces falls back to its default instead of failing."""
    env = {"DNCGATE_LISTEN": "  ", "DNCGATE_MODE": "", "DNCGATE_MAX_BATCH": " ", "DNCGATE_REDIS_URL": " "}
    assert Settings.from_env(env) == Settings()


def test_every_variable_is_read() -> None:
    """Each DNCGATE_* variable lands in its setting, trimmed and normalised."""
    env = {
        "DNCGATE_LISTEN": " 0.0.0.0:6000 ",
        "DNCGATE_DATA_DIR": "/var/lib/dncgate",
        "DNCGATE_PEPPER": HEX_PEPPER,
        "DNCGATE_DEFAULT_REGION": "us",
        "DNCGATE_DEFAULT_TIMEZONE": "America/New_York",
        "DNCGATE_CALLING_HOURS": "08:00-20:00",
        "DNCGATE_MODE": "Monitor",
        "DNCGATE_REDIS_TIMEOUT_MS": "100",
        "DNCGATE_DB_TIMEOUT_MS": "750",
        "DNCGATE_MAX_BATCH": "20000",
        "DNCGATE_REGISTRY_BUCKET_BITS": "20",
        "DNCGATE_LOG_FORMAT": "json",
        "DNCGATE_LOG_LEVEL": "DEBUG",
        **EXTERNAL,
    }
    s = Settings.from_env(env)
    assert s == Settings(
        listen="0.0.0.0:6000",
        data_dir=Path("/var/lib/dncgate"),
        redis_url="redis://cache:6379/0",
        database_url="postgresql://db/dncgate",
        pepper=bytes.fromhex(HEX_PEPPER),
        default_region="US",
        default_timezone="America/New_York",
        calling_hours=CallingHours(480, 1200),
        mode=Mode.MONITOR,
        redis_timeout_ms=100,
        db_timeout_ms=750,
        max_batch=20000,
        log_format="json",
        log_level="debug",
        registry_bucket_bits=20,
    )
    assert not s.embedded


@pytest.mark.parametrize("value", ["enforce", "ENFORCE", " Enforce "])
def test_mode_is_case_insensitive(value: str) -> None:
    """'enforce' in any case is enforce mode."""
    assert Settings.from_env({"DNCGATE_MODE": value}).mode is Mode.ENFORCE


@pytest.mark.parametrize(("value", "expected"), [(None, "process"), ("inline", "inline"), (" Process ", "process")])
def test_the_recorder_runs_in_a_child_process_unless_told_inline(value: str | None, expected: str) -> None:
    """DNCGATE_RECORDER_MODE defaults to process; inline (any case) keeps it in the serving process."""
    env = {} if value is None else {"DNCGATE_RECORDER_MODE": value}
    assert Settings.from_env(env).recorder_mode == expected


def test_calling_hours_00_to_24_turn_the_rule_off() -> None:
    """The documented way to disable calling hours parses to an always-open window."""
    assert Settings.from_env({"DNCGATE_CALLING_HOURS": "00:00-24:00"}).calling_hours.always_open


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DNCGATE_MODE", "shadow", "expected 'enforce' or 'monitor'"),
        ("DNCGATE_CALLING_HOURS", "9am-9pm", "expected HH:MM-HH:MM"),
        ("DNCGATE_CALLING_HOURS", "21:00-09:00", "start < end"),
        ("DNCGATE_LOG_FORMAT", "xml", "expected auto, json or console"),
        ("DNCGATE_LOG_LEVEL", "verbose", "expected debug, info"),
        ("DNCGATE_DEFAULT_REGION", "CHN", "'CHN' is not a region code"),
        ("DNCGATE_DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "is not an IANA time zone"),
        ("DNCGATE_DEFAULT_TIMEZONE", "../../etc/passwd", "is not an IANA time zone"),
        ("DNCGATE_PEPPER", "too-short", "at least 16 bytes"),
        ("DNCGATE_PEPPER", "00112233445566778899aabbccddee", "at least 16 bytes"),  # 15 bytes of hex
        ("DNCGATE_REDIS_TIMEOUT_MS", "fast", "'fast' is not an integer"),
        ("DNCGATE_REDIS_TIMEOUT_MS", "0", "0 is outside 1..60000"),
        ("DNCGATE_REDIS_TIMEOUT_MS", "60001", "60001 is outside 1..60000"),
        ("DNCGATE_DB_TIMEOUT_MS", "9", "9 is outside 10..300000"),
        ("DNCGATE_DB_TIMEOUT_MS", "300001", "300001 is outside 10..300000"),
        ("DNCGATE_MAX_BATCH", "1.5", "'1.5' is not an integer"),
        ("DNCGATE_MAX_BATCH", "100001", "100001 is outside 1..100000"),
        ("DNCGATE_REGISTRY_BUCKET_BITS", "7", "7 is outside 8..24"),
        ("DNCGATE_REGISTRY_BUCKET_BITS", "25", "25 is outside 8..24"),
        ("DNCGATE_RECORDER_MODE", "thread", "expected process or inline"),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "five years", "'five years' is not an integer"),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "-1", r"-1 is outside 180\.\.36500 \(or 0 to keep every month forever\)"),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "30", r"30 is outside 180\.\.36500"),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "36501", r"36501 is outside 180\.\.36500"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(name: str, value: str, message: str) -> None:
    """The error starts with the variable's name and says what is wrong with the value."""
    with pytest.raises(ConfigError, match=message) as err:
        Settings.from_env({name: value})
    assert str(err.value).startswith(f"{name}: ")
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("name", "value", "attr", "expected"),
    [
        ("DNCGATE_REDIS_TIMEOUT_MS", "1", "redis_timeout_ms", 1),
        ("DNCGATE_REDIS_TIMEOUT_MS", "60000", "redis_timeout_ms", 60000),
        ("DNCGATE_DB_TIMEOUT_MS", "10", "db_timeout_ms", 10),
        ("DNCGATE_DB_TIMEOUT_MS", "300000", "db_timeout_ms", 300000),
        ("DNCGATE_MAX_BATCH", "1", "max_batch", 1),
        ("DNCGATE_MAX_BATCH", "100000", "max_batch", 100000),
        ("DNCGATE_REGISTRY_BUCKET_BITS", "8", "registry_bucket_bits", 8),
        ("DNCGATE_REGISTRY_BUCKET_BITS", "24", "registry_bucket_bits", 24),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "0", "call_log_retention_days", 0),  # keep forever
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "180", "call_log_retention_days", 180),
        ("DNCGATE_CALL_LOG_RETENTION_DAYS", "36500", "call_log_retention_days", 36500),
    ],
)
def test_integer_limits_are_inclusive(name: str, value: str, attr: str, expected: int) -> None:
    """The bounds named in the error messages are themselves accepted."""
    assert getattr(Settings.from_env({name: value}), attr) == expected


def test_a_hex_pepper_is_decoded() -> None:
    """32 hex characters are 16 bytes of secret."""
    assert Settings.from_env({"DNCGATE_PEPPER": HEX_PEPPER}).pepper == bytes.fromhex(HEX_PEPPER)


def test_a_non_hex_pepper_is_used_as_text() -> None:
    """A passphrase of 16 or more characters is taken as its UTF-8 bytes."""
    assert Settings.from_env({"DNCGATE_PEPPER": "correct horse battery"}).pepper == b"correct horse battery"


def test_external_stores_without_a_pepper_are_refused() -> None:
    """With both URLs set, replicas must share a pepper: the error names DNCGATE_PEPPER."""
    with pytest.raises(ConfigError, match=r"^DNCGATE_PEPPER must be set when DNCGATE_REDIS_URL or"):
        Settings.from_env(EXTERNAL)


def test_external_stores_with_a_pepper_are_accepted() -> None:
    """Both URLs and a pepper: not embedded."""
    s = Settings.from_env({**EXTERNAL, "DNCGATE_PEPPER": HEX_PEPPER})
    assert (s.embedded, s.redis_url, s.database_url) == (False, "redis://cache:6379/0", "postgresql://db/dncgate")


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_one_external_url_alone_still_needs_a_shared_pepper(name: str) -> None:
    """With one store external, replicas share it, so a per-machine generated pepper is refused."""
    with pytest.raises(ConfigError, match=r"^DNCGATE_PEPPER must be set"):
        Settings.from_env({name: EXTERNAL[name]})
    s = Settings.from_env({name: EXTERNAL[name], "DNCGATE_PEPPER": HEX_PEPPER})
    assert s.embedded and s.pepper is not None


def test_from_env_reads_os_environ_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument the process environment is read."""
    monkeypatch.setenv("DNCGATE_MAX_BATCH", "42")
    assert Settings.from_env().max_batch == 42


# --- resolve_pepper ---------------------------------------------------------------------------------


def test_a_configured_pepper_is_used_and_no_file_is_written(tmp_path: Path) -> None:
    """resolve_pepper returns DNCGATE_PEPPER as is and leaves the data dir alone."""
    s = Settings(data_dir=tmp_path / "data", pepper=b"p" * 16)
    assert s.resolve_pepper() == b"p" * 16
    assert not (tmp_path / "data").exists()


def test_an_embedded_pepper_is_generated_once_in_a_private_file(tmp_path: Path) -> None:
    """The first call writes 64 hex characters to data_dir/pepper, mode 0600, creating the directory."""
    s = Settings(data_dir=tmp_path / "nested" / "data")
    pepper = s.resolve_pepper()
    path = tmp_path / "nested" / "data" / "pepper"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(text) == 65 and text.endswith("\n")
    assert pepper == bytes.fromhex(text.strip())
    assert len(pepper) == 32


def test_the_generated_pepper_is_reused_on_every_later_start(tmp_path: Path) -> None:
    """A restart (new Settings, same data dir) gets the same pepper and the file is not rewritten."""
    first = Settings(data_dir=tmp_path).resolve_pepper()
    mtime = (tmp_path / "pepper").stat().st_mtime_ns
    assert Settings(data_dir=tmp_path).resolve_pepper() == first
    assert Settings(data_dir=tmp_path).resolve_pepper() == first
    assert (tmp_path / "pepper").stat().st_mtime_ns == mtime


def test_two_data_dirs_get_different_peppers(tmp_path: Path) -> None:
    """Each generated pepper is fresh randomness."""
    assert Settings(data_dir=tmp_path / "a").resolve_pepper() != Settings(data_dir=tmp_path / "b").resolve_pepper()


def test_an_existing_pepper_file_is_read_not_replaced(tmp_path: Path) -> None:
    """A pepper copied into the data dir (e.g. from a backup) is the one used."""
    (tmp_path / "pepper").write_text(HEX_PEPPER + "\n")
    assert Settings(data_dir=tmp_path).resolve_pepper() == bytes.fromhex(HEX_PEPPER)
    assert (tmp_path / "pepper").read_text() == HEX_PEPPER + "\n"


def test_a_damaged_pepper_file_is_a_config_error(tmp_path: Path) -> None:
    """A truncated pepper file is refused rather than silently weakening the keys."""
    (tmp_path / "pepper").write_text("abcd\n")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        Settings(data_dir=tmp_path).resolve_pepper()


def test_a_relative_data_dir_is_made_absolute_once_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNCGATE_DATA_DIR and a replaced data_dir are both resolved against the working directory."""
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"DNCGATE_DATA_DIR": "state/dnc"})
    assert s.data_dir == tmp_path / "state" / "dnc"
    assert dataclasses.replace(s, data_dir=Path("other")).data_dir == tmp_path / "other"


def test_payout_due_workdays_and_the_holidays_file_are_read(tmp_path: Path) -> None:
    """Five working days unless told; the holidays file is a path, unset by default."""
    assert (Settings().payout_due_workdays, Settings().holidays_file) == (5, None)
    s = Settings.from_env({"DNCGATE_PAYOUT_DUE_WORKDAYS": "10", "DNCGATE_HOLIDAYS_FILE": str(tmp_path / "h.csv")})
    assert (s.payout_due_workdays, s.holidays_file) == (10, tmp_path / "h.csv")
    with pytest.raises(ConfigError, match=r"^DNCGATE_PAYOUT_DUE_WORKDAYS: 61 is outside 0\.\.60"):
        Settings.from_env({"DNCGATE_PAYOUT_DUE_WORKDAYS": "61"})


def test_a_bad_holidays_file_is_a_config_error_naming_the_variable_and_the_line(tmp_path: Path) -> None:
    """The calendar is built from DNCGATE_HOLIDAYS_FILE at start-up; its error names the variable, then file:line."""
    from dncgate.bootstrap import workday_calendar

    bad = tmp_path / "holidays.csv"
    bad.write_text("date,kind\n2027-02-08,holiday\n2027-02-09,rest\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        workday_calendar(Settings(holidays_file=bad))
    assert str(err.value) == f"DNCGATE_HOLIDAYS_FILE: {bad}:3: kind 'rest': expected holiday or workday"
    with pytest.raises(ConfigError, match=r"^DNCGATE_HOLIDAYS_FILE: .*cannot read the holidays file"):
        workday_calendar(Settings(holidays_file=tmp_path / "missing.csv"))
    bad.write_text("2027-02-08,holiday\n", encoding="utf-8")
    assert workday_calendar(Settings(holidays_file=bad)).calendar.knows(2027)


def test_the_cluster_settings_are_read_and_bounded() -> None:
    """DNCGATE_REDIS_CLUSTER takes true/false; DNCGATE_STREAM_SHARDS 1..16384 (default 64)."""
    s = Settings.from_env({"DNCGATE_REDIS_CLUSTER": "true", "DNCGATE_STREAM_SHARDS": "16384"})
    assert (s.redis_cluster, s.stream_shards) == (True, 16384)
    assert (Settings().redis_cluster, Settings().stream_shards) == (False, 64)
    for name, bad in (
        ("DNCGATE_STREAM_SHARDS", "0"),
        ("DNCGATE_STREAM_SHARDS", "16385"),
        ("DNCGATE_REDIS_CLUSTER", "maybe"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: bad})


async def test_cluster_mode_without_the_nodes_is_refused_before_any_store_is_touched(tmp_path: Path) -> None:
    """DNCGATE_REDIS_CLUSTER=true with no DNCGATE_REDIS_URL (there is no embedded cluster) stops start-up
    with a message naming both variables, before anything is started in the data dir."""
    from dncgate.bootstrap import open_app

    settings = Settings(data_dir=tmp_path, redis_cluster=True)
    with pytest.raises(ConfigError) as err:
        async with open_app(settings):
            pass
    assert "DNCGATE_REDIS_CLUSTER" in str(err.value) and "DNCGATE_REDIS_URL" in str(err.value)
    assert not (tmp_path / "redis").exists() and not (tmp_path / "postgres").exists()
