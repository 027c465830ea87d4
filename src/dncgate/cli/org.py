"""`dncgate org`: an org's policy: enforce (block) or monitor (allow, and flag the violation), signed
receipts, quiet on public holidays, registered caller lines only, its own daily frequency cap, opt-in
(calls only with a consent on file, for some categories or all).

`org set` changes only the fields whose flags it is given (the request's update_mask names them);
`org set-mode` changes the mode, and the opt-in fields whose flags it is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from dncgate.cli.args import Subparsers, client, enum_arg, request_id
from dncgate.cli.output import console, enum_name, kv
from dncgate.v1 import common_pb2, registry_pb2, registry_pb2_grpc


def cmd_set_mode(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    request = registry_pb2.SetOrgPolicyRequest(org_id=ns.org, mode=ns.mode, request_id=ns.request_id)
    paths = ["mode", *_opt_in(ns, request)]
    request.update_mask.CopyFrom(FieldMask(paths=paths))
    _show(registry_pb2_grpc.RegistryStub(channel).SetOrgPolicy(request, timeout=ns.timeout))
    return 0


def _opt_in(ns: argparse.Namespace, request: registry_pb2.SetOrgPolicyRequest) -> list[str]:
    """The opt-in fields whose flags were given, set on `request`; their mask paths."""
    paths = []
    if ns.consent_required is not None:
        request.consent_required = ns.consent_required
        paths.append("consent_required")
    if ns.consent_categories is not None:
        request.consent_required_categories.extend(ns.consent_categories)
        paths.append("consent_required_categories")
    return paths


def _category_list(text: str) -> list[int]:
    """`finance,real-estate` as wire categories; `all` (every category) as none."""
    if text.strip().lower() == "all":
        return []
    parse = enum_arg(common_pb2.Category, "CATEGORY_")
    return [parse(part) for part in text.split(",") if part.strip()]


def _names(categories: list[int]) -> str:
    """Categories as typed on the command line (`real-estate`), `all` for none."""
    names = (enum_name(common_pb2.Category, c, "CATEGORY_").lower().replace("_", "-") for c in categories)
    return ",".join(names) or "all"


def _show(p: registry_pb2.OrgPolicy) -> None:
    mode = enum_name(common_pb2.Mode, p.mode, "MODE_").lower()
    cap = str(p.max_calls_per_day) if p.max_calls_per_day else "none"
    kv(
        [
            ("org", p.org_id),
            ("mode", mode),
            ("signed receipts", _on(p.signed_receipts)),
            ("quiet on holidays", _on(p.quiet_on_public_holidays)),
            ("registered lines only", _on(p.require_registered_lines)),
            ("cap per day", cap),
            ("consent required", _consent(p)),
            ("recorded by", p.recorded_by or "-"),
        ]
    )


def _consent(p: registry_pb2.OrgPolicy) -> str:
    """Opt-in's categories when on; off, with the categories it would bind when some are named."""
    names = _names(list(p.consent_required_categories))
    if p.consent_required:
        return names
    return f"off ({names})" if p.consent_required_categories else "off"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def cmd_set(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    request = registry_pb2.SetOrgPolicyRequest(org_id=ns.org, request_id=ns.request_id)
    paths = []
    if ns.mode is not None:
        request.mode = ns.mode
        paths.append("mode")
    if ns.signed_receipts is not None:
        request.signed_receipts = ns.signed_receipts
        paths.append("signed_receipts")
    if ns.quiet_on_holidays is not None:
        request.quiet_on_public_holidays = ns.quiet_on_holidays
        paths.append("quiet_on_public_holidays")
    if ns.require_registered_lines is not None:
        request.require_registered_lines = ns.require_registered_lines
        paths.append("require_registered_lines")
    if ns.cap_per_day is not None:
        request.max_calls_per_day = ns.cap_per_day
        paths.append("max_calls_per_day")
    paths += _opt_in(ns, request)
    if not paths:
        console.print(
            "[red]error[/red]: nothing to change: give --mode, --[no-]signed-receipts, --[no-]quiet-on-holidays,"
            " --[no-]require-registered-lines, --cap-per-day, --[no-]consent-required and/or --consent-categories"
        )
        return 2
    request.update_mask.CopyFrom(FieldMask(paths=paths))
    _show(registry_pb2_grpc.RegistryStub(channel).SetOrgPolicy(request, timeout=ns.timeout))
    return 0


def cmd_get(ns: argparse.Namespace, channel: grpc.Channel) -> int:
    stub = registry_pb2_grpc.RegistryStub(channel)
    p = stub.GetOrgPolicy(registry_pb2.GetOrgPolicyRequest(org_id=ns.org), timeout=ns.timeout)
    mode = enum_name(common_pb2.Mode, p.mode, "MODE_").lower()
    if not p.explicit:
        kv(
            [
                ("org", p.org_id),
                ("mode", f"{mode} (default)"),
                ("signed receipts", "off"),
                ("quiet on holidays", "off"),
                ("registered lines only", "off"),
                ("cap per day", "none"),
                ("consent required", "off"),
            ]
        )
        return 0
    _show(p)
    return 0


def add_commands(sub: Subparsers) -> None:
    """Register `org set|set-mode|get` under the `dncgate` parser."""
    org = sub.add_parser(
        "org", help="per-org policy: enforce/monitor, receipts, quiet days, registered lines, caps, opt-in"
    ).add_subparsers(dest="sub", required=True)
    p = org.add_parser("set", help="change the policy fields given, and only those")
    p.add_argument("org")
    p.add_argument("--mode", type=enum_arg(common_pb2.Mode, "MODE_"), help="enforce or monitor")
    p.add_argument(
        "--signed-receipts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sign every CheckResponse of the org (see `dncgate receipt verify`)",
    )
    p.add_argument(
        "--quiet-on-holidays",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="no calls on the callee's public holidays (BLOCK / QUIET_DAY; China's calendar)",
    )
    p.add_argument(
        "--require-registered-lines",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Checks only from the org's registered caller lines (else BLOCK / UNKNOWN_CALLER_LINE)",
    )
    p.add_argument(
        "--cap-per-day",
        type=int,
        metavar="N",
        help="the org's own frequency cap: at most N allowed calls to one consumer a rolling day (0: none)",
    )
    _opt_in_flags(p.add_argument)
    request_id(p)
    client(p, cmd_set)
    p = org.add_parser("set-mode", help="change the mode (and the opt-in fields given)")
    p.add_argument("org")
    p.add_argument("mode", type=enum_arg(common_pb2.Mode, "MODE_"), help="enforce or monitor")
    _opt_in_flags(p.add_argument)
    request_id(p)
    client(p, cmd_set_mode)
    p = org.add_parser("get")
    p.add_argument("org")
    client(p, cmd_get)


def _opt_in_flags(add: Callable[..., object]) -> None:
    add(
        "--consent-required",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="opt-in: calls only with a consent on file, registered or not (else BLOCK / NO_CONSENT)",
    )
    add(
        "--consent-categories",
        type=_category_list,
        metavar="LIST",
        help="the categories opt-in binds, comma-separated (e.g. finance,real-estate), or all",
    )
