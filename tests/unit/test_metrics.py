"""The parts of /metrics without a server: status code names, RPC types, histograms, child ports."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from dncgate import metrics
from dncgate.api.workers import _child_env
from dncgate.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (grpc.StatusCode.OK, "OK"),
        (grpc.StatusCode.CANCELLED, "Canceled"),
        (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "DeadlineExceeded"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "ResourceExhausted"),
        (grpc.StatusCode.UNAVAILABLE, "Unavailable"),
        (grpc.StatusCode.UNAUTHENTICATED, "Unauthenticated"),
    ],
)
def test_status_codes_are_spelled_as_the_grpc_ecosystem_spells_them(status: grpc.StatusCode, name: str) -> None:
    """grpc_code carries go-grpc-prometheus's names (Go's codes.Code.String()), not Python's."""
    assert metrics.code_name(status.name) == name


def test_every_grpc_status_code_has_a_camel_case_name() -> None:
    """No status code falls through to Unknown except UNKNOWN itself, and no two share a name."""
    names = [metrics.code_name(c.name) for c in grpc.StatusCode]
    assert len(set(names)) == len(names) == len(grpc.StatusCode)
    assert all("_" not in n and n[0].isupper() for n in names)
    assert metrics.code_name("NO_SUCH_CODE") == "Unknown"


def test_rpc_types_are_named_as_the_ecosystem_names_them() -> None:
    """grpc_type is unary, client_stream, server_stream or bidi_stream."""
    assert [metrics.rpc_type(a, b) for a, b in ((False, False), (True, False), (False, True), (True, True))] == [
        "unary",
        "client_stream",
        "server_stream",
        "bidi_stream",
    ]


def test_a_plain_histogram_counts_a_value_on_a_bound_in_that_bucket_and_adds_up() -> None:
    """Timings.cumulative is Prometheus's `le` buckets: 1 ms is in le=0.001, 2 s only in +Inf."""
    t = metrics.Timings()
    for seconds in (0.0001, 0.001, 0.003, 2.0):
        t.observe(seconds)
    buckets = dict(t.cumulative())
    assert (buckets["0.00025"], buckets["0.001"], buckets["0.005"], buckets["1.0"], buckets["+Inf"]) == (1, 2, 3, 3, 4)
    assert t.total == pytest.approx(2.0041)
    assert metrics.BUCKETS[0] == 0.00025 and metrics.BUCKETS[-1] == 1.0


@pytest.mark.parametrize(
    ("listen", "k", "child"),
    [("127.0.0.1:9464", 1, "127.0.0.1:9465"), ("[::1]:9000", 3, "[::1]:9003"), (":0", 2, ":0"), ("off", 1, "off")],
)
def test_the_kth_child_of_serve_serves_metrics_on_the_port_plus_k(listen: str, k: int, child: str) -> None:
    """Port + k for a fixed port; port 0 (the kernel's choice) and off are passed on as they are."""
    assert metrics.offset_listen(listen, k) == child


@pytest.mark.parametrize("text", ["9464", "localhost:", "host:http", "host:70000"])
def test_a_metrics_address_that_is_neither_host_port_nor_off_is_a_config_error(text: str) -> None:
    """DNCGATE_METRICS_LISTEN is refused at start-up, naming the variable, unless host:port or off."""
    with pytest.raises(ConfigError, match=r"^DNCGATE_METRICS_LISTEN: "):
        Settings.from_env({"DNCGATE_METRICS_LISTEN": text})


def test_off_is_read_in_any_case() -> None:
    """`OFF` and `off` both turn the endpoint off."""
    assert Settings.from_env({"DNCGATE_METRICS_LISTEN": "OFF"}).metrics_listen == "off"


def test_serve_s_children_are_told_their_own_metrics_port(tmp_path: Path) -> None:
    """Worker k of `serve --workers` reads port + k from its environment; role all's recorder port + 1."""
    parent = Settings(data_dir=tmp_path, pepper=b"\x01" * 16, metrics_listen="0.0.0.0:9464")
    worker = Settings.from_env(_child_env(parent, "redis://r", "postgresql://p", "api", 2))
    recorder = Settings.from_env(_child_env(parent, "redis://r", "postgresql://p", "recorder"))
    assert (worker.metrics_listen, recorder.metrics_listen) == ("0.0.0.0:9466", "0.0.0.0:9465")
    off = Settings(data_dir=tmp_path, pepper=b"\x01" * 16, metrics_listen="off")
    assert Settings.from_env(_child_env(off, "redis://r", "postgresql://p", "api", 3)).metrics_listen == "off"
