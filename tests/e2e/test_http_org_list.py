"""The org's own list over HTTP/JSON: AddToOrgList, RemoveFromOrgList and GetOrgListHistory as their
google.api.http rules say, answered as gRPC answers them, the number in the body only."""

from __future__ import annotations

from dataclasses import replace

import pytest
from google.protobuf import json_format

from dncgate.api import http
from dncgate.api.server import running
from dncgate.config import Settings
from dncgate.v1 import registry_pb2, registry_pb2_grpc
from tests.auth import admin_token, aio_channel
from tests.e2e.http_client import Http
from tests.e2e.test_http import ORG, Face, _check, _reason, _status, _violations
from tests.e2e.test_http import face as face  # the fixture: a server with the HTTP face on

pytestmark = pytest.mark.e2e

NUMBER = "13800138000"
LIST = f"/v1/orgs/{ORG}/list"


def test_the_org_list_routes_are_the_annotations_of_the_registry_proto() -> None:
    """The Registry's rules: three POSTs under the org's path, each with the body as the request."""
    found = http.routes([registry_pb2.DESCRIPTOR.services_by_name["Registry"]])
    assert {(r.verb, r.path, r.method) for r in found} == {
        ("POST", "/v1/orgs/{org_id}/list:add", "/dncgate.v1.Registry/AddToOrgList"),
        ("POST", "/v1/orgs/{org_id}/list:remove", "/dncgate.v1.Registry/RemoveFromOrgList"),
        ("POST", "/v1/orgs/{org_id}/list:history", "/dncgate.v1.Registry/GetOrgListHistory"),
    }


async def test_add_check_history_and_remove_over_http_agree_with_grpc(face: Face) -> None:
    """Listed over HTTP: the Check says ORG_LIST; history lists her (reason masked) as gRPC does;
    removed: the Check allows again and the history holds both entries."""
    async with Http(face.port) as c:
        added = await c.post(f"{LIST}:add", {"number": NUMBER, "reason": "asked on the call, 13800138000"}, face.token)
        assert added.status == 200, added.body
        assert (added.json["orgId"], added.json["listed"], added.json["numberMasked"]) == (ORG, True, "+86138****8000")
        assert "13800138000" not in added.body.decode()  # the free text is masked like the number
        check = (await c.post("/v1/check", _check(), face.token)).json
        assert (check["decision"], check["reason"]) == ("DECISION_BLOCK", "REASON_ORG_LIST")
        history = await c.post(f"{LIST}:history", {"number": NUMBER}, face.token)
        assert history.status == 200, history.body
        assert history.json["listed"] is True and len(history.json["entries"]) == 1
        async with aio_channel(f"127.0.0.1:{face.running.port}", face.token) as channel:
            grpc_history = await registry_pb2_grpc.RegistryStub(channel).GetOrgListHistory(
                registry_pb2.GetOrgListHistoryRequest(number=NUMBER, org_id=ORG)
            )
        assert history.json == json_format.MessageToDict(grpc_history)
        removed = await c.post(f"{LIST}:remove", {"number": NUMBER}, face.token)
        assert removed.status == 200 and removed.json["orgId"] == ORG and "listed" not in removed.json
        assert (await c.post("/v1/check", _check(), face.token)).json["decision"] == "DECISION_ALLOW"
        after = (await c.post(f"{LIST}:history", {"number": NUMBER}, face.token)).json
        assert [e.get("listed", False) for e in after["entries"]] == [True, False] and "listed" not in after


async def test_org_list_refusals_over_http_are_the_grpc_ones(face: Face) -> None:
    """No number: 400 naming it; a dialer may not list anyone: 403 MISSING_ROLE; compliance may read."""
    dialer = await face.token_of("dialer", orgs=(ORG,))
    compliance = await face.token_of("compliance")
    async with Http(face.port) as c:
        assert _violations(_status(await c.post(f"{LIST}:add", {}, face.token), 400, 3)) == ["number"]
        assert _reason(_status(await c.post(f"{LIST}:add", {"number": NUMBER}, dialer), 403, 7)) == "MISSING_ROLE"
        assert (await c.post(f"{LIST}:history", {"number": NUMBER}, compliance)).status == 200
        assert _reason(_status(await c.post(f"{LIST}:add", {"number": NUMBER}, compliance), 403, 7)) == "MISSING_ROLE"
        _status(await c.request("GET", f"{LIST}:history", None, face.token), 405, 12)


async def test_a_gateway_process_has_no_org_list_routes(settings: Settings) -> None:
    """Role `gateway` serves no Registry over gRPC, so its face has no org-list route: 404."""
    async with running(replace(settings, role="gateway", http_listen="127.0.0.1:0")) as r:
        await r.wait_current()
        assert r.http_port is not None
        token = admin_token(settings.data_dir)
        async with Http(r.http_port) as c:
            _status(await c.post(f"{LIST}:add", {"number": NUMBER}, token), 404, 5)
            assert (await c.post("/v1/check", _check(), token)).status == 200
