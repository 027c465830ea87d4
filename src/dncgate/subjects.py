"""Client-certificate subjects in one spelling (RFC 4514), so a stored subject matches the presented one."""

from __future__ import annotations

from cryptography import x509


class SubjectError(ValueError):
    """A text that is no distinguished name."""


def normalize(subject: str) -> str:
    """`subject` ("CN=dialer-7,O=Example") in cryptography's RFC 4514 spelling; SubjectError if it is none."""
    try:
        name = x509.Name.from_rfc4514_string(subject.strip())
    except ValueError as exc:
        raise SubjectError(f"{subject!r} is not an RFC 4514 distinguished name ({exc})") from None
    if not len(name):
        raise SubjectError("the subject is empty")
    return name.rfc4514_string()


def of_certificate(pem: bytes) -> str:
    """The subject of a PEM certificate, as `normalize` spells it."""
    return x509.load_pem_x509_certificate(pem).subject.rfc4514_string()
