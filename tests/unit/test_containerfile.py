"""The Containerfile, read as its instructions (no container runtime here to build it)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, the stages in order), with continuation lines joined and comments dropped."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif not stages:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def containerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Containerfile").read_text())


def test_the_image_is_built_in_stages_and_the_final_one_has_no_compilers() -> None:
    """A builder stage compiles and installs; the final stage installs no compiler and copies the venv."""
    _, stages = containerfile()
    assert len(stages) >= 2
    builder, final = stages[0], stages[-1]
    assert builder.name and any(COMPILERS.search(run) for run in builder.of("RUN"))
    assert not any(COMPILERS.search(run) for run in final.of("RUN"))
    assert any(copy.startswith(f"--from={builder.name} ") for copy in final.of("COPY"))
    assert "slim" in final.base


def test_the_final_stage_runs_as_a_numeric_non_root_user_matching_the_manifests() -> None:
    """The last USER is a numeric non-zero uid (runAsNonRoot can check it), the manifests' runAsUser."""
    _, stages = containerfile()
    users = stages[-1].of("USER")
    assert users
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    gateway = next(yaml.safe_load_all((ROOT / "k8s" / "base" / "gateway.yaml").read_text()))
    assert gateway["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_the_entrypoint_is_dncgate_so_every_role_is_the_same_image() -> None:
    """ENTRYPOINT is exec-form ["dncgate"], the console script pyproject declares; CMD defaults to serve."""
    _, stages = containerfile()
    final = stages[-1]
    assert json.loads(final.of("ENTRYPOINT")[-1]) == ["dncgate"]
    assert json.loads(final.of("CMD")[-1]) == ["serve"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "dncgate" in scripts


def test_every_path_copied_from_the_build_context_exists_in_the_repository() -> None:
    """Each COPY source that is not from another stage is a file or folder of the repository."""
    _, stages = containerfile()
    sources = []
    for stage in stages:
        for copy in stage.of("COPY"):
            parts = copy.split()
            if any(p.startswith("--from=") for p in parts):
                continue
            sources += [p for p in parts[:-1] if not p.startswith("--")]
    assert "pyproject.toml" in sources and "src" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
    assert "README.md" in sources  # pyproject's `readme`: the wheel can't be built without it


def test_the_python_of_the_image_is_the_one_pyproject_targets() -> None:
    """The base images' Python is requires-python's minimum and mypy's python_version (3.11)."""
    args, stages = containerfile()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    version = args["PYTHON_VERSION"]
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert all(stage.base.startswith("python:${PYTHON_VERSION}-") for stage in stages)
