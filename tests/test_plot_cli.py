"""`nnctl plot` as a user runs it: formats from options and file names, pipes, files written
atomically, and one clear line for every mistake."""
from __future__ import annotations

import os
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import CONFIGS, run_nnctl

RESIDUAL = CONFIGS / "residual_mlp.yaml"


def test_piped_default_is_the_text_drawing():
    result = run_nnctl("plot", RESIDUAL)
    assert result.code == 0 and result.err == ""
    assert "stem (Dense)" in result.out and "▼" in result.out
    assert max(len(line) for line in result.out.splitlines()) <= 80
    assert "\x1b[" not in result.out


@pytest.mark.parametrize("fmt,start", [("dot", "digraph "), ("mermaid", "flowchart TB"),
                                        ("svg", "<svg "), ("text", " ")])
def test_format_to_stdout(fmt, start):
    result = run_nnctl("plot", RESIDUAL, "--format", fmt)
    assert result.code == 0, result.err
    assert result.out.startswith(start)


@pytest.mark.parametrize("name,check", [
    ("net.svg", lambda b: ET.fromstring(b).tag.endswith("svg")),
    ("net.dot", lambda b: b.startswith(b"digraph ")),
    ("net.gv", lambda b: b.startswith(b"digraph ")),
    ("net.mmd", lambda b: b.startswith(b"flowchart ")),
    ("net.txt", lambda b: "block1_add (Add)".encode() in b),
])
def test_format_from_the_file_name(tmp_path, name, check):
    target = tmp_path / name
    result = run_nnctl("plot", RESIDUAL, "-o", target)
    assert result.code == 0 and result.out == "" and result.err == ""
    assert check(target.read_bytes())
    assert os.listdir(tmp_path) == [name]               # no temporary file left behind


def test_format_option_wins_over_the_extension(tmp_path):
    target = tmp_path / "net.txt"
    assert run_nnctl("plot", RESIDUAL, "-f", "svg", "-o", target).code == 0
    assert target.read_text().startswith("<svg ")


def test_dash_is_stdout():
    result = run_nnctl("plot", RESIDUAL, "-o", "-", "-f", "mermaid")
    assert result.code == 0 and result.out.startswith("flowchart")


def test_unknown_extension_is_a_usage_error(tmp_path):
    result = run_nnctl("plot", RESIDUAL, "-o", tmp_path / "net.bmp")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("nnctl: error: cannot tell the format") and \
        result.err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_options_reach_the_drawing():
    result = run_nnctl("plot", CONFIGS / "batchnorm_mlp.yaml", "-f", "mermaid",
                       "--show-dtype", "--show-layer-activations", "--show-trainable",
                       "--no-show-shapes", "--rankdir", "LR")
    assert result.code == 0, result.err
    assert result.out.startswith("flowchart LR")
    assert "Output dtype: float32" in result.out and "Activation: relu" in result.out
    assert "Trainable" in result.out and "Output shape" not in result.out
    bare = run_nnctl("plot", CONFIGS / "batchnorm_mlp.yaml", "-f", "mermaid",
                     "--no-show-layer-names")
    assert "dense_1" not in bare.out and "<b>Dense</b>" in bare.out


def test_rankdir_is_checked():
    result = run_nnctl("plot", RESIDUAL, "--rankdir", "XY")
    assert result.code == 2 and result.err.startswith("nnctl: error:")


def test_png_without_graphviz(tmp_path):
    """No `dot` on PATH: one line that points to SVG, exit 1, the old file untouched."""
    target = tmp_path / "net.png"
    target.write_bytes(b"old")
    result = run_nnctl("plot", RESIDUAL, "-o", target, env={"PATH": str(tmp_path)})
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1 and "--format svg" in result.err
    assert result.err.startswith("nnctl: error: ")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["net.png"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz' dot is not installed")
def test_png_with_graphviz(tmp_path):
    target = tmp_path / "net.png"
    result = run_nnctl("plot", RESIDUAL, "-o", target)
    assert result.code == 0, result.err
    assert target.read_bytes().startswith(b"\x89PNG")
    piped = run_nnctl("plot", RESIDUAL, "-f", "png")
    assert piped.code == 0 and piped.out_bytes.startswith(b"\x89PNG")


def test_neurons(tmp_path):
    piped = run_nnctl("plot", CONFIGS / "article_sequential.yaml", "--neurons")
    assert piped.code == 0 and piped.out.startswith("<svg ")
    root = ET.fromstring(piped.out)
    assert len(root.findall(".//{http://www.w3.org/2000/svg}circle")) == 10
    dot = run_nnctl("plot", CONFIGS / "article_sequential.yaml", "--neurons", "-o",
                    tmp_path / "n.dot")
    assert dot.code == 0 and (tmp_path / "n.dot").read_text().startswith("digraph")
    for fmt in ("text", "mermaid"):
        bad = run_nnctl("plot", CONFIGS / "article_sequential.yaml", "--neurons", "-f", fmt)
        assert bad.code == 2 and bad.err.startswith("nnctl: error: --neurons draws")


def test_png_without_graphviz_is_one_line(tmp_path):
    result = run_nnctl("plot", RESIDUAL, "-o", tmp_path / "net.png",
                       env={"PATH": "/nonexistent"})
    assert (result.code, result.out) == (1, "")
    assert result.err == ("nnctl: error: --format png needs Graphviz' `dot` program, which is "
                          "not installed (not on PATH); use --format svg, which nnctl draws by "
                          "itself\n")
    assert not (tmp_path / "net.png").exists()


def test_bad_spec_is_one_line(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [3]\nlayers:\n  - {type: Dense, units: 2, activation: relux}\n")
    result = run_nnctl("plot", spec, "-o", tmp_path / "net.svg")
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1 and "relux" in result.err and "relu" in result.err
    assert not (tmp_path / "net.svg").exists()
    missing = run_nnctl("plot", tmp_path / "nope.yaml")
    assert missing.code == 1 and missing.err.startswith("nnctl: error:")


def test_model_file(tmp_path):
    model = tmp_path / "m.npz"
    assert run_nnctl("build", CONFIGS / "two_input.yaml", "-o", model).code == 0
    result = run_nnctl("plot", model, "-f", "svg")
    assert result.code == 0 and 'data-layer="joined"' in result.out


def test_closed_pipe_is_quiet():
    import subprocess

    script = (f'"{sys.executable}" -m nnctl plot "{CONFIGS / "residual_mlp.yaml"}" '
              f'--format svg | head -1')
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("<svg") and done.stderr == ""


def test_unused_layer_warning(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("inputs: {x: [3]}\nlayers:\n  - {name: a, type: Dense, units: 2}\n"
                    "  - {name: b, type: Dense, units: 2, inputs: x}\noutputs: [b]\n")
    result = run_nnctl("plot", spec)
    assert result.code == 0 and "a (Dense)" not in result.out
    assert "warning" in result.err and "'a'" in result.err
