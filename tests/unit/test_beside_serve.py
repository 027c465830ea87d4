"""Local commands beside a running `serve`: its endpoints file names its stores, cluster and pepper's origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from dncgate.bootstrap import beside_running_serve, endpoints_file, record_endpoints
from dncgate.config import ConfigError, Settings

CLUSTER = "redis://127.0.0.1:7000,127.0.0.1:7001"
DB = "postgresql://postgres:@/dncgate?host=/tmp/x"
PEPPER = bytes.fromhex("ab" * 32)


def test_a_command_takes_the_serve_s_stores_and_that_redis_is_a_cluster(tmp_path: Path) -> None:
    record_endpoints(Settings(data_dir=tmp_path, redis_url=CLUSTER, redis_cluster=True, pepper=PEPPER), CLUSTER, DB)
    local = beside_running_serve(Settings(data_dir=tmp_path, pepper=PEPPER))
    assert (local.redis_url, local.database_url, local.redis_cluster) == (CLUSTER, DB, True)


def test_without_the_pepper_the_serve_was_given_a_command_is_refused_naming_it(tmp_path: Path) -> None:
    record_endpoints(Settings(data_dir=tmp_path, pepper=PEPPER), "unix:///tmp/r.sock", DB)
    with pytest.raises(ConfigError, match="DNCGATE_PEPPER must be set"):
        beside_running_serve(Settings(data_dir=tmp_path))
    assert not (tmp_path / "pepper").exists()  # no pepper of its own made on the way


def test_a_serve_on_the_data_dir_s_pepper_needs_none_and_set_urls_win(tmp_path: Path) -> None:
    record_endpoints(Settings(data_dir=tmp_path), "unix:///tmp/r.sock", DB)
    assert beside_running_serve(Settings(data_dir=tmp_path)).redis_url == "unix:///tmp/r.sock"
    given = Settings(data_dir=tmp_path, redis_url="redis://h:1", database_url="postgresql://h/d")
    assert beside_running_serve(given) is given
    endpoints_file(tmp_path).unlink()
    alone = Settings(data_dir=tmp_path)
    assert beside_running_serve(alone) is alone
