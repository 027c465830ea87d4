"""The list of fast copies (`dncgate.fastpaths`) stays true: every copy, reference and test it names exists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from dncgate import fastpaths

TESTS = Path(__file__).resolve().parents[1]


def _resolve(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(f"dncgate.{module}"), name)
    except ModuleNotFoundError:  # a name directly under a package module, e.g. phone.try_parse
        raise AssertionError(f"dncgate.{dotted} does not exist") from None


@pytest.mark.parametrize(("copy", "reference", "test"), fastpaths.TWINS, ids=[t[0] for t in fastpaths.TWINS])
def test_every_listed_copy_reference_and_test_exists(copy: str, reference: str, test: str) -> None:
    """A renamed or deleted copy, reference or test makes the list fail here instead of lying."""
    assert _resolve(copy) is not None and _resolve(reference) is not None
    path, _, name = test.partition("::")
    tree = ast.parse((TESTS / path).read_text())
    names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert name in names, f"{test} is gone"
    assert copy.rsplit(".", 1)[-1] in (fastpaths.__doc__ or ""), f"{copy} is not described in the docstring"
