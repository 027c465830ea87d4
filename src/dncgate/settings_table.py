"""The DNCGATE_* variables as data: one row each, with the parser that reads its text and its help.

`Settings.from_env` (config.py) is a loop over VARIABLES, and the README's configuration table is
`config.markdown()` of the same rows. A parser takes the trimmed, non-blank text and returns the value of
the row's Settings field, or raises ValueError saying what is wrong; config.py adds the variable's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dncgate.domain.hours import CallingHours
from dncgate.domain.money import Money
from dncgate.domain.retention import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, retention_days
from dncgate.domain.types import Mode

# What one `dncgate serve` process runs: everything, or one part per deployment.
# "api" is every gRPC service without the recorder: what each `serve --workers` process runs.
# "http" is the HTTP/JSON face alone, with the Check path's stores it needs.
# "console" is the web console alone (console/), a client of the gRPC API at DNCGATE_CONSOLE_TARGET.
Role = Literal["all", "api", "gateway", "registry", "compensation", "recorder", "http", "console"]
# Where role `all` runs its recorder: in a child process (a recorder batch would otherwise stall the
# Checks sharing its event loop), or inline as a task of the serving process.
RecorderMode = Literal["process", "inline"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
ROLES: tuple[Role, ...] = get_args(Role)
RECORDER_MODES: tuple[RecorderMode, ...] = get_args(RecorderMode)


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer in lo..hi, both included; the README shows the bounds."""

    lo: int
    hi: int

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
        if not self.lo <= value <= self.hi:
            raise ValueError(f"{value} is outside {self.lo}..{self.hi}")
        return value


@dataclass(frozen=True, slots=True)
class Choice:
    """One of `values`, in any case; `aliases` are other spellings of a value."""

    values: tuple[str, ...]
    expected: str = ""  # the error's wording, if not "a, b or c"
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, text: str) -> str:
        value = self.aliases.get(text.lower(), text.lower())
        if value not in self.values:
            raise ValueError(f"expected {self.expected or ', '.join(self.values[:-1]) + ' or ' + self.values[-1]}")
        return value


def _region(text: str) -> str:
    # An unknown region would make every national-format number invalid, silently.
    if text.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{text!r} is not a region code such as CN or US")
    return text.upper()


def _time_zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone") from None
    return text


def _mode(text: str) -> Mode:
    try:
        return Mode(text.upper())
    except ValueError:
        raise ValueError("expected 'enforce' or 'monitor'") from None


def pepper(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = text.encode()
    if len(raw) < 16:
        raise ValueError("at least 16 bytes (32 hex characters) of secret are required")
    return raw


def _payout_key(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("expected 64 hex characters (an AES-256 key)")
    return raw


def _receipt_key(text: str) -> str:
    # 64 hex characters (the Ed25519 seed) or a PEM file's path; the file is read at start-up.
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text
    if not Path(text).is_file():
        raise ValueError("expected 64 hex characters (an Ed25519 seed) or the path of a PEM private key file")
    return text


def parse_listen(listen: str) -> tuple[str, int] | None:
    """`host:port` as its parts (a blank host: every address); None for `off`. ValueError otherwise."""
    if listen.lower() == "off":
        return None
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{listen!r}: expected host:port or off")
    return host.strip("[]") or "0.0.0.0", int(port)


def _metrics_listen(text: str) -> str:
    parse_listen(text)
    return "off" if text.lower() == "off" else text


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("expected 0 or 1")
    return text == "1"


def _boolean(text: str) -> bool:
    value = text.lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("expected true or false")
    return value in ("true", "1", "yes")


# --- the variables ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    """One DNCGATE_* variable: the Settings field it fills, how its text is read, and its README row."""

    name: str
    attr: str | None  # None: not a Settings field; read where `help` says
    parse: Callable[[str], object]  # the trimmed, non-blank text to the field's value
    help: str
    default: str = ""  # the README's default where the field's is None, or there is no field
    internal: bool = False  # set by dncgate for its own child processes; not in the README


_HOURS = Integer(1, 24 * 365)
VARIABLES: tuple[Variable, ...] = (
    Variable("DNCGATE_LISTEN", "listen", str, "gRPC listen address (`serve --listen` overrides)"),
    Variable(
        "DNCGATE_DATA_DIR",
        "data_dir",
        Path,
        "embedded Redis/PostgreSQL data, pepper, endpoints file (`serve --data-dir`)",
    ),
    Variable(
        "DNCGATE_REDIS_URL",
        "redis_url",
        str,
        "e.g. `redis://host:6379/0`, `unix:///path/redis.sock`",
        "unset: embedded",
    ),
    Variable(
        "DNCGATE_DATABASE_URL",
        "database_url",
        str,
        "e.g. `postgresql://user:pw@host/dncgate`; the schema is migrated at start-up",
        "unset: embedded",
    ),
    Variable(
        "DNCGATE_PEPPER",
        "pepper",
        pepper,
        "HMAC key for consumer numbers, ≥ 32 hex characters; required once either store is external",
        "generated (embedded only)",
    ),
    Variable("DNCGATE_DEFAULT_REGION", "default_region", _region, "region for numbers written without a country code"),
    Variable(
        "DNCGATE_DEFAULT_TIMEZONE",
        "default_timezone",
        _time_zone,
        "time zone for numbers whose zone `phonenumbers` can't tell",
    ),
    Variable(
        "DNCGATE_CALLING_HOURS",
        "calling_hours",
        CallingHours.parse,
        "window in the callee's local time; `00:00-24:00` turns the rule off",
    ),
    Variable("DNCGATE_MODE", "mode", _mode, "default for orgs without a policy: `enforce` or `monitor`"),
    Variable(
        "DNCGATE_CAP_PER_DAY",
        "cap_per_day",
        Integer(0, 1000),
        "most placed (ALLOWed) calls to one consumer in any rolling 24 hours, over every org; past it: "
        "BLOCK `FREQUENCY_CAP`; `0`: off",
    ),
    Variable(
        "DNCGATE_CAP_PER_WEEK",
        "cap_per_week",
        Integer(0, 10_000),
        "most placed (ALLOWed) calls to one consumer in any rolling 7 days, over every org; `0`: off",
    ),
    Variable(
        "DNCGATE_REDIS_TIMEOUT_MS",
        "redis_timeout_ms",
        Integer(1, 60_000),
        "deadline for the Check's Redis reads and event append; past it: BLOCK",
    ),
    Variable(
        "DNCGATE_DB_TIMEOUT_MS",
        "db_timeout_ms",
        Integer(10, 300_000),
        "most an RPC waits for PostgreSQL (a pooled connection, then its statements; not rebuilds, imports, "
        "migrations or the recorder), or less if the request's deadline is nearer; past it: `UNAVAILABLE`, "
        "safe to retry",
    ),
    Variable("DNCGATE_MAX_BATCH", "max_batch", Integer(1, 100_000), "most requests in one `CheckBatch`"),
    Variable(
        "DNCGATE_SCRUB_QUOTA_PER_HOUR",
        "scrub_quota_per_hour",
        Integer(0, 1_000_000_000),
        "most numbers one token may have checked by `CheckBatch` in any sliding hour, over every replica; "
        "past it: `RESOURCE_EXHAUSTED` with `RetryInfo`; admin tokens exempt; `0`: off (see Quotas and load "
        "shedding)",
    ),
    Variable(
        "DNCGATE_MAX_STREAMS_PER_TOKEN",
        "max_streams_per_token",
        Integer(0, 100_000),
        "most `CheckStream`s one token may hold open at once, over every replica; past it: "
        "`RESOURCE_EXHAUSTED`; admin tokens exempt; `0`: off",
    ),
    Variable(
        "DNCGATE_MAX_CONCURRENT_RPCS",
        "max_concurrent_rpcs",
        Integer(0, 1_000_000),
        "most RPCs one server process handles at once (a stream counts while it is open); past it gRPC "
        "answers `RESOURCE_EXHAUSTED` at once; `0`: unlimited",
    ),
    Variable(
        "DNCGATE_REDIS_CLUSTER",
        "redis_cluster",
        _boolean,
        "`true`: DNCGATE_REDIS_URL names Redis Cluster nodes (`redis://host:port[,host:port...]`; see Redis Cluster)",
    ),
    Variable(
        "DNCGATE_STREAM_SHARDS",
        "stream_shards",
        Integer(1, 16384),
        "S, the shards of the registry's keys and call streams `dnc:calls:{s}`; fixed at deployment: a "
        "change rebuilds Redis, and events left in streams past the new S are not drained",
    ),
    Variable(
        "DNCGATE_REGISTRY_BUCKET_BITS",
        "registry_bucket_bits",
        Integer(8, 24),
        "Redis hash buckets = 2^bits: 16 keeps up to 33M numbers compact, then a bit more for each doubling "
        "(18 at 100M; docs/capacity.md); changing it triggers a rebuild",
    ),
    Variable(
        "DNCGATE_LOG_FORMAT",
        "log_format",
        Choice(get_args(LogFormat)),
        "`json`, `console`, or `auto` (console on a terminal, else JSON)",
    ),
    Variable(
        "DNCGATE_LOG_LEVEL",
        "log_level",
        # logging's other names for the same levels (notset logs what debug logs) are read as these.
        Choice(get_args(LogLevel), aliases={"warn": "warning", "fatal": "critical", "notset": "debug"}),
        "`debug`, `info`, `warning`, `error`, `critical`",
    ),
    Variable(
        "DNCGATE_TARGET",
        None,
        str,
        "server the CLI's client commands talk to (`--target` overrides); read by the client, not by `serve`",
        "`$DNCGATE_LISTEN`, else `127.0.0.1:50051`",
    ),
    Variable(
        "DNCGATE_TOKEN",
        None,
        str,
        "bearer token the CLI's client commands send (`--token` overrides); read by the client, not by `serve`",
        "`<data dir>/admin.token` when readable",
    ),
    Variable(
        "DNCGATE_DISPLAY_TZ",
        None,
        str,
        "time zone the CLI shows times in, with their offset, in tables and in `--output json|csv` (an IANA "
        "name: `Asia/Shanghai`, `UTC`); read by the client, not by `serve`",
        "the machine's local zone",
    ),
    Variable(
        "DNCGATE_COMPENSATION",
        "compensation",
        Money.parse,
        "paid per verified caller number: an amount and an ISO currency, parsed exactly (no floats)",
    ),
    Variable(
        "DNCGATE_FIRST_RESPONSE_HOURS",
        "first_response_hours",
        _HOURS,
        "a complaint's first-response due time, after filing; not later than `DNCGATE_RESOLUTION_HOURS`",
    ),
    Variable(
        "DNCGATE_RESOLUTION_HOURS",
        "resolution_hours",
        _HOURS,
        "a complaint's resolution due time, after filing; past it, an open case is overdue",
    ),
    Variable(
        "DNCGATE_UPDATE_HOURS",
        "update_hours",
        _HOURS,
        "a case's next update is due this long after its last consumer-visible update (or its filing), until "
        "it is CLOSED; past it, the case is `update_overdue`",
    ),
    Variable(
        "DNCGATE_REVISIT_DAYS",
        "revisit_days",
        Integer(1, 365),
        "a closed case's revisit (`RecordRevisit`: did the calls come back?) is due this many days after it "
        "closed (`revisit_due`); past it without one, the case is `revisit_overdue`",
    ),
    Variable(
        "DNCGATE_STATUS_LOOKUPS_PER_MINUTE",
        "status_lookups_per_minute",
        Integer(0, 100_000),
        "most `GetComplaintStatus` lookups of one case id in any sliding minute, over every replica (a "
        "consumer's own lookup: it holds back guessing her number); past it: `RESOURCE_EXHAUSTED`; `0`: off",
    ),
    Variable(
        "DNCGATE_PAYOUT_DUE_WORKDAYS",
        "payout_due_workdays",
        Integer(0, 60),
        "a booked payout is due at the end of this many working days after the day it is booked (China's "
        "calendar, see Working days and holidays); past it, a pending payout is overdue",
    ),
    Variable(
        "DNCGATE_REGULATOR_REPLY_WORKDAYS",
        "regulator_reply_workdays",
        Integer(1, 60),
        "a CHANNEL_REGULATOR case's reply to the regulator is due at the end of this many working days after "
        "the day it is filed (China's calendar); past it unanswered, the case is `regulator_reply_overdue`",
    ),
    Variable(
        "DNCGATE_MAJOR_PROGRESS_WORKDAYS",
        "major_progress_workdays",
        Integer(1, 60),
        "a major case's progress statement is due at the end of this many working days after the day it "
        "became major (escalated at filing or later); past it without one, it is `progress_statement_overdue`",
    ),
    Variable(
        "DNCGATE_HOLIDAYS_FILE",
        "holidays_file",
        Path,
        "CSV file of China's holiday schedule (`date,kind[,note]`, kind `holiday` or `workday`) for the "
        "years it names, over the `chinese-calendar` package's; read at start-up (see Working days and holidays)",
        "unset: the package's years only",
    ),
    Variable(
        "DNCGATE_PAYOUT_KEY",
        "payout_key",
        _payout_key,
        "AES-256 key (64 hex characters) sealing the consumer numbers kept to pay them",
        "derived from the pepper",
    ),
    Variable(
        "DNCGATE_RECEIPT_KEY",
        "receipt_key",
        _receipt_key,
        "Ed25519 key signing receipts (see Signed receipts): 64 hex characters (the seed) or the path of a "
        "PEM private key file; the same on every replica",
        "derived from the pepper if set, else generated into `<data dir>/receipt.key`",
    ),
    Variable(
        "DNCGATE_ROLE",
        "role",
        Choice(ROLES, expected="one of " + ", ".join(ROLES)),
        "what `serve` runs: `all`, `api` (every service but the recorder: what each `serve --workers` process "
        "runs), `gateway`, `registry`, `compensation`, `recorder`, `http` (the HTTP/JSON face alone) or "
        "`console` (the web console alone, see Console) (`serve --role`)",
    ),
    Variable(
        "DNCGATE_RECORDER_CONSUMER",
        "recorder_consumer",
        str,
        "the recorder's consumer name in the group `recorder`; stable per replica",
        "the host name",
    ),
    Variable(
        "DNCGATE_RECORDER_BATCH",
        "recorder_batch",
        Integer(1, 10_000),
        "most stream entries the recorder reads and commits in one transaction",
    ),
    Variable(
        "DNCGATE_RECORDER_MODE",
        "recorder_mode",
        Choice(RECORDER_MODES),
        "where role `all` runs the recorder: `process` (a child process, so its batches don't stall Checks) "
        "or `inline` (a task in the serving process)",
    ),
    Variable(
        "DNCGATE_CALL_LOG_RETENTION_DAYS",
        "call_log_retention_days",
        retention_days,
        "how long the call log, call outcomes and consumer notices are kept: the maintenance loop (beside the "
        "recorder) drops each month wholly older than this, unless a complaint not closed, or active within "
        f"it, still needs it; `0` keeps every month forever; else {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS} "
        "(see Call log, recorder and call outcomes)",
    ),
    Variable(
        "DNCGATE_DRAIN_SECONDS",
        "drain_s",
        Integer(0, 300),
        "on SIGTERM, how long health says NOT_SERVING while RPCs are still answered, before the server "
        "stops taking new ones (so a load balancer or the endpoints controller drains it first)",
    ),
    Variable(
        "DNCGATE_METRICS_LISTEN",
        "metrics_listen",
        _metrics_listen,
        "where `/metrics` is served for Prometheus, or `off`; each child process of `serve` takes the next "
        "port (see Metrics)",
    ),
    Variable(
        "DNCGATE_HTTP_LISTEN",
        "http_listen",
        _metrics_listen,
        "where the HTTP/JSON face (`POST /v1/check` & co, `GET /healthz`) is served in roles `all`, `api`, "
        "`gateway` and `http`, or `off`; HTTPS with the gRPC port's certificate once `DNCGATE_TLS_CERT` is set "
        "(see HTTP/JSON)",
    ),
    Variable(
        "DNCGATE_CONSOLE_LISTEN",
        "console_listen",
        _metrics_listen,
        "where the web console is served (roles `all` and `console`, one process), or `off`; HTTPS with the "
        "gRPC port's certificate once `DNCGATE_TLS_CERT` is set (see Console)",
    ),
    Variable(
        "DNCGATE_CONSOLE_TARGET",
        "console_target",
        str,
        "the gRPC API the console calls with each user's credential; in role `all` unset is this process's own port",
        "this process's gRPC port",
    ),
    Variable(
        "DNCGATE_CONSOLE_TLS_CA",
        "console_tls_ca",
        Path,
        "CA certificate (PEM file) the console verifies the gRPC API's certificate with, once the API is TLS "
        "(in role `all`: once `DNCGATE_TLS_CERT` is set); the console presents no client certificate, so an "
        "mTLS port (`DNCGATE_TLS_CLIENT_CA`) is refused at start-up",
        "unset: plaintext; in role `all` with TLS, `DNCGATE_TLS_CERT` itself (a self-signed certificate)",
    ),
    Variable(
        "DNCGATE_CONSOLE_IDLE_MINUTES",
        "console_idle_minutes",
        Integer(1, 24 * 60),
        "a console session this long without a request ends (its session token revoked)",
    ),
    Variable(
        "DNCGATE_CONSOLE_SESSION_HOURS",
        "console_session_hours",
        Integer(1, 24 * 7),
        "the longest a console login lasts, however busy: its session token expires then",
    ),
    Variable(
        "DNCGATE_TLS_CERT",
        "tls_cert",
        Path,
        "server certificate chain (PEM file) of the gRPC port, which is then TLS only; needs "
        "`DNCGATE_TLS_KEY`; read again when the file changes (see TLS and mTLS)",
        "unset: plaintext",
    ),
    Variable(
        "DNCGATE_TLS_KEY",
        "tls_key",
        Path,
        "the server certificate's private key (PEM file, unencrypted); needs `DNCGATE_TLS_CERT`",
        "unset: plaintext",
    ),
    Variable(
        "DNCGATE_TLS_CLIENT_CA",
        "tls_client_ca",
        Path,
        "CA certificates (PEM file) a client certificate must be signed by: mTLS, a client without one is "
        "refused; its subject names the caller when no bearer token is sent; needs `DNCGATE_TLS_CERT`",
        "unset: no client certificate asked for",
    ),
    Variable(
        "DNCGATE_HEALTH_LISTEN",
        "health_listen",
        _metrics_listen,
        "a second, plaintext gRPC port serving only `grpc.health.v1` (for probes that speak no TLS), or `off`",
    ),
    Variable(
        "DNCGATE_TLS_CA",
        None,
        str,
        "CA certificate (PEM file) the CLI's client commands verify a TLS server with, turning TLS on "
        "(`--tls-ca` overrides); read by the client, not by `serve`",
        "unset: plaintext",
    ),
    Variable(
        "DNCGATE_REUSE_PORT",
        "reuse_port",
        _flag,
        "`1` for the workers of `serve --workers`, which share the listening port",
        internal=True,
    ),
    Variable(
        "DNCGATE_PARENT_PID",
        None,
        str,
        "the pid of the `serve` whose recorder child this is: the child stops when it is gone (read by `serve`)",
        internal=True,
    ),
)
