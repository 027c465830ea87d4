"""A second, plaintext port serving only `grpc.health.v1` (DNCGATE_HEALTH_LISTEN): the kubelet's gRPC
probes speak no TLS, and the gRPC port is TLS only once DNCGATE_TLS_CERT is set.

It serves the main port's own HealthServicer, so both ports give the same statuses, drain included.
Nothing else is there: no service of ours, no reflection, so it gives nothing away without TLS.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from dncgate.settings_table import parse_listen


def open_health_port(
    listen: str, servicer: health.HealthServicer, reuse_port: bool = False
) -> tuple[grpc.aio.Server, int] | None:
    """A server (not started) for `servicer` on `listen`, and its port; None for `off`. OSError if the
    port can't be bound. `reuse_port`: shared with the other workers of `serve --workers`, like the gRPC port.
    """
    if parse_listen(listen) is None:
        return None
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if reuse_port else 0)])
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen} (DNCGATE_HEALTH_LISTEN)")
    return server, port
