"""`dncgate consent`: grant and revoke a consumer's consent to be called by an org (or one of its agents)."""

from __future__ import annotations

import argparse

import grpc

from dncgate.cli.args import Subparsers, client, request_id, time_arg
from dncgate.cli.output import fmt_ts, kv
from dncgate.v1 import registry_pb2, registry_pb2_grpc


def _print_consent(c: registry_pb2.Consent) -> None:
    kv(
        [
            ("consumer", c.consumer_number_masked),
            ("org", c.org_id),
            ("agent", c.agent_id or "(any agent)"),
            ("state", "revoked" if c.revoked else "granted"),
            ("expires", fmt_ts(c.expires_at, c.HasField("expires_at")) if not c.revoked else "-"),
            ("exempt from caps", "yes" if c.exempt_from_caps else "no"),
            ("recorded by", c.recorded_by or "-"),
            ("journal seq", str(c.journal_seq)),
        ]
    )


def cmd_grant(ns: argparse.Namespace, channel: grpc.Channel) -> int:
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
                exempt_from_caps=ns.exempt_from_caps,
            ),
            timeout=ns.timeout,
        )
    )
    return 0


def cmd_revoke(ns: argparse.Namespace, channel: grpc.Channel) -> int:
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


def add_commands(sub: Subparsers) -> None:
    """Register `consent grant|revoke` under the `dncgate` parser."""
    con = sub.add_parser("consent", help="consents to be called").add_subparsers(dest="sub", required=True)
    p = con.add_parser("grant", help="she agrees to be called by the org (or one agent)")
    p.add_argument("number", help="the consumer's number")
    p.add_argument("--org", required=True, help="the org she consents to be called by")
    p.add_argument("--agent", default="", help="default: any agent of the org")
    p.add_argument("--expires", type=time_arg, help="ISO time (default: no expiry)")
    p.add_argument("--evidence", default="", help="what proves it: a form, a recording's id (numbers masked)")
    p.add_argument(
        "--exempt-from-caps",
        action="store_true",
        help="the consent's calls neither count nor are held to the frequency caps",
    )
    request_id(p)
    client(p, cmd_grant)
    p = con.add_parser("revoke", help="she takes her consent back")
    p.add_argument("number", help="the consumer's number")
    p.add_argument("--org", required=True, help="the org she consents to be called by")
    p.add_argument("--agent", default="", help="the agent whose consent it is (default: the org's)")
    request_id(p)
    client(p, cmd_revoke)
