"""`dncgate token`: create, list and revoke the bearer tokens and certificate subjects that may call."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dncgate.cli import records
from dncgate.cli.args import Subparsers, client, local_settings
from dncgate.cli.channel import run_client
from dncgate.cli.output import Grid, console, enum_name, err_console, fmt_ts, kv
from dncgate.v1 import access_pb2, access_pb2_grpc

_SPAN = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def expiry(text: str) -> datetime:
    """--expires: a span from now (90d, 12h, 30m) or an ISO time (one without a zone is local)."""
    if m := _SPAN.fullmatch(text.strip()):
        return datetime.now(UTC) + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a span like 90d, 12h or 30m, or an ISO time") from None
    return at if at.tzinfo is not None else at.astimezone()


def _show(t: access_pb2.Token) -> None:
    rows = [
        ("id", t.id),
        ("kind", enum_name(access_pb2.TokenKind, t.kind, "TOKEN_KIND_").lower()),
        ("name", t.name),
        ("roles", ", ".join(t.roles)),
        ("orgs", ", ".join(t.orgs) or "(all)"),
        ("expires", fmt_ts(t.expires_at, t.HasField("expires_at")) if t.HasField("expires_at") else "never"),
        ("created by", t.created_by),
    ]
    if t.subject:
        rows.insert(3, ("subject", t.subject))
    if t.HasField("revoked_at"):
        rows.append(("revoked", f"{fmt_ts(t.revoked_at)} by {t.revoked_by}"))
    kv(rows)


def _request(ns: argparse.Namespace) -> access_pb2.CreateTokenRequest:
    req = access_pb2.CreateTokenRequest(
        name=ns.name, roles=ns.role, orgs=ns.org, certificate_subject=ns.certificate_subject or ""
    )
    if ns.expires is not None:
        ts = Timestamp()
        ts.FromDatetime(ns.expires.astimezone(UTC))
        req.expires_at.CopyFrom(ts)
    return req


def _print_secret(token: str) -> None:
    console.print("[bold]The token is shown once; it is not stored anywhere.[/bold] It is the last line:")
    print(token, flush=True)  # plain, whole, last: `| tail -1` takes it


def cmd_create(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    created = access_pb2_grpc.AccessStub(channel).CreateToken(_request(ns), timeout=ns.timeout)
    _show(created.token)
    if created.secret_token:
        _print_secret(created.secret_token)
    return 0


def cmd_create_bootstrap(ns: argparse.Namespace) -> int:
    """--bootstrap: straight into the database (DNCGATE_DATABASE_URL or the embedded one), no server."""
    from dncgate.api.access import token_message
    from dncgate.bootstrap import bootstrap_token
    from dncgate.domain.errors import DncgateError

    try:
        new = asyncio.run(
            bootstrap_token(
                local_settings(),
                name=ns.name,
                roles=ns.role,
                orgs=ns.org,
                expires_at=ns.expires,
                certificate_subject=ns.certificate_subject or "",
            )
        )
    except DncgateError as exc:
        err_console.print(f"[red]error[/red]: {exc.message}")
        return 1
    _show(token_message(new.row))
    if new.token:
        _print_secret(new.token)
    return 0


def cmd_create_any(ns: argparse.Namespace) -> int:
    if ns.bootstrap:
        return cmd_create_bootstrap(ns)
    return run_client(ns, cmd_create)


def cmd_list(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    listed = access_pb2_grpc.AccessStub(channel).ListTokens(
        access_pb2.ListTokensRequest(include_revoked=ns.all), timeout=ns.timeout
    )
    # The id is what `token revoke` takes: never cut, whatever the terminal's width.
    table = Grid(
        "tokens",
        ("id", "kind", "name", "roles", "orgs", "expires", "revoked", "created by"),
        keep=frozenset({"id", "expires", "revoked"}),
    )
    for t in listed.tokens:
        table.add_row(
            t.id,
            enum_name(access_pb2.TokenKind, t.kind, "TOKEN_KIND_").lower(),
            t.subject or t.name,
            ", ".join(t.roles),
            ", ".join(t.orgs) or "(all)",
            fmt_ts(t.expires_at) if t.HasField("expires_at") else "never",
            fmt_ts(t.revoked_at) if t.HasField("revoked_at") else "-",
            t.created_by,
        )
    records.emit(ns, access_pb2.Token.DESCRIPTOR, listed.tokens, lambda: table.print("no tokens"))
    return 0


def cmd_revoke(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    _show(access_pb2_grpc.AccessStub(channel).RevokeToken(access_pb2.RevokeTokenRequest(id=ns.id), timeout=ns.timeout))
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `token create|list|revoke` under the `dncgate` parser."""
    tok = sub.add_parser("token", help="bearer tokens and certificate subjects (admin)").add_subparsers(
        dest="token_command", required=True
    )
    p = tok.add_parser("create", help="a new token, printed once as the last line (or a certificate subject)")
    p.add_argument("--name", required=True, help="who or what holds it (dialer-7, alice)")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        help="dialer, registry, importer, hotline, supervisor, payments, compliance or admin; repeat for several",
    )
    p.add_argument("--org", action="append", default=[], help="an org it may act for; repeat; none: every org")
    p.add_argument("--expires", type=expiry, help="90d, 12h, 30m or an ISO time (default: never)")
    p.add_argument("--certificate-subject", help='grants for client certificates with this subject ("CN=dialer-7")')
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="write it straight into the database ($DNCGATE_DATABASE_URL, $DNCGATE_PEPPER), no server needed",
    )
    client(p, cmd_create)
    p.set_defaults(local=cmd_create_any)
    p = tok.add_parser("list", help="every live token and certificate subject (no secrets)")
    p.add_argument("--all", action="store_true", help="revoked ones too")
    records.add_flag(p, "each token")
    client(p, cmd_list)
    p = tok.add_parser("revoke", help="refuse a token everywhere within seconds")
    p.add_argument("id", help="the <id> of dnc_<id>_<secret>")
    client(p, cmd_revoke)
