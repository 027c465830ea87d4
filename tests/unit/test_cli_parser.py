"""The CLI's parser as a user reads it: every flag explained, enum flags that list what they take."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from dncgate.cli.args import TargetError, target
from dncgate.cli.main import build_parser
from dncgate.v1 import common_pb2


def _commands(parser: argparse.ArgumentParser, path: str = "dncgate") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def test_every_option_and_argument_of_every_command_has_help_text() -> None:
    """`--help` explains each flag and positional argument of each command, none left bare."""
    bare = [
        f"{path}: {'/'.join(action.option_strings) or action.dest}"
        for path, parser in _commands(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not (action.help and action.help.strip())
    ]
    assert bare == []


def test_every_command_has_a_one_line_help_in_its_parent_listing() -> None:
    """`dncgate --help` and each group's listing say what each command is for."""
    missing = [
        f"{path} {choice.dest}"
        for path, parser in _commands(build_parser())
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not choice.help
    ]
    assert missing == []


def _help(*command: str) -> str:
    parser = build_parser()
    for path, p in _commands(parser):
        if path == " ".join(("dncgate", *command)):
            return p.format_help()
    raise AssertionError(command)


def test_source_flags_list_all_five_sources() -> None:
    """`registry set --source` and `registry import --source` name every source the enum has."""
    sources = [n.removeprefix("SOURCE_").lower().replace("_", "-") for n in common_pb2.Source.keys()[1:]]
    assert len(sources) == 5
    for command in (("registry", "set"), ("registry", "import")):
        text = " ".join(_help(*command).split())
        assert all(s in text for s in sources), (command, text)


def test_decision_accepts_and_lists_only_what_a_review_can_decide(capsys: pytest.CaptureFixture[str]) -> None:
    """`complaint review --decision` takes verified or rejected; anything else is refused naming just those."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["complaint", "review", "DNC-1", "--decision", "closed", "--note", "x"])
    err = capsys.readouterr().err
    assert "expected one of verified, rejected" in err and "manual-review" not in err


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("10.0.0.5", "10.0.0.5:50051"),
        ("gate.example:6000", "gate.example:6000"),
        ("[::1]", "[::1]:50051"),
        ("[::1]:7000", "[::1]:7000"),
        ("dns:///gate.example:50051", "dns:///gate.example:50051"),
    ],
)
def test_a_target_without_a_port_gets_dncgates(given: str, expected: str) -> None:
    """A bare host is dncgate's port on it, not gRPC's default 443."""
    assert target(argparse.Namespace(target=given)) == expected


@pytest.mark.parametrize("given", ["gate.example:", ":50051", "gate.example:http"])
def test_a_target_with_an_empty_host_or_port_is_refused_by_name(given: str) -> None:
    """`gate.example:` is said to lack a port, before any connection is tried."""
    with pytest.raises(TargetError, match="expected HOST:PORT"):
        target(argparse.Namespace(target=given))
