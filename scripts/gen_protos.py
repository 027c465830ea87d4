"""Regenerate src/dncgate/v1 from protos/ (run by `make protos`; `--check` fails on a stale tree)."""

from __future__ import annotations

import argparse
import filecmp
import pathlib
import shutil
import sys
import tempfile

from google.type import money_pb2
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "src"
PACKAGE = OUT / "dncgate" / "v1"


def generate(out: pathlib.Path) -> None:
    googleapis = pathlib.Path(money_pb2.__file__).resolve().parent.parent.parent
    wkt = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    files = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "dncgate" / "v1").glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{googleapis}",
        f"-I{wkt}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--pyi_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    (out / "dncgate" / "v1" / "__init__.py").write_text('"""Generated gRPC code for dncgate.v1 (see protos/)."""\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp)
        (out / "dncgate" / "v1").mkdir(parents=True)
        generate(out)
        fresh = out / "dncgate" / "v1"
        if ns.check:
            cmp = filecmp.dircmp(fresh, PACKAGE, ignore=["__pycache__"])
            stale = cmp.left_only + cmp.right_only + cmp.diff_files
            if stale:
                sys.exit(f"generated code in {PACKAGE} is stale ({', '.join(sorted(stale))}): run `make protos`")
            print("generated code is up to date")
            return
        if PACKAGE.exists():
            shutil.rmtree(PACKAGE)
        shutil.copytree(fresh, PACKAGE)
        print(f"generated {PACKAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
