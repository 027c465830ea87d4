"""Settings, read once from the environment by Settings.from_env(); nothing is read at import."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dncgate.domain.hours import CallingHours
from dncgate.domain.money import Money
from dncgate.domain.types import Mode

# What one `dncgate serve` process runs: everything, or one part per deployment.
# "api" is every gRPC service without the recorder: what each `serve --workers` process runs.
ROLES = ("all", "api", "gateway", "registry", "compensation", "recorder")
# Where role `all` runs its recorder: in a child process (a recorder batch would otherwise stall the
# Checks sharing its event loop), or inline as a task of the serving process.
RECORDER_MODES = ("process", "inline")


class ConfigError(ValueError):
    """A setting has a value the program cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path(".dncgate")
    redis_url: str | None = None
    database_url: str | None = None
    pepper: bytes | None = None
    default_region: str = "CN"
    default_timezone: str = "Asia/Shanghai"
    calling_hours: CallingHours = field(default_factory=CallingHours)
    mode: Mode = Mode.ENFORCE
    redis_timeout_ms: int = 250
    # The most an RPC waits for PostgreSQL (a pooled connection, then its statements), or less when
    # the RPC's own deadline is nearer; rebuilds, imports, migrations and the recorder are not bound.
    db_timeout_ms: int = 2000
    max_batch: int = 5000
    log_format: str = "auto"
    log_level: str = "info"
    registry_bucket_bits: int = 16
    sync_interval_s: float = 2.0
    compensation: Money = field(default_factory=lambda: Money(10000, "CNY"))
    first_response_hours: int = 24
    resolution_hours: int = 72
    payout_key: bytes | None = None
    role: str = "all"
    # Set by `serve --workers` for its worker processes, which share the listening port.
    reuse_port: bool = False
    recorder_consumer: str | None = None  # None: this host's name
    recorder_batch: int = 1000
    recorder_mode: str = "process"

    def __post_init__(self) -> None:
        # Made absolute once, here, for every command: redis-server and PostgreSQL resolve a relative
        # path against their own working directory (redis-server's log file did, and refused to start),
        # and `dataclasses.replace(..., data_dir=...)` passes through here too.
        if not self.data_dir.is_absolute():
            object.__setattr__(self, "data_dir", self.data_dir.absolute())

    @property
    def embedded(self) -> bool:
        return self.redis_url is None or self.database_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        kwargs: dict[str, object] = {}
        if v := get("DNCGATE_LISTEN"):
            kwargs["listen"] = v
        if v := get("DNCGATE_DATA_DIR"):
            kwargs["data_dir"] = Path(v)
        kwargs["redis_url"] = get("DNCGATE_REDIS_URL")
        kwargs["database_url"] = get("DNCGATE_DATABASE_URL")
        if v := get("DNCGATE_PEPPER"):
            kwargs["pepper"] = _pepper(v)
        if v := get("DNCGATE_DEFAULT_REGION"):
            # An unknown region would make every national-format number invalid, silently.
            if v.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise ConfigError(f"DNCGATE_DEFAULT_REGION: {v!r} is not a region code such as CN or US")
            kwargs["default_region"] = v.upper()
        if v := get("DNCGATE_DEFAULT_TIMEZONE"):
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"DNCGATE_DEFAULT_TIMEZONE: {v!r} is not an IANA time zone") from None
            kwargs["default_timezone"] = v
        if v := get("DNCGATE_CALLING_HOURS"):
            try:
                kwargs["calling_hours"] = CallingHours.parse(v)
            except ValueError as exc:
                raise ConfigError(f"DNCGATE_CALLING_HOURS: {exc}") from None
        if v := get("DNCGATE_MODE"):
            try:
                kwargs["mode"] = Mode(v.upper())
            except ValueError:
                raise ConfigError("DNCGATE_MODE: expected 'enforce' or 'monitor'") from None
        for name, attr, lo, hi in (
            ("DNCGATE_REDIS_TIMEOUT_MS", "redis_timeout_ms", 1, 60_000),
            ("DNCGATE_DB_TIMEOUT_MS", "db_timeout_ms", 10, 300_000),
            ("DNCGATE_MAX_BATCH", "max_batch", 1, 100_000),
            ("DNCGATE_REGISTRY_BUCKET_BITS", "registry_bucket_bits", 8, 24),
            ("DNCGATE_RECORDER_BATCH", "recorder_batch", 1, 10_000),
            ("DNCGATE_FIRST_RESPONSE_HOURS", "first_response_hours", 1, 24 * 365),
            ("DNCGATE_RESOLUTION_HOURS", "resolution_hours", 1, 24 * 365),
        ):
            if v := get(name):
                kwargs[attr] = _int(name, v, lo, hi)
        if v := get("DNCGATE_LOG_FORMAT"):
            v = v.lower()
            if v not in ("auto", "json", "console"):
                raise ConfigError("DNCGATE_LOG_FORMAT: expected auto, json or console")
            kwargs["log_format"] = v
        if v := get("DNCGATE_LOG_LEVEL"):
            if v.upper() not in logging.getLevelNamesMapping():
                raise ConfigError("DNCGATE_LOG_LEVEL: expected debug, info, warning, error or critical")
            kwargs["log_level"] = v.lower()
        if v := get("DNCGATE_COMPENSATION"):
            try:
                kwargs["compensation"] = Money.parse(v)
            except ValueError as exc:
                raise ConfigError(f"DNCGATE_COMPENSATION: {exc}") from None
        if v := get("DNCGATE_PAYOUT_KEY"):
            kwargs["payout_key"] = _payout_key(v)
        if v := get("DNCGATE_ROLE"):
            if v.lower() not in ROLES:
                raise ConfigError(f"DNCGATE_ROLE: expected one of {', '.join(ROLES)}")
            kwargs["role"] = v.lower()
        kwargs["recorder_consumer"] = get("DNCGATE_RECORDER_CONSUMER")
        if v := get("DNCGATE_RECORDER_MODE"):
            if v.lower() not in RECORDER_MODES:
                raise ConfigError(f"DNCGATE_RECORDER_MODE: expected {' or '.join(RECORDER_MODES)}")
            kwargs["recorder_mode"] = v.lower()
        if v := get("DNCGATE_REUSE_PORT"):
            if v not in ("0", "1"):
                raise ConfigError("DNCGATE_REUSE_PORT: expected 0 or 1")
            kwargs["reuse_port"] = v == "1"
        settings = cls(**kwargs)  # type: ignore[arg-type]
        if settings.first_response_hours > settings.resolution_hours:
            raise ConfigError("DNCGATE_FIRST_RESPONSE_HOURS: must not be later than DNCGATE_RESOLUTION_HOURS")
        if (settings.redis_url or settings.database_url) and settings.pepper is None:
            # A generated pepper lives in one machine's data dir: replicas sharing an external store
            # would each key numbers differently.
            raise ConfigError(
                "DNCGATE_PEPPER must be set when DNCGATE_REDIS_URL or DNCGATE_DATABASE_URL points at an "
                "external server (at least 32 hex characters, the same on every replica)"
            )
        return settings

    def resolve_pepper(self) -> bytes:
        """The configured pepper, or the one generated once and kept in the data dir (embedded only)."""
        if self.pepper is not None:
            return self.pepper
        path = self.data_dir / "pepper"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        return _pepper(path.read_text().strip())


def _pepper(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode()
    if len(raw) < 16:
        raise ConfigError("DNCGATE_PEPPER: at least 16 bytes (32 hex characters) of secret are required")
    return raw


def _payout_key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ConfigError("DNCGATE_PAYOUT_KEY: expected 64 hex characters (an AES-256 key)")
    return raw


def _int(name: str, text: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value} is outside {lo}..{hi}")
    return value
