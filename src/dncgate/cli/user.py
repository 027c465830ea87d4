"""`dncgate user create`: a console user, whose password is prompted and stored only as its argon2 hash."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from dncgate.cli.args import Subparsers, local_settings
from dncgate.cli.output import console
from dncgate.domain import access


def _password(from_stdin: bool) -> str | None:
    """The new password: one line of stdin with --password-stdin (scripts), else prompted twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        console.print("[red]error[/red]: the two passwords differ")
        return None
    return first


def cmd_create(ns: argparse.Namespace) -> int:
    """Straight into the database (that of the running `serve`, or $DNCGATE_DATABASE_URL), like
    `token create --bootstrap`: whoever may run this on the server's host may add a user."""
    from dncgate.bootstrap import bootstrap_user
    from dncgate.domain.errors import DncgateError

    password = _password(ns.password_stdin)
    if password is None:
        return 1
    try:
        row = asyncio.run(
            bootstrap_user(local_settings(), "cli", name=ns.name, password=password, roles=ns.role, orgs=ns.org)
        )
    except DncgateError as exc:
        console.print(f"[red]error[/red]: {exc.message}")
        return 1
    console.print(f"user {row.name} created: roles {', '.join(row.roles)}; orgs {', '.join(row.orgs) or '(all)'}")
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `user create` under the `dncgate` parser."""
    users = sub.add_parser("user", help="console users: a name and a password (the web console's logins)")
    cmds = users.add_subparsers(dest="user_command", required=True)
    p = cmds.add_parser("create", help="a new console user; the password is prompted (twice)")
    p.add_argument("name", help="the login name, also the operator's name on cases (hotline zhao)")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[*access.ROLE_METHODS],
        help="the user's role: " + ", ".join(access.ROLE_METHODS) + "; repeat for several",
    )
    p.add_argument("--org", action="append", default=[], help="an org it may act for; repeat; none: every org")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(local=cmd_create)
