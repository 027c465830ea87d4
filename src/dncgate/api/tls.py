"""TLS on the gRPC port: the server's certificate and key (and, for mTLS, the client CA) from files, read
again when they change, so a renewed certificate is served without a restart.

gRPC's dynamic server credentials ask `Reloader.fetch` for a new configuration before each new TLS
handshake (from a thread of the gRPC core, not the event loop). `fetch` looks at the files' inode, mtime
and size, which costs three `stat` calls; only when one of them changed does it read the files, and
it hands gRPC a new configuration only if their content changed and makes a whole, consistent set:
every certificate parses, the key is an unencrypted PEM key and matches the first certificate. A set
that doesn't (a half-written file, a key swapped before its certificate, a file gone mid-rename) keeps
the configuration in force and is logged once as the warning `tls_reload_failed`; the files are looked
at again on the next handshake after they change again. Connections already open keep the
certificate they were made with.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dncgate.config import ConfigError, Settings

log = structlog.get_logger("dncgate.tls")

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class TlsError(ValueError):
    """A TLS file that cannot be used; the message names its variable and path."""


@dataclass(frozen=True, slots=True)
class Files:
    """The paths of the server's TLS material, each with the variable that named it."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def named(self) -> list[tuple[str, Path]]:
        pairs = [("DNCGATE_TLS_CERT", self.cert), ("DNCGATE_TLS_KEY", self.key)]
        return [*pairs, ("DNCGATE_TLS_CLIENT_CA", self.client_ca)] if self.client_ca is not None else pairs


@dataclass(frozen=True, slots=True)
class Material:
    """The bytes of one consistent set of files, and what the log says of its certificate."""

    cert: bytes
    key: bytes
    client_ca: bytes | None
    subject: str
    expires: str

    def configuration(self) -> Any:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], root_certificates=self.client_ca)


def _why(exc: Exception) -> str:
    """cryptography's message without its FAQ link: its first sentence."""
    return str(exc).split(". ", 1)[0]


def _read(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None


def _certificates(variable: str, path: Path, data: bytes) -> list[x509.Certificate]:
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsError(f"{variable}: {path} is not a PEM certificate file ({_why(exc)})") from None
    return found


def load(files: Files) -> Material:
    """The files' content, checked as a whole; TlsError naming the first file that is not usable."""
    cert, key = _read("DNCGATE_TLS_CERT", files.cert), _read("DNCGATE_TLS_KEY", files.key)
    client_ca = _read("DNCGATE_TLS_CLIENT_CA", files.client_ca) if files.client_ca is not None else None
    leaf = _certificates("DNCGATE_TLS_CERT", files.cert, cert)[0]
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:  # TypeError: encrypted, which gRPC cannot use
        raise TlsError(f"DNCGATE_TLS_KEY: {files.key} is not an unencrypted PEM private key ({_why(exc)})") from None
    if private.public_key().public_bytes(*_SPKI) != leaf.public_key().public_bytes(*_SPKI):
        raise TlsError(f"DNCGATE_TLS_KEY: {files.key} is not the key of the certificate in {files.cert}")
    if client_ca is not None and files.client_ca is not None:
        _certificates("DNCGATE_TLS_CLIENT_CA", files.client_ca, client_ca)
    return Material(cert, key, client_ca, leaf.subject.rfc4514_string(), leaf.not_valid_after_utc.isoformat())


class Reloader:
    """The configuration in force, and `fetch`, which gRPC calls before each new handshake."""

    def __init__(self, files: Files) -> None:
        self.files = files
        self._lock = threading.Lock()  # gRPC may call `fetch` from several threads at once
        self._seen: object = self._stamps()  # before reading: a write after this is seen next time
        self.material = load(files)

    def _stamps(self) -> object:
        """What changes when a file does: inode, mtime, size of each (a rename onto it, as a Kubernetes
        Secret volume does, is a new inode); or the error, for a file that is not there."""
        try:
            return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in (p.stat() for _, p in self.files.named()))
        except OSError as exc:
            return f"{exc.filename}: {exc.strerror}"

    def fetch(self) -> Any:
        """A new `grpc.ssl_server_certificate_configuration` if the files changed into a usable set, else
        None (gRPC keeps the one in force). Never raises: a TLS handshake must not fail for a reload."""
        try:
            with self._lock:
                stamps = self._stamps()
                if stamps == self._seen:
                    return None
                self._seen = stamps
                return self._reload()
        except Exception:  # a bug here must not take the port down: the old configuration stays
            log.exception("tls_reload_failed")
            return None

    def _reload(self) -> Any:
        try:
            new = load(self.files)
        except TlsError as exc:
            kept = self.material
            log.warning("tls_reload_failed", error=str(exc), kept_subject=kept.subject, kept_expires=kept.expires)
            return None
        old = self.material
        changed = [
            variable
            for variable, before, after in (
                ("DNCGATE_TLS_CERT", old.cert, new.cert),
                ("DNCGATE_TLS_KEY", old.key, new.key),
                ("DNCGATE_TLS_CLIENT_CA", old.client_ca, new.client_ca),
            )
            if before != after
        ]
        if not changed:  # touched, or rewritten with the same bytes
            return None
        self.material = new
        log.info("tls_reloaded", changed=changed, subject=new.subject, expires=new.expires)
        return new.configuration()


def files_of(settings: Settings) -> Files | None:
    """The TLS files `settings` name; None for a plaintext port. ConfigError for an incomplete set."""
    if problem := settings.tls_problem():
        raise ConfigError(problem)
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return Files(settings.tls_cert, settings.tls_key, settings.tls_client_ca)


def server_credentials(settings: Settings) -> tuple[grpc.ServerCredentials, Reloader] | None:
    """The gRPC port's credentials (TLS, or mTLS with a client CA) and their reloader; None: plaintext.

    ConfigError, naming the variable, if a file cannot be used at start-up.
    """
    files = files_of(settings)
    if files is None:
        return None
    try:
        reloader = Reloader(files)
    except TlsError as exc:
        raise ConfigError(str(exc)) from None
    credentials = grpc.dynamic_ssl_server_credentials(
        reloader.material.configuration(),
        reloader.fetch,
        require_client_authentication=files.client_ca is not None,
    )
    return credentials, reloader


def http_context(settings: Settings) -> ssl.SSLContext | None:
    """The HTTP/JSON face's TLS: the gRPC port's certificate and key (and client CA: a client certificate
    is then required and names the caller when no bearer token is sent); None: plaintext.

    Read once at start-up: unlike the gRPC port, a renewed certificate is served from the next restart.
    ConfigError, naming the variable, if a file cannot be used.
    """
    files = files_of(settings)
    if files is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"DNCGATE_TLS_CERT/DNCGATE_TLS_KEY ({files.cert}, {files.key}): {exc}") from None
    if files.client_ca is not None:
        try:
            context.load_verify_locations(files.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"DNCGATE_TLS_CLIENT_CA ({files.client_ca}): {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context
