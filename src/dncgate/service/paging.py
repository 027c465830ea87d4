"""Opaque page tokens and page sizes shared by the list RPCs (AIP-158 style)."""

from __future__ import annotations

import base64
import binascii

from dncgate.domain.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    """0 means the default; more than the maximum is quietly capped; negative is an error."""
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(kind: str, position: int | None) -> str:
    """A token to continue from `position`; "" when there is nothing more."""
    if position is None:
        return ""
    return base64.urlsafe_b64encode(f"{kind}1:{position}".encode()).decode().rstrip("=")


def decode_token(token: str, kind: str) -> int | None:
    """The position a token continues from; None for the first page."""
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, position = text.partition(":")
        if prefix != f"{kind}1":
            raise ValueError(prefix)
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("page_token", "is not a token this list returned") from None
