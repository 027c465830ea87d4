"""The `dncgate` command: run the server, or talk to one as a dialer, the app or an operator would."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.table import Table

from dncgate.config import ROLES, ConfigError, Settings
from dncgate.domain.errors import PepperMismatch
from dncgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, registry_pb2, registry_pb2_grpc

console = Console()


def _enum_arg(enum: Any, prefix: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        name = prefix + text.strip().upper().replace("-", "_")
        try:
            return int(enum.Value(name))
        except ValueError:
            choices = ", ".join(n[len(prefix) :].lower().replace("_", "-") for n in enum.keys()[1:])
            raise argparse.ArgumentTypeError(f"{text!r}: expected one of {choices}") from None

    return parse


def _time_arg(text: str) -> Timestamp:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an ISO time like 2026-11-23T14:03:00+08:00") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # the local time of the operator's machine
    t = Timestamp()
    t.FromDatetime(dt.astimezone(UTC))
    return t


def _fmt_ts(t: Timestamp, present: bool = True) -> str:
    if not present or (t.seconds == 0 and t.nanos == 0):
        return "-"
    return t.ToDatetime(tzinfo=UTC).astimezone().isoformat(timespec="seconds")


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value))[len(prefix) :]


def _target(ns: argparse.Namespace) -> str:
    return str(ns.target or os.environ.get("DNCGATE_TARGET") or os.environ.get("DNCGATE_LISTEN") or "127.0.0.1:50051")


def _rpc_error(exc: grpc.RpcError) -> int:
    status = rpc_status.from_call(exc)
    code = exc.code().name if hasattr(exc, "code") else "ERROR"
    details = exc.details() if hasattr(exc, "details") else str(exc)
    console.print(f"[red]error[/red]: {code}: {details}")
    if status is not None:
        for d in status.details:
            if d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                br = error_details_pb2.BadRequest()
                d.Unpack(br)
                for v in br.field_violations:
                    console.print(f"  field [bold]{v.field}[/bold]: {v.description}")
    return 1


def _kv(rows: Sequence[tuple[str, str]]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


# --- client commands ---------------------------------------------------------------------------


def cmd_check(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = gateway_pb2_grpc.CallGateStub(channel)
    r = stub.Check(
        gateway_pb2.CheckRequest(
            caller_number=ns.caller,
            callee_number=ns.callee,
            agent_id=ns.agent,
            org_id=ns.org,
            campaign_id=ns.campaign,
            category=ns.category,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    decision = _name(gateway_pb2.Decision, r.decision, "DECISION_")
    colour = "green" if decision == "ALLOW" else "red"
    rows = [
        ("decision", f"[{colour}]{decision}[/{colour}]"),
        ("reason", _name(gateway_pb2.Reason, r.reason, "REASON_")),
        ("callee", r.callee_e164 or "-"),
        ("call_id", r.call_id),
    ]
    if r.violation:
        rows.append(("violation", "yes (monitor mode: would have been blocked)"))
    if r.HasField("next_allowed_time"):
        rows.append(("next allowed", _fmt_ts(r.next_allowed_time)))
    _kv(rows)
    return 0


def _print_preference(p: registry_pb2.Preference) -> None:
    if not p.found:
        _kv([("number", p.number_masked), ("do not disturb", "no (never registered)")])
        return
    cats = ", ".join(_name(common_pb2.Category, c, "CATEGORY_").lower() for c in p.categories) or "all"
    _kv(
        [
            ("number", p.number_masked),
            ("do not disturb", f"yes ({cats})" if p.do_not_disturb else "no"),
            ("source", _name(common_pb2.Source, p.source, "SOURCE_").lower()),
            ("effective from", _fmt_ts(p.effective_from)),
            ("recorded at", _fmt_ts(p.recorded_at)),
            ("journal seq", str(p.journal_seq)),
        ]
    )


def cmd_registry_set(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.SetPreference(
        registry_pb2.SetPreferenceRequest(
            number=ns.number,
            do_not_disturb=ns.dnd,
            categories=ns.category or [],
            source=ns.source,
            effective_from=ns.effective_from,
            request_id=ns.request_id,
        ),
        timeout=ns.timeout,
    )
    _print_preference(p)
    return 0


def cmd_registry_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    _print_preference(
        stub.GetPreference(registry_pb2.GetPreferenceRequest(number=ns.number, as_of=ns.as_of), timeout=ns.timeout)
    )
    return 0


def cmd_registry_history(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    h = stub.GetPreferenceHistory(registry_pb2.GetPreferenceHistoryRequest(number=ns.number), timeout=ns.timeout)
    table = Table(title=f"preference history of {h.number_masked}")
    for col in ("seq", "do not disturb", "categories", "source", "effective from", "recorded at"):
        table.add_column(col)
    for p in h.entries:
        cats = ", ".join(_name(common_pb2.Category, c, "CATEGORY_").lower() for c in p.categories) or "all"
        table.add_row(
            str(p.journal_seq),
            "yes" if p.do_not_disturb else "no",
            cats if p.do_not_disturb else "-",
            _name(common_pb2.Source, p.source, "SOURCE_").lower(),
            _fmt_ts(p.effective_from),
            _fmt_ts(p.recorded_at),
        )
    console.print(table)
    if h.consents:
        ct = Table(title="consents")
        for col in ("seq", "org", "agent", "action", "expires", "evidence", "recorded at"):
            ct.add_column(col)
        for c in h.consents:
            ct.add_row(
                str(c.journal_seq),
                c.org_id,
                c.agent_id or "(any)",
                "revoke" if c.revoked else "grant",
                _fmt_ts(c.expires_at, c.HasField("expires_at")),
                c.evidence,
                _fmt_ts(c.recorded_at),
            )
        console.print(ct)
    return 0


def _print_consent(c: registry_pb2.Consent) -> None:
    _kv(
        [
            ("consumer", c.consumer_number_masked),
            ("org", c.org_id),
            ("agent", c.agent_id or "(any agent)"),
            ("state", "revoked" if c.revoked else "granted"),
            ("expires", _fmt_ts(c.expires_at, c.HasField("expires_at")) if not c.revoked else "-"),
            ("journal seq", str(c.journal_seq)),
        ]
    )


def cmd_consent_grant(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    _print_consent(
        stub.GrantConsent(
            registry_pb2.GrantConsentRequest(
                consumer_number=ns.number,
                org_id=ns.org,
                agent_id=ns.agent,
                expires_at=ns.expires,
                evidence=ns.evidence,
                request_id=ns.request_id,
            ),
            timeout=ns.timeout,
        )
    )
    return 0


def cmd_consent_revoke(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    _print_consent(
        stub.RevokeConsent(
            registry_pb2.RevokeConsentRequest(
                consumer_number=ns.number, org_id=ns.org, agent_id=ns.agent, request_id=ns.request_id
            ),
            timeout=ns.timeout,
        )
    )
    return 0


def cmd_org_set_mode(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.SetOrgPolicy(
        registry_pb2.SetOrgPolicyRequest(org_id=ns.org, mode=ns.mode, request_id=ns.request_id), timeout=ns.timeout
    )
    _kv([("org", p.org_id), ("mode", _name(common_pb2.Mode, p.mode, "MODE_").lower())])
    return 0


def cmd_org_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ns.org), timeout=ns.timeout)
    mode = _name(common_pb2.Mode, p.mode, "MODE_").lower()
    _kv([("org", p.org_id), ("mode", mode if p.explicit else f"{mode} (default)")])
    return 0


# --- local commands ----------------------------------------------------------------------------


def _settings() -> Settings:
    from dncgate import logs

    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    return settings


def cmd_serve(ns: argparse.Namespace) -> int:
    from dncgate.embedded import die_with_parent_pid

    die_with_parent_pid(os.environ.get("DNCGATE_PARENT_PID"))  # set for the recorder child of `serve`
    settings = _settings()
    changes: dict[str, Any] = {}
    if ns.listen:
        changes["listen"] = ns.listen
    if ns.data_dir:
        changes["data_dir"] = ns.data_dir
    if ns.role:
        changes["role"] = ns.role
    settings = dataclasses.replace(settings, **changes)
    if ns.workers > 1:
        from dncgate.api.workers import run_workers

        try:
            return run_workers(settings, ns.workers)
        except ValueError as exc:
            console.print(f"[red]error[/red]: {exc}")
            return 2
    from dncgate.api.server import serve

    try:
        import uvloop

        uvloop.run(serve(settings))
    except ImportError:
        asyncio.run(serve(settings))
    return 0


def cmd_registry_rebuild(ns: argparse.Namespace) -> int:
    from dncgate.bootstrap import endpoints_file, open_app
    from dncgate.service import sync

    settings = _settings()
    ep = endpoints_file(settings.data_dir)
    if settings.embedded and ep.exists():
        # A running `dncgate serve` owns the embedded servers: connect to them, don't start new ones.
        urls = json.loads(ep.read_text())
        settings = dataclasses.replace(settings, redis_url=urls["redis_url"], database_url=urls["database_url"])

    async def run() -> None:
        async with open_app(settings) as app:
            report = await sync.rebuild(app.journal, app.hot)
            console.print(
                f"rebuilt Redis from the journal: {report.numbers} numbers, {report.consents} consents, "
                f"journal seq {report.seq}, {report.seconds:.2f} s"
            )

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dncgate", description="Do-not-call gateway and compensation service.")
    sub = parser.add_subparsers(dest="command", required=True)

    def client(p: argparse.ArgumentParser, func: Callable[[argparse.Namespace, grpc.Channel], int]) -> None:
        p.add_argument("--target", help="server address (default $DNCGATE_TARGET or 127.0.0.1:50051)")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
        p.set_defaults(client=func)

    def request_id(p: argparse.ArgumentParser) -> None:
        p.add_argument("--request-id", default="", help="idempotency key: the same id again changes nothing")

    category = _enum_arg(common_pb2.Category, "CATEGORY_")
    source = _enum_arg(common_pb2.Source, "SOURCE_")
    mode = _enum_arg(common_pb2.Mode, "MODE_")

    p = sub.add_parser("serve", help="run the server (embedded Redis and PostgreSQL unless URLs are set)")
    p.add_argument("--listen", help="host:port (default $DNCGATE_LISTEN or 127.0.0.1:50051)")
    p.add_argument(
        "--data-dir", type=lambda s: __import__("pathlib").Path(s), help="default $DNCGATE_DATA_DIR or .dncgate"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gRPC server processes sharing the port (SO_REUSEPORT), plus one recorder; default 1",
    )
    p.add_argument(
        "--role",
        choices=ROLES,
        help="what this process runs (default $DNCGATE_ROLE or all): all, one gRPC service, or the recorder",
    )
    p.set_defaults(local=cmd_serve)

    p = sub.add_parser("check", help="ask whether a call may be placed")
    p.add_argument("--caller", required=True, help="the calling line")
    p.add_argument("--callee", required=True, help="the consumer's number")
    p.add_argument("--agent", default="")
    p.add_argument("--org", required=True)
    p.add_argument("--campaign", default="")
    p.add_argument("--category", type=category, default=0, help="real-estate, finance, insurance, ...")
    p.add_argument("--request-id", default="")
    client(p, cmd_check)

    reg = sub.add_parser("registry", help="do-not-disturb preferences").add_subparsers(dest="sub", required=True)
    p = reg.add_parser("set", help="set or clear do-not-disturb for a number")
    p.add_argument("number")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--dnd", dest="dnd", action="store_true", help="turn do-not-disturb on")
    g.add_argument("--no-dnd", dest="dnd", action="store_false", help="turn it off")
    p.add_argument("--category", type=category, action="append", help="repeatable; none means all categories")
    p.add_argument(
        "--source", type=source, default=common_pb2.SOURCE_ADMIN, help="app, hotline, admin, ... (default admin)"
    )
    p.add_argument("--effective-from", type=_time_arg, help="ISO time (default now)")
    request_id(p)
    client(p, cmd_registry_set)
    p = reg.add_parser("get", help="the preference in effect (now or --as-of)")
    p.add_argument("number")
    p.add_argument("--as-of", type=_time_arg)
    client(p, cmd_registry_get)
    p = reg.add_parser("history", help="every journal entry of a number")
    p.add_argument("number")
    client(p, cmd_registry_history)
    p = reg.add_parser("rebuild", help="recreate Redis from the PostgreSQL journal (Checks block meanwhile)")
    p.set_defaults(local=cmd_registry_rebuild)
    from dncgate.cli_import import add_import_command  # late: cli_import imports this module

    add_import_command(reg, client)

    con = sub.add_parser("consent", help="consents to be called").add_subparsers(dest="sub", required=True)
    p = con.add_parser("grant")
    p.add_argument("number")
    p.add_argument("--org", required=True)
    p.add_argument("--agent", default="", help="default: any agent of the org")
    p.add_argument("--expires", type=_time_arg, help="ISO time (default: no expiry)")
    p.add_argument("--evidence", default="")
    request_id(p)
    client(p, cmd_consent_grant)
    p = con.add_parser("revoke")
    p.add_argument("number")
    p.add_argument("--org", required=True)
    p.add_argument("--agent", default="")
    request_id(p)
    client(p, cmd_consent_revoke)

    org = sub.add_parser("org", help="per-org enforce/monitor policy").add_subparsers(dest="sub", required=True)
    p = org.add_parser("set-mode")
    p.add_argument("org")
    p.add_argument("mode", type=mode, help="enforce or monitor")
    request_id(p)
    client(p, cmd_org_set_mode)
    p = org.add_parser("get")
    p.add_argument("org")
    client(p, cmd_org_get)
    from dncgate.cli_hotline import add_hotline_commands  # late: cli_hotline imports this module

    add_hotline_commands(sub, client, request_id)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        if hasattr(ns, "local"):
            return int(ns.local(ns))
        with grpc.insecure_channel(_target(ns)) as channel:
            return int(ns.client(ns, channel))
    except grpc.RpcError as exc:
        return _rpc_error(exc)
    except (ConfigError, PepperMismatch) as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
