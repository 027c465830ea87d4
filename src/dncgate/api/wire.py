"""Where a request that protobuf refused to decode went wrong: the field, read off the wire format.

protobuf says only "Error parsing message"; a caller needs the field (`rows[3].number`). This walks
the bytes with the message's descriptor, on the refusal path only, and names the first string field
that is not UTF-8, or the field the bytes end in the middle of.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

# Deeper than protobuf's own recursion limit (100): a message it refused for nesting is not walked.
_MAX_DEPTH = 100
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class _Truncated(Exception):
    """The message ends inside a field."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Truncated
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def locate(desc: Descriptor, data: bytes, depth: int = 0) -> tuple[str, str] | None:
    """(path, what is wrong) for the first field of `data` that cannot be decoded as `desc`, the path
    "" when no field of `desc` is to blame (a tag cut short, an unknown field); None if nothing is
    found (the bytes decode, or fail in a way this walk does not see)."""
    if depth > _MAX_DEPTH:
        return None
    pos, seen = 0, dict[int, int]()
    while pos < len(data):
        path = ""
        try:
            key, pos = _varint(data, pos)
            field = desc.fields_by_number.get(key >> 3)
            if field is not None:
                path = field.name
                if field.is_repeated:
                    index = seen[field.number] = seen.get(field.number, -1) + 1
                    path = f"{field.name}[{index}]"
            wire = key & 7
            if wire == _VARINT:
                _, pos = _varint(data, pos)
            elif wire in (_I64, _I32):
                pos += 8 if wire == _I64 else 4
                if pos > len(data):
                    raise _Truncated
            elif wire == _LEN:
                size, pos = _varint(data, pos)
                chunk, pos = data[pos : pos + size], pos + size
                if len(chunk) < size:
                    raise _Truncated
                if field is not None and field.type == FieldDescriptor.TYPE_STRING:
                    try:
                        chunk.decode("utf-8")
                    except UnicodeDecodeError:
                        return path, "is not valid UTF-8"
                elif field is not None and field.message_type is not None:
                    inner = locate(field.message_type, chunk, depth + 1)
                    if inner is not None:
                        return (f"{path}.{inner[0]}" if inner[0] else path), inner[1]
            else:  # groups (proto2 only) or no wire type at all
                return path, "cannot be decoded"
        except _Truncated:
            return path, "is truncated"
    return None
