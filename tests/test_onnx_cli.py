"""nnctl export and nnctl forward --engine, as a user runs them."""
from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import CONFIGS, SPECS, run_nnctl, forward_golden as golden  # noqa: E402
from nnctl.model import load_model  # noqa: E402


def spec_path(stem):
    path = CONFIGS / f"{stem}.yaml"
    return path if path.exists() else SPECS / f"{stem}.yaml"


def write_weights(tmp_path, weights) -> str:
    path = tmp_path / "weights.npz"
    np.savez(path, **weights)
    return str(path)


def flat(arrays: dict) -> np.ndarray:
    return np.concatenate([a.reshape(len(a), -1) for a in arrays.values()], axis=1)


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if np.dtype(dtype) == np.float32 else \
        dict(rtol=1e-11, atol=1e-13)


def without_onnxruntime(tmp_path) -> dict:
    """An environment where `import onnxruntime` fails, as when it is not installed."""
    shim = tmp_path / "no_onnxruntime"
    shim.mkdir()
    (shim / "onnxruntime.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'onnxruntime'\", name='onnxruntime')\n")
    return {"PYTHONPATH": str(shim)}


# --- nnctl export ---------------------------------------------------------------------------

@pytest.mark.parametrize("stem", ["two_input", "two_outputs", "normalization_axes", "float64"])
def test_export_runs_in_onnxruntime_like_the_numpy_engine(tmp_path, stem):
    g = golden(stem)
    out = tmp_path / "model.onnx"
    r = run_nnctl("export", spec_path(stem), "-o", out,
                  "--weights", write_weights(tmp_path, g["weights"]))
    assert (r.code, r.out, r.err) == (0, "", "")
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    model = load_model(str(spec_path(stem)))
    inputs = {k: v.astype(model.dtype) for k, v in g["inputs"].items()}
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, inputs)
    want = model.forward(inputs, model.check_weights(g["weights"]))
    assert [o.name for o in proto.graph.output] == list(want)
    for y, ref in zip(got, want.values()):
        np.testing.assert_allclose(y, ref, **tolerance(model.dtype))


def test_export_with_seed_equals_build_with_seed(tmp_path):
    spec = CONFIGS / "residual_mlp.yaml"
    built = tmp_path / "model.npz"
    assert run_nnctl("build", spec, "--seed", "5", "-o", built).code == 0
    r = run_nnctl("export", spec, "--seed", "5", "-o", tmp_path / "a.onnx", "--opset", "13")
    assert r.code == 0, r.err
    r = run_nnctl("export", built, "-o", tmp_path / "b.onnx")   # a model file's own weights
    assert r.code == 0, r.err
    a, b = onnx.load(str(tmp_path / "a.onnx")), onnx.load(str(tmp_path / "b.onnx"))
    assert (a.opset_import[0].version, b.opset_import[0].version) == (13, 17)
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in a.graph.initializer}
    with np.load(built) as archive:
        for key in ("stem/kernel", "block1_dense/bias", "head/kernel"):
            np.testing.assert_array_equal(weights[key], archive[key])
    x = {"features": np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)}
    ya = ort.InferenceSession(a.SerializeToString()).run(None, x)[0]
    yb = ort.InferenceSession(b.SerializeToString()).run(None, x)[0]
    np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=1e-6)


def test_export_to_stdout(tmp_path):
    r = run_nnctl("export", CONFIGS / "article_sequential.yaml", "-o", "-")
    assert r.code == 0, r.err
    proto = onnx.load_model_from_string(r.out_bytes)
    assert [i.name for i in proto.graph.input] == ["input_layer"]
    assert [o.name for o in proto.graph.output] == ["layer3"]


@pytest.mark.parametrize("args,message", [
    (["--opset", "12"], r"nnctl: error: --opset 12: nnctl exports opsets 13 to \d+ "),
    (["--opset", "999"], r"nnctl: error: --opset 999: nnctl exports opsets 13 to \d+ "),
    (["--seed", "-1"], r"nnctl: error: Invalid value for '--seed': must be at least 0 "
                       r"\(got -1\) \(see 'nnctl export --help'\)$"),
])
def test_export_option_values_outside_their_range_are_usage_errors(tmp_path, args, message):
    import re

    r = run_nnctl("export", CONFIGS / "article_sequential.yaml", "-o", tmp_path / "m.onnx", *args)
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1 and re.match(message, r.err), r.err
    assert not (tmp_path / "m.onnx").exists()


def test_unexportable_layer_is_one_error_line_and_no_file(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4]\nlayers:\n  - {type: Dense, units: 4}\n"
                    "  - {type: Activation, activation: {type: sparsemax, axis: 0}, "
                    "name: pick}\n")
    out = tmp_path / "net.onnx"
    out.write_bytes(b"previous")
    r = run_nnctl("export", spec, "-o", out)
    assert r.code == 1 and r.out == ""
    assert r.err == (f"nnctl: error: {spec}:4:5: layer 'pick': sparsemax along axis 0 needs "
                     "that axis' size, which is only known at run time (no ONNX export)\n")
    assert out.read_bytes() == b"previous"          # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx", "net.yaml"]  # no temp


def test_export_without_onnx_is_one_clear_error(tmp_path):
    shim = tmp_path / "no_onnx"
    shim.mkdir()
    (shim / "onnx.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'onnx'\", name='onnx')\n")
    r = run_nnctl("export", CONFIGS / "article_sequential.yaml", "-o", tmp_path / "m.onnx",
                  env={"PYTHONPATH": str(shim)})
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: nnctl export needs the onnx package, which is not installed: "
                     "pip install 'nnctl[onnx]' (or pip install onnx onnxruntime)\n")


# --- nnctl forward --engine -----------------------------------------------------------------

def csv_text(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


@pytest.mark.parametrize("stem", ["three_inputs", "two_outputs", "rank3_dense", "float64",
                                  "batchnorm_mlp", "mappings"])
def test_forward_onnxruntime_equals_numpy_through_the_cli(tmp_path, stem):
    g = golden(stem)
    data = tmp_path / "x.csv"
    data.write_text(csv_text(flat(g["inputs"])))
    weights = write_weights(tmp_path, g["weights"])
    runs = {engine: run_nnctl("forward", spec_path(stem), data, "--weights", weights,
                              "--engine", engine) for engine in ("numpy", "onnxruntime")}
    for r in runs.values():
        assert (r.code, r.err) == (0, ""), r.err
    a, b = (np.loadtxt(io.StringIO(r.out), delimiter=",", ndmin=2) for r in runs.values())
    assert a.shape == b.shape == (len(flat(g["inputs"])), flat(g["outputs"]).shape[1])
    np.testing.assert_allclose(b, a, **tolerance(load_model(str(spec_path(stem))).dtype))


def test_forward_onnxruntime_npy_and_taps(tmp_path):
    g = golden("diamond")
    weights = write_weights(tmp_path, g["weights"])
    x = np.random.default_rng(1).standard_normal((40_000, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for engine in ("numpy", "onnxruntime"):
        out = tmp_path / f"{engine}.npy"
        r = run_nnctl("forward", SPECS / "diamond.yaml", tmp_path / "x.npy", "-o", out,
                      "--weights", weights, "--engine", engine, "--tap", "left1", "--tap", "out",
                      "--batch-size", "7000")
        assert (r.code, r.out, r.err) == (0, "", ""), r.err
        outs[engine] = np.load(out)
    assert outs["numpy"].shape == (40_000, 5)
    np.testing.assert_allclose(outs["onnxruntime"], outs["numpy"], rtol=1e-5, atol=1e-6)


def test_forward_without_onnxruntime(tmp_path):
    env = without_onnxruntime(tmp_path)
    spec = SPECS / "mappings.yaml"   # on 14,000 rows auto would take onnxruntime
    x = np.random.default_rng(2).standard_normal((14_000, 9)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run_nnctl("forward", spec, tmp_path / "x.npy", "--engine", "onnxruntime", env=env)
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: --engine onnxruntime needs the onnxruntime package, which is "
                     "not installed: pip install 'nnctl[onnx]' (or pip install onnx "
                     "onnxruntime)\n")
    auto = run_nnctl("forward", spec, tmp_path / "x.npy", "-o", tmp_path / "auto.npy", env=env)
    assert (auto.code, auto.err) == (0, "")        # auto: the NumPy engine, silently in a pipe
    reference = run_nnctl("forward", spec, tmp_path / "x.npy", "-o", tmp_path / "np.npy",
                          "--engine", "numpy")
    assert reference.code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "auto.npy"), np.load(tmp_path / "np.npy"))


def test_forward_auto_says_which_engine_on_a_terminal(tmp_path):
    from test_cli_conventions import run_tty

    spec = SPECS / "mappings.yaml"  # auto takes onnxruntime from 13,115 rows (nnctl.engines)
    x = np.random.default_rng(2).standard_normal((14_000, 9)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, screen = run_tty("forward", str(spec), str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "y.npy"), "--seed", "0")
    assert code == 0, screen
    assert "nnctl: engine: onnxruntime (14,000 rows x 514,000 multiply-adds)" in screen
    code, screen = run_tty("forward", str(spec), str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "y.npy"), "--seed", "0",
                           env=without_onnxruntime(tmp_path))
    assert code == 0, screen
    assert "nnctl: engine: numpy (onnxruntime is not installed: pip install" in screen
    # a small input stays on the reference engine, without a word
    np.save(tmp_path / "small.npy", x[:10])
    code, screen = run_tty("forward", str(spec), str(tmp_path / "small.npy"), "-o",
                           str(tmp_path / "y.npy"), "--seed", "0")
    assert code == 0 and "engine" not in screen, screen


def test_unknown_engine_is_a_usage_error():
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--engine", "torch",
                  input="1,2,3\n")
    assert r.code == 2 and r.out == ""
    assert "torch" in r.err


def test_float64_gelu_on_onnxruntime_names_the_layer(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("dtype: float64\ninput: [3]\nlayers:\n"
                    "  - {type: Dense, units: 2, activation: gelu, name: hidden}\n")
    r = run_nnctl("forward", spec, "--engine", "onnxruntime", input="1,2,3\n")
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: layer 'hidden': onnxruntime has no float64 kernel for Erf; "
                     "use --engine numpy\n")
    r = run_nnctl("forward", spec, "--engine", "numpy", input="1,2,3\n")
    assert r.code == 0 and len(r.out.split(",")) == 2


def test_forward_on_onnxruntime_imports_neither_onnx_nor_pydantic(tmp_path):
    """Start-up time: the engine writes the model's bytes itself (nnctl/onnx/proto.py), and
    --seed/--batch-size ranges are checked without typer's pydantic path."""
    import subprocess
    import sys

    np.save(tmp_path / "x.npy", np.zeros((3, 3), np.float32))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnctl", "forward",
                           str(CONFIGS / "article_sequential.yaml"), str(tmp_path / "x.npy"),
                           "--engine", "onnxruntime", "--seed", "1", "--batch-size", "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 3
    imported = {line.split("|")[2].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and line.count("|") == 2}
    assert any(m.startswith("onnxruntime.") for m in imported)
    for heavy in ("onnx", "pydantic"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in imported), heavy


@pytest.mark.parametrize("option,value,bound", [("--batch-size", "0", 1), ("--seed", "-1", 0)])
def test_forward_option_ranges(option, value, bound):
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", option, value, input="1,2,3\n")
    assert (r.code, r.out) == (2, "")
    assert r.err == (f"nnctl: error: Invalid value for '{option}': must be at least {bound} "
                     f"(got {value}) (see 'nnctl forward --help')\n")
