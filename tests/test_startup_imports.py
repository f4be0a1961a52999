"""Start-up: each command imports what it uses and nothing else, read from sys.modules as the
process ends.

No clock is read here: what a command costs at start-up is the modules it imports (NumPy,
polars, rich, PyYAML and the model engine are tens of milliseconds each), so the test names
them. benchmarks/run.py measures the time itself (`nnctl act relu 1` against
`python -c "import numpy"`). `python -X importtime` would miss modules loaded through
importlib (nnctl's lazy attributes, `from nnctl import activations`): the process's
sys.modules has them all.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIGS, ROOT
from fuzzing import checkout_env
from nnctl.cli.commands import COMMANDS

SPEC = str(CONFIGS / "article_sequential.yaml")

# Heavy or optional libraries and the big parts of nnctl, by what needs them.
THIRD_PARTY = ("polars", "pyarrow", "rich", "yaml", "plotext", "h5py", "onnx", "onnxruntime",
               "threadpoolctl", "scipy", "pydantic", "dask", "distributed", "fsspec")
ENGINE = ("nnctl.model", "nnctl.tabular", "nnctl.forward", "nnctl.onnx.export")
NOT_FOR_MODELS = ("polars", "pyarrow", "plotext", "h5py", "onnx", "onnxruntime",
                  "threadpoolctl", "scipy", "pydantic", "nnctl.tabular", "nnctl.forward")

# A few milliseconds each that a forward pass with stored weights does not need: hashlib and
# numpy.random (which imports secrets) draw weights; os.urandom names the atomic writer's
# temporary file. (tempfile, which spools stdin's Parquet or an .npy for stdout, is imported
# only there too, but a site-packages .pth may import it into every process.)
NOT_FOR_A_FORWARD = ("hashlib", "secrets", "numpy.random")

# (command line, modules it must import, modules it must not import); {data} is a directory
# holding in.npy, in.csv and in.parquet (3 columns, as the spec's input)
CASES = {
    "--help": (["--help"], (), ("numpy",) + THIRD_PARTY + ENGINE),
    "--version": (["--version"], (), ("numpy",) + THIRD_PARTY + ENGINE),
    "act": (["act", "relu", "1"], ("numpy", "nnctl.activations"),
            THIRD_PARTY + ENGINE + ("nnctl.special",)),  # exact GELU's module
    "list": (["list", "activations"], (), THIRD_PARTY + ENGINE),
    "init": (["init", "he_normal", "--shape", "3,2"], ("numpy",), THIRD_PARTY + ENGINE),
    "summary": (["summary", SPEC], ("yaml", "rich"), NOT_FOR_MODELS + ("nnctl.onnx.export",)),
    "validate": (["validate", SPEC], ("yaml",), NOT_FOR_MODELS + ("rich",)),
    "lint": (["lint", SPEC], ("yaml",), NOT_FOR_MODELS),
    "plot": (["plot", SPEC], ("yaml",), NOT_FOR_MODELS),
    "build": (["build", SPEC, "--seed", "0", "-o", "{data}/model.npz"], ("yaml",),
              NOT_FOR_MODELS + ("rich",)),
    "inspect": (["inspect", SPEC], ("yaml",), NOT_FOR_MODELS),
    # a small input never starts ONNX Runtime (--engine auto), .npy needs no polars
    "forward npy": (["forward", SPEC, "{data}/in.npy", "-o", "{data}/out.npy"],
                    ("nnctl.tabular",),
                    ("polars", "pyarrow", "rich", "plotext", "h5py", "onnx", "onnxruntime",
                     "scipy", "pydantic")),
    "forward csv": (["forward", SPEC, "{data}/in.csv"], ("polars",),
                    ("pyarrow", "rich", "plotext", "h5py", "onnx", "onnxruntime", "scipy",
                     "pydantic")),
    # a built model's weights are read, not drawn
    "forward built": (["forward", "{data}/built.npz", "{data}/in.npy", "-o", "{data}/out.npy"],
                      ("nnctl.tabular",),
                      ("polars", "rich", "onnxruntime") + NOT_FOR_A_FORWARD),
    # polars reads and writes Parquet itself
    "forward parquet": (["forward", SPEC, "{data}/in.parquet", "-o", "{data}/out.parquet"],
                        ("polars",),
                        ("pyarrow", "rich", "plotext", "h5py", "onnx", "onnxruntime", "scipy",
                         "pydantic")),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from nnctl.tabular import open_writer

    directory = tmp_path_factory.mktemp("startup")
    rows = np.arange(6, dtype=np.float32).reshape(2, 3)
    for fmt in ("npy", "csv", "parquet"):
        with open_writer(str(directory / f"in.{fmt}"), columns=["a", "b", "c"]) as out:
            out.write(rows)
    subprocess.run([sys.executable, "-m", "nnctl", "build", SPEC, "--seed", "0", "-o",
                    str(directory / "built.npz")], check=True, cwd=ROOT, env=checkout_env(),
                   stdin=subprocess.DEVNULL, timeout=120)
    return directory


# `python -m nnctl ARGS` that writes sys.modules to stderr as it ends (nnctl ends its process
# with os._exit, past any atexit hook)
MODULES_AT_EXIT = """\
import os, runpy, sys
def report(code, exit=os._exit):
    sys.stderr.write("\\nimported: " + " ".join(sorted(sys.modules)) + "\\n")
    sys.stderr.flush()
    exit(code)
os._exit = report
sys.argv[0] = "nnctl"
runpy.run_module("nnctl", run_name="__main__", alter_sys=True)
"""


def imported_modules(args: list[str]) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", MODULES_AT_EXIT, *args],
                          capture_output=True, text=True, cwd=ROOT, env=checkout_env(),
                          stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, marker, names = proc.stderr.rpartition("\nimported: ")
    assert marker, proc.stderr[-2000:]
    return set(names.split())


def loaded(module: str, imported: set[str]) -> bool:
    return any(m == module or m.startswith(module + ".") for m in imported)


@pytest.mark.parametrize("case", list(CASES))
def test_a_command_imports_what_it_uses_and_nothing_more(case, data):
    args, needed, unwanted = CASES[case]
    imported = imported_modules([a.format(data=data) for a in args])
    # the harness sees real imports: a command that computes imports NumPy
    assert all(loaded(m, imported) for m in needed), (case, needed)
    assert [m for m in unwanted if loaded(m, imported)] == [], case
    # a command imports its own module, not the other commands' (nnctl.cli.commands)
    if args[0] in COMMANDS:
        others = {target.split(":")[0] for name, target in COMMANDS.items() if name != args[0]}
        assert sorted(others & imported) == [], case

