"""`--output json|csv`: any response message as a record for scripts, one rule for every command.

A record's fields are the proto field names (snake_case), in the message's field order. Values:
times are ISO 8601 with the offset of the display zone (DNCGATE_DISPLAY_TZ, as the tables show them);
enum values are spelled as the flags take them (`real-estate`, `verified`, `manual-review`); money is
its amount and currency (`100.00 CNY`); bytes are base64; an unset time or message is null. JSON is one
object per line (JSONL); CSV has a header row, nested fields named `outer.inner`, lists joined with `;`
(a list of messages: its JSON).
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from dncgate.cli.output import local_time, money

FORMATS = ("table", "json", "csv")
_LEAVES = {"google.protobuf.Timestamp", "google.type.Money"}


def add_flag(p: argparse.ArgumentParser, what: str = "each item") -> None:
    """The --output flag of a command that prints messages."""
    p.add_argument(
        "--output",
        "-o",
        choices=FORMATS,
        default="table",
        help=f"table (default, for people), json ({what} as one JSON object per line) or csv (a header row, "
        f"then {what} per row)",
    )


def _prefix(enum: EnumDescriptor) -> str:
    """COMPLAINT_STATUS_ for ComplaintStatus: the prefix every value name of the enum carries."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def _enum(enum: EnumDescriptor, number: int) -> str:
    value = enum.values_by_number.get(number)
    if value is None:
        return str(number)
    return value.name.removeprefix(_prefix(enum)).lower().replace("_", "-")


def _leaf(msg: Any) -> str:
    if msg.DESCRIPTOR.full_name == "google.protobuf.Timestamp":
        return local_time(msg).isoformat()
    return money(msg)


def _value(f: Any, v: Any) -> Any:
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        return _leaf(v) if f.message_type.full_name in _LEAVES else record(v)
    if f.type == FieldDescriptor.TYPE_ENUM:
        return _enum(f.enum_type, v)
    if f.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(v).decode()
    return v


def record(msg: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict (see the module's docstring)."""
    out: dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        v = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            out[f.name] = {k: _value(value_field, x) for k, x in v.items()}
        elif f.is_repeated:
            out[f.name] = [_value(f, x) for x in v]
        elif f.has_presence and not msg.HasField(f.name):
            out[f.name] = None
        else:
            out[f.name] = _value(f, v)
    return out


def header(d: Descriptor, prefix: str = "") -> list[str]:
    """The CSV columns of a message type: its fields, a nested message's own fields as `outer.inner`."""
    names: list[str] = []
    for f in d.fields:
        nested = f.message_type
        if nested is not None and not f.is_repeated and nested.full_name not in _LEAVES and nested is not d:
            names.extend(header(nested, f"{prefix}{f.name}."))
        else:
            names.append(prefix + f.name)
    return names


def _flat(rec: dict[str, Any], columns: frozenset[str], prefix: str = "") -> dict[str, str]:
    """A record as CSV cells: a nested message without a column of its own spreads into its fields'."""
    out: dict[str, str] = {}
    for k, v in rec.items():
        name = prefix + k
        if name in columns:
            out[name] = _cell(v)
        elif isinstance(v, dict):
            out.update(_flat(v, columns, f"{name}."))
    return out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        scalar = all(not isinstance(x, dict | list) for x in v)
        return ";".join(map(_cell, v)) if scalar else json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def write(fmt: str, descriptor: Any, items: Iterable[Message]) -> None:
    """Write `items` (messages of one type) to stdout as JSON lines or CSV rows (a header even for none)."""
    if fmt == "json":
        for m in items:
            sys.stdout.write(json.dumps(record(m), ensure_ascii=False) + "\n")
        return
    columns = header(descriptor)
    known = frozenset(columns)
    w = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for m in items:
        w.writerow(_flat(record(m), known))


def emit(ns: argparse.Namespace, descriptor: Any, items: Iterable[Message], human: Callable[[], None]) -> None:
    """What every command that prints messages does: the table for people, else the records."""
    if getattr(ns, "output", "table") == "table":
        human()
    else:
        write(ns.output, descriptor, items)
