"""keras.io-style scripts run with `import nnctl as keras` print what Keras 3 prints.

Each script in tests/api_scripts/ is written for Keras (`import keras`, `from keras import
layers`); its Keras output is committed in tests/golden/api_scripts/ (tools/golden/
api_scripts.py). Here only the import lines change (`import nnctl as keras`, `from nnctl
import layers`) and the output must be the same: the text exactly, the numbers within float32
rounding (Keras computes in another order).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import GOLDEN, ROOT

SCRIPTS = ROOT / "tests" / "api_scripts"
GOLDENS = GOLDEN / "api_scripts"
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def with_nnctl(source: str) -> str:
    """The script with its Keras imports made nnctl's: the only lines that change."""
    source = re.sub(r"^import keras$", "import nnctl as keras", source, flags=re.M)
    return re.sub(r"^from keras(\.\w+)? import", r"from nnctl\1 import", source, flags=re.M)


def run_with_nnctl(path, cwd) -> subprocess.CompletedProcess:
    script = cwd / path.name
    script.write_text(with_nnctl(path.read_text()))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def same_output(got: str, want: str) -> None:
    """Equal text; numbers with a decimal point equal within rtol 1e-4 (printed rounded to
    4 places, a float32 difference in the last bit of a sum may show)."""
    assert NUMBER.sub("#", got) == NUMBER.sub("#", want)
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(want)):
        assert float(a) == pytest.approx(float(b), rel=1e-4, abs=2e-4), (a, b)


SCRIPT_NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py"))


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_prints_what_keras_prints(name, tmp_path):
    done = run_with_nnctl(SCRIPTS / f"{name}.py", tmp_path)
    assert done.returncode == 0, done.stderr
    same_output(done.stdout, (GOLDENS / f"{name}.txt").read_text())


KERAS_PYTHON = os.environ.get("NNCTL_KERAS_PYTHON")   # e.g. /work/kenv/bin/python


@pytest.mark.skipif(not KERAS_PYTHON, reason="set NNCTL_KERAS_PYTHON to a Python with Keras 3 "
                                             "to check the goldens against Keras itself")
@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_prints_the_golden_under_keras(name):
    """The goldens are what Keras prints today (the tool's own way of running a script)."""
    done = subprocess.run([KERAS_PYTHON, str(ROOT / "tools" / "golden" / "api_scripts.py"),
                           "--print", name], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    same_output(done.stdout, (GOLDENS / f"{name}.txt").read_text())


def test_every_script_has_a_golden_and_there_are_enough():
    assert len(SCRIPT_NAMES) >= 15
    assert sorted(p.stem for p in GOLDENS.glob("*.txt")) == SCRIPT_NAMES


def test_only_the_import_lines_change():
    for path in SCRIPTS.glob("*.py"):
        before, after = path.read_text().splitlines(), with_nnctl(path.read_text()).splitlines()
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert changed and all(a.startswith(("import keras", "from keras")) for a, _ in changed)


def test_the_article_functional_sample_draws_a_picture(tmp_path):
    done = run_with_nnctl(SCRIPTS / "article_functional.py", tmp_path)
    assert done.returncode == 0, done.stderr
    pictures = sorted(p.name for p in tmp_path.glob("model.*"))
    assert pictures in (["model.png"], ["model.svg"])
    if pictures == ["model.svg"]:   # no Graphviz here: nnctl draws an SVG and says so
        assert "wrote model.svg" in done.stderr
        svg = (tmp_path / "model.svg").read_text()
        assert svg.startswith("<svg") or svg.startswith("<?xml")
        assert "layer1" in svg and "(None, 3)" in svg
    else:
        assert (tmp_path / "model.png").read_bytes().startswith(b"\x89PNG")
