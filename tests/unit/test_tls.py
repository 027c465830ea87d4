"""The TLS settings and the reloader behind certificate rotation, without a server: what is refused at
start-up, and what `Reloader.fetch` hands gRPC (a new configuration, or None to keep the one in force)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dncgate.api.tls import Files, Reloader, server_credentials
from dncgate.api.workers import _child_env
from dncgate.config import ConfigError, Settings
from tests.certs import Authority

HEX_PEPPER = "00112233445566778899aabbccddeeff"


@pytest.fixture
def files(tmp_path: Path) -> Files:
    ca = Authority("unit CA")
    cert, key = ca.server().write(tmp_path, "server")
    return Files(cert, key, ca.write(tmp_path / "ca.crt"))


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == name]


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"DNCGATE_TLS_CERT": "/tls/server.crt"}, ("DNCGATE_TLS_CERT", "DNCGATE_TLS_KEY")),
        ({"DNCGATE_TLS_KEY": "/tls/server.key"}, ("DNCGATE_TLS_CERT", "DNCGATE_TLS_KEY")),
        ({"DNCGATE_TLS_CLIENT_CA": "/tls/ca.crt"}, ("DNCGATE_TLS_CLIENT_CA", "DNCGATE_TLS_CERT")),
    ],
)
def test_an_incomplete_set_of_tls_files_is_a_config_error_naming_them(env: dict[str, str], names: tuple[str]) -> None:
    """A certificate without its key (or the reverse), or a client CA without the server's own: refused."""
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert all(name in str(err.value) for name in names)


def test_the_tls_variables_are_read_as_paths_and_the_health_port_as_an_address() -> None:
    """Certificate, key and client CA as paths; DNCGATE_HEALTH_LISTEN as host:port, default off."""
    env = {
        "DNCGATE_TLS_CERT": "/tls/server.crt",
        "DNCGATE_TLS_KEY": "/tls/server.key",
        "DNCGATE_TLS_CLIENT_CA": "/tls/ca.crt",
        "DNCGATE_HEALTH_LISTEN": "0.0.0.0:50052",
    }
    s = Settings.from_env(env)
    assert (s.tls_cert, s.tls_key, s.tls_client_ca) == (
        Path("/tls/server.crt"),
        Path("/tls/server.key"),
        Path("/tls/ca.crt"),
    )
    assert s.health_listen == "0.0.0.0:50052" and Settings.from_env({}).health_listen == "off"
    with pytest.raises(ConfigError, match="DNCGATE_HEALTH_LISTEN"):
        Settings.from_env({"DNCGATE_HEALTH_LISTEN": "50052"})


def test_plaintext_needs_no_credentials_and_a_bad_file_at_start_up_is_a_config_error(
    files: Files, tmp_path: Path
) -> None:
    """No TLS settings: None. A missing file, or a key of another certificate, names its variable."""
    assert server_credentials(Settings()) is None
    missing = Settings(tls_cert=tmp_path / "absent.crt", tls_key=files.key)
    with pytest.raises(ConfigError, match=r"^DNCGATE_TLS_CERT: cannot read .*absent\.crt"):
        server_credentials(missing)
    other_key = Authority("other").server().write(tmp_path / "other", "server")[1]
    with pytest.raises(ConfigError, match=r"^DNCGATE_TLS_KEY: .* is not the key of the certificate"):
        server_credentials(Settings(tls_cert=files.cert, tls_key=other_key))
    not_a_ca = tmp_path / "ca.txt"
    not_a_ca.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"^DNCGATE_TLS_CLIENT_CA: .* is not a PEM certificate"):
        server_credentials(Settings(tls_cert=files.cert, tls_key=files.key, tls_client_ca=not_a_ca))
    assert server_credentials(Settings(tls_cert=files.cert, tls_key=files.key, tls_client_ca=files.client_ca))


def test_unchanged_or_rewritten_with_the_same_bytes_the_files_give_no_new_configuration(files: Files) -> None:
    """fetch: None while nothing changed, and None (nothing logged) for a file rewritten with its own content."""
    reloader = Reloader(files)
    with capture_logs() as logs:
        assert reloader.fetch() is None
        files.cert.write_bytes(files.cert.read_bytes())
        os.utime(files.cert, ns=(1, 1))  # a new mtime whatever the clock's resolution
        assert reloader.fetch() is None
    assert logs == []


def test_a_renewed_certificate_and_key_give_a_new_configuration_once(files: Files) -> None:
    """New files: a configuration, logged as tls_reloaded with the new subject; asked again, None."""
    reloader = Reloader(files)
    before = reloader.material
    Authority("renewed").server().write(files.cert.parent, "server")
    with capture_logs() as logs:
        assert reloader.fetch() is not None
        assert reloader.fetch() is None
    assert reloader.material.cert != before.cert
    (reloaded,) = _events(logs, "tls_reloaded")
    assert reloaded["changed"] == ["DNCGATE_TLS_CERT", "DNCGATE_TLS_KEY"] and reloaded["subject"] == "CN=dncgate"


@pytest.mark.parametrize("damage", ["half-written", "key-of-another", "removed"])
def test_a_bad_new_file_keeps_the_configuration_in_force_with_one_warning(files: Files, damage: str) -> None:
    """A certificate cut short, a key that does not match, a file gone mid-swap: None, one warning for as
    long as the files stay so; once the set is whole again it is taken up."""
    reloader = Reloader(files)
    kept = reloader.material
    renewed = Authority("renewed").server()
    if damage == "half-written":
        files.key.write_bytes(renewed.key)
        files.cert.write_bytes(renewed.cert[: len(renewed.cert) // 2])
    elif damage == "key-of-another":
        files.cert.write_bytes(renewed.cert)
    else:
        files.cert.unlink()
    with capture_logs() as logs:
        assert reloader.fetch() is None
        assert reloader.fetch() is None
        assert reloader.material == kept
        renewed.write(files.cert.parent, "server")
        assert reloader.fetch() is not None
    (failed,) = _events(logs, "tls_reload_failed")
    assert failed["log_level"] == "warning" and str(failed["error"]).startswith(("DNCGATE_TLS_CERT", "DNCGATE_TLS_KEY"))
    assert reloader.material.cert == renewed.cert and _events(logs, "tls_reloaded")


def test_a_renewed_client_ca_alone_is_a_new_configuration(files: Files) -> None:
    """mTLS: the client CA file is watched too."""
    assert files.client_ca is not None
    reloader = Reloader(files)
    Authority("next client CA").write(files.client_ca)
    with capture_logs() as logs:
        assert reloader.fetch() is not None
    assert _events(logs, "tls_reloaded")[0]["changed"] == ["DNCGATE_TLS_CLIENT_CA"]


def test_workers_get_the_tls_files_and_the_health_port_and_the_recorder_no_health_port(tmp_path: Path) -> None:
    """`serve --workers`: each worker reads the parent's TLS files and shares its health port; a recorder
    child (of the workers or of role `all`) serves no health port of its own."""
    parent = replace(
        Settings(data_dir=tmp_path, pepper=bytes.fromhex(HEX_PEPPER), listen="0.0.0.0:7000"),
        tls_cert=tmp_path / "s.crt",
        tls_key=tmp_path / "s.key",
        tls_client_ca=tmp_path / "ca.crt",
        health_listen="0.0.0.0:7001",
    )
    worker = Settings.from_env(_child_env(parent, "redis://cache:6379/0", "postgresql://db/dncgate", "api"))
    assert (worker.tls_cert, worker.tls_key, worker.tls_client_ca) == (
        parent.tls_cert,
        parent.tls_key,
        parent.tls_client_ca,
    )
    assert (worker.health_listen, worker.reuse_port) == ("0.0.0.0:7001", True)
    recorder = Settings.from_env(_child_env(parent, "redis://cache:6379/0", "postgresql://db/dncgate", "recorder"))
    assert recorder.health_listen == "off"
