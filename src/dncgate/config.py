"""Settings, read once from the environment by Settings.from_env(); nothing is read at import.

Every DNCGATE_* variable is a row of `settings_table.VARIABLES`: its name, the field it fills, how its
text is read (bounds and choices included) and what it means. `from_env` is a loop over the rows, then
the checks that span two fields. The README's configuration table is `markdown()` of the same rows
(tests/unit/test_config.py holds the README to it). Defaults are the fields' own: the table shows them.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TypeVar

from dncgate.domain.hours import CallingHours
from dncgate.domain.money import Money
from dncgate.domain.types import Mode
from dncgate.settings_table import (
    RECORDER_MODES,
    ROLES,
    VARIABLES,
    Integer,
    LogFormat,
    LogLevel,
    RecorderMode,
    Role,
    pepper,
)

T = TypeVar("T")

__all__ = ["RECORDER_MODES", "ROLES", "ConfigError", "RecorderMode", "Role", "Settings", "markdown"]


class ConfigError(ValueError):
    """A setting has a value the program cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What this process was configured with, frozen: built by from_env, or directly by tests."""

    listen: str = "127.0.0.1:50051"
    data_dir: Path = Path(".dncgate")
    redis_url: str | None = None
    database_url: str | None = None
    pepper: bytes | None = None
    default_region: str = "CN"
    default_timezone: str = "Asia/Shanghai"
    calling_hours: CallingHours = field(default_factory=CallingHours)
    mode: Mode = Mode.ENFORCE
    cap_per_day: int = 3
    cap_per_week: int = 7
    redis_timeout_ms: int = 250
    db_timeout_ms: int = 2000
    max_batch: int = 5000
    scrub_quota_per_hour: int = 10_000_000
    max_streams_per_token: int = 64
    max_concurrent_rpcs: int = 2000
    log_format: LogFormat = "auto"
    log_level: LogLevel = "info"
    registry_bucket_bits: int = 16
    redis_cluster: bool = False
    stream_shards: int = 64
    sync_interval_s: float = 2.0  # not a variable: the registry's reconcile period; tests shorten it
    compensation: Money = field(default_factory=lambda: Money(10000, "CNY"))
    first_response_hours: int = 24
    resolution_hours: int = 72
    update_hours: int = 24
    revisit_days: int = 7
    status_lookups_per_minute: int = 10
    payout_due_workdays: int = 5
    regulator_reply_workdays: int = 15
    major_progress_workdays: int = 10
    holidays_file: Path | None = None  # the operator's holiday schedule (calendars.py), over chinese-calendar's
    payout_key: bytes | None = None
    receipt_key: str | None = None  # hex seed or PEM path (receipt_keys.py); None: derived or generated
    role: Role = "all"
    reuse_port: bool = False
    recorder_consumer: str | None = None  # None: this host's name
    recorder_batch: int = 1000
    recorder_mode: RecorderMode = "process"
    drain_s: int = 5
    call_log_retention_days: int = 1825  # five years, as US call records are kept; 0: forever
    metrics_listen: str = "127.0.0.1:9464"  # or "off"
    http_listen: str = "127.0.0.1:8081"  # the HTTP/JSON face (api/http.py), or "off"
    console_listen: str = "127.0.0.1:8080"  # the web console (console/), or "off"
    console_target: str | None = None  # None: this process's own gRPC port (role all)
    console_tls_ca: Path | None = None  # what the console verifies a TLS API with
    console_idle_minutes: int = 30
    console_session_hours: int = 12
    # TLS on the gRPC port (api/tls.py): certificate and key files, and for mTLS the client CA.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    health_listen: str = "off"  # a second, plaintext port serving only grpc.health.v1

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
        values: dict[str, object] = {}
        for variable in VARIABLES:
            text = e.get(variable.name, "").strip()  # blank is unset
            if variable.attr is not None and text:
                values[variable.attr] = _read(variable.name, variable.parse, text)
        settings = cls(**values)  # type: ignore[arg-type]  # each row's parser returns its field's type
        if settings.first_response_hours > settings.resolution_hours:
            raise ConfigError("DNCGATE_FIRST_RESPONSE_HOURS: must not be later than DNCGATE_RESOLUTION_HOURS")
        if (settings.redis_url or settings.database_url) and settings.pepper is None:
            # A generated pepper lives in one machine's data dir: replicas sharing an external store
            # would each key numbers differently.
            raise ConfigError(
                "DNCGATE_PEPPER must be set when DNCGATE_REDIS_URL or DNCGATE_DATABASE_URL points at an "
                "external server (at least 32 hex characters, the same on every replica)"
            )
        if problem := settings.tls_problem():
            raise ConfigError(problem)
        return settings

    def tls_problem(self) -> str | None:
        """What is wrong with the TLS files named (a certificate without its key...), None if nothing."""
        if (self.tls_cert is None) != (self.tls_key is None):
            return "DNCGATE_TLS_CERT and DNCGATE_TLS_KEY go together: set both (TLS) or neither (plaintext)"
        if self.tls_client_ca is not None and self.tls_cert is None:
            return (
                "DNCGATE_TLS_CLIENT_CA (mTLS) needs DNCGATE_TLS_CERT and DNCGATE_TLS_KEY: the server's own certificate"
            )
        return None

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
        # The file holds what DNCGATE_PEPPER would, and is refused as that would be.
        return _read("DNCGATE_PEPPER", pepper, path.read_text().strip())


def _read(name: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def field_defaults() -> dict[str, object]:
    """Each Settings field's default, as declared (`data_dir` before it is made absolute)."""
    return {
        f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(Settings)
    }


def markdown() -> str:
    """The README's configuration table: each variable a user may set, its default, what it means."""
    defaults = field_defaults()
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for v in VARIABLES:
        if v.internal:
            continue
        value = defaults[v.attr] if v.attr else None
        default = v.default if value is None else f"`{_shown(value)}`"
        bounds = f" ({v.parse.lo}..{v.parse.hi})" if isinstance(v.parse, Integer) else ""
        lines.append(f"| `{v.name}` | {default} | {v.help}{bounds} |")
    return "\n".join(lines) + "\n"


def _shown(value: object) -> str:
    return str(value.value).lower() if isinstance(value, Enum) else str(value)
