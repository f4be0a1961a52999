"""nnctl forward and build: Keras' numbers through files, stdin and every format; pipeline manners."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import CONFIGS, SPECS, SPEC_FILES, run_nnctl, forward_golden as golden
from nnctl.model import load_model



def flat(arrays: dict) -> np.ndarray:
    return np.concatenate([a.reshape(len(a), -1) for a in arrays.values()], axis=1)


def write_weights(tmp_path, weights) -> str:
    path = tmp_path / "weights.npz"
    np.savez(path, **weights)
    return str(path)


def read_csv(text: str) -> np.ndarray:
    rows = [line.split(",") for line in text.splitlines() if line]
    return np.array(rows, dtype=np.float64)


def csv_text(rows: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) if rows.dtype == np.float64 else str(v)
                            for v in row) + "\n" for row in rows)


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_forward_csv_file_equals_keras(tmp_path, path):
    g = golden(path.stem)
    data = tmp_path / "x.csv"
    data.write_text(csv_text(flat(g["inputs"])))
    r = run_nnctl("forward", path, data, "--weights", write_weights(tmp_path, g["weights"]))
    assert r.code == 0, r.err
    assert r.err == ""
    np.testing.assert_allclose(read_csv(r.out), flat(g["outputs"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stem", ["article_sequential", "batchnorm_mlp", "residual_mlp"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "npy", "parquet"])
def test_forward_stdin_every_format(tmp_path, stem, fmt):
    g = golden(stem)
    x = flat(g["inputs"])
    if fmt == "npy":
        buffer = io.BytesIO()
        np.save(buffer, x)
        data = buffer.getvalue()
        args = []   # recognized by its magic bytes
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(pa.table({f"c{k}": x[:, k] for k in range(x.shape[1])}), buffer)
        data = buffer.getvalue()
        args = ["--input-format", "parquet"]
    else:
        sep = "\t" if fmt == "tsv" else ","
        lines = ["[" + ",".join(map(str, row)) + "]" if fmt == "jsonl" else
                 sep.join(map(str, row)) for row in x]
        data = ("\n".join(lines) + "\n").encode()
        args = ["--input-format", fmt]
    spec = next(p for p in SPEC_FILES if p.stem == stem)
    r = run_nnctl("forward", spec, "-", "--weights", write_weights(tmp_path, g["weights"]),
                  "--output-format", fmt, *args, input=data)
    assert r.code == 0, r.err
    if fmt == "npy":
        got = np.load(io.BytesIO(r.out_bytes))
        assert got.dtype == np.float32
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        got = np.column_stack([c.to_numpy() for c in pq.read_table(io.BytesIO(r.out_bytes)).columns])
    elif fmt == "jsonl":
        got = np.array([json.loads(line) for line in r.out.splitlines()])
    else:
        got = np.array([line.split("\t" if fmt == "tsv" else ",") for line in r.out.splitlines()],
                       dtype=np.float64)
    np.testing.assert_allclose(got, flat(g["outputs"]), rtol=1e-5, atol=1e-6)


def test_two_inputs_from_npz(tmp_path):
    g = golden("two_input")
    npz = tmp_path / "inputs.npz"
    np.savez(npz, **g["inputs"])
    r = run_nnctl("forward", CONFIGS / "two_input.yaml", npz, "--weights",
                  write_weights(tmp_path, g["weights"]))
    assert r.code == 0, r.err
    np.testing.assert_allclose(read_csv(r.out), flat(g["outputs"]), rtol=1e-5, atol=1e-6)


def test_float64_output_round_trips(tmp_path):
    g = golden("float64")
    r = run_nnctl("forward", SPECS / "float64.yaml", "-", "--weights",
                  write_weights(tmp_path, g["weights"]), input=csv_text(flat(g["inputs"])))
    assert r.code == 0, r.err
    model = load_model(str(SPECS / "float64.yaml"))
    want = model.forward(g["inputs"], model.check_weights(g["weights"]))["dense_1"]
    assert np.array_equal(read_csv(r.out), want)   # shortest float64 text reads back exactly


def test_float32_output_round_trips_exactly(tmp_path):
    g = golden("article_sequential")
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "-", "--weights",
                  write_weights(tmp_path, g["weights"]), input=csv_text(flat(g["inputs"])))
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    want = model.forward({"input_layer": flat(g["inputs"]).astype(np.float32)},
                         model.check_weights(g["weights"]))["layer3"]
    got = np.array([line.split(",") for line in r.out.splitlines()], dtype=np.float32)
    assert np.array_equal(got, want)


def test_build_then_forward_with_the_model_file(tmp_path):
    model_file = tmp_path / "model.npz"
    r = run_nnctl("build", CONFIGS / "residual_mlp.yaml", "--seed", "5", "-o", model_file)
    assert (r.code, r.out, r.err) == (0, "", "")
    with np.load(model_file, allow_pickle=False) as archive:
        assert "__spec__" in archive.files and "stem/kernel" in archive.files
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 16)).astype(np.float32)
    text = csv_text(x)
    from_file = run_nnctl("forward", model_file, input=text)
    from_spec = run_nnctl("forward", CONFIGS / "residual_mlp.yaml", "--seed", "5", input=text)
    assert from_file.code == 0 and from_file.out == from_spec.out
    assert run_nnctl("summary", model_file).out == run_nnctl("summary",
                                                             CONFIGS / "residual_mlp.yaml").out
    other = run_nnctl("forward", CONFIGS / "residual_mlp.yaml", "--seed", "6", input=text)
    assert other.out != from_spec.out


def test_spec_without_weights_uses_seed_zero():
    a = run_nnctl("forward", CONFIGS / "article_sequential.yaml", input="1,2,3\n")
    b = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--seed", "0", input="1,2,3\n")
    assert a.code == 0 and a.out == b.out and a.err == ""  # the note is for terminals only


def test_header_in_header_out():
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", input="a,b,c\n1,2,3\n4,5,6\n")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "layer3_0,layer3_1" and len(lines) == 3


def test_tap_writes_a_layers_output(tmp_path):
    g = golden("diamond")
    r = run_nnctl("forward", SPECS / "diamond.yaml", "--tap", "left1", "--tap", "skip",
                  "--weights", write_weights(tmp_path, g["weights"]),
                  input=csv_text(flat(g["inputs"])))
    assert r.code == 0, r.err
    header, _, rows = r.out.partition("\n")  # several layers: named columns by default
    assert header == ",".join([f"left1_{k}" for k in range(4)] + [f"skip_{k}" for k in range(8)])
    assert read_csv(rows).shape == (7, 4 + 8)
    r = run_nnctl("forward", SPECS / "diamond.yaml", "--tap", "left9", input="1,2,3,4,5,6\n")
    assert r.code == 1 and "no layer named 'left9'" in r.err and "did you mean" in r.err


def test_tap_of_a_shared_layers_calls(tmp_path):
    """`--tap dense[1][0]` reads a call; a call the layer does not have, or a call read by
    one index, says which calls there are (not the engine's own node names)."""
    spec = tmp_path / "s.yaml"
    spec.write_text("inputs: {a: [2]}\nlayers:\n"
                    "  - {name: step, type: Dense, units: 2, inputs: a}\n"
                    "  - {call: step, inputs: step}\n  - {call: step, inputs: 'step[1][0]'}\n")
    last = run_nnctl("forward", spec, input="1,2\n")
    tapped = run_nnctl("forward", spec, "--tap", "step[2][0]", input="1,2\n")
    assert last.code == tapped.code == 0 and last.out == tapped.out != "", last.err
    for tap, message in [
            ("step[5][0]", "--tap: no layer named 'step[5][0]' in the model (layer 'step' is "
                           "called 3 times: `step[0][0]` to `step[2][0]`)\n"),
            ("stp[1][0]", "(did you mean 'step[1][0]'?)\n"),
            ("step[1]", "'step[1]' names none of them (call 2 of the shared layer is "
                        "`step[1][0]`)\n")]:
        r = run_nnctl("forward", spec, "--tap", tap, input="1,2\n")
        assert (r.code, r.out) == (1, ""), tap
        assert r.err.startswith("nnctl: error: ") and r.err.endswith(message), r.err


def test_bad_row_reports_line_and_column_after_good_rows():
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml",
                  input="1,2,3\n4,5,6\n7,oops,9\n1,1,1\n")
    assert r.code == 1
    assert len(r.out.splitlines()) == 2
    assert r.err == "nnctl: error: <stdin>:3: column 2: 'oops' is not a number\n"


def test_wrong_number_of_columns():
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", input="1,2,3\n1,2\n")
    assert r.code == 1 and len(r.out.splitlines()) == 1
    assert r.err.startswith("nnctl: error: <stdin>:2:") and "3" in r.err


def test_bad_row_at_line_1000001(tmp_path):
    data = tmp_path / "big.csv"
    with open(data, "w") as f:
        f.write("1,2,3\n" * 1_000_000)
        f.write("1,2,x\n")
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", data, "-o", tmp_path / "out.csv",
                  timeout=120)
    assert r.code == 1
    assert r.err == f"nnctl: error: {data}:1000001: column 3: 'x' is not a number\n"
    assert not (tmp_path / "out.csv").exists()   # -o: nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == ["big.csv"]


def test_failed_output_keeps_the_previous_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "-o", out, input="1,2,3\nx,1,1\n")
    assert r.code == 1
    assert out.read_text() == "previous\n"
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "-o", out, input="1,2,3\n")
    assert r.code == 0 and len(out.read_text().splitlines()) == 1


def test_closed_pipe_is_quiet(tmp_path):
    data = tmp_path / "big.csv"
    data.write_text("1,2,3\n" * 300_000)
    cmd = (f"cat {data} | {sys.executable} -m nnctl forward "
           f"{CONFIGS / 'article_sequential.yaml'} | head -1")
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                          timeout=60)
    assert proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 1
    assert proc.returncode in (0, 141)


def test_rows_keep_their_order_across_batches(tmp_path):
    model = CONFIGS / "article_sequential.yaml"
    x = np.random.default_rng(1).normal(size=(1000, 3)).astype(np.float32)
    text = csv_text(x)
    small = run_nnctl("forward", model, "--batch-size", "7", input=text)
    whole = run_nnctl("forward", model, "--batch-size", "5000", input=text)
    assert small.code == 0 and small.out == whole.out
    assert len(small.out.splitlines()) == 1000


def test_missing_weights_file_and_mismatch(tmp_path):
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--weights",
                  tmp_path / "none.npz", input="1,2,3\n")
    assert r.code == 1 and r.err.startswith("nnctl: error: ") and r.err.count("\n") == 1
    bad = {"layer1/kernel": np.zeros((3, 4), np.float32)}
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--weights",
                  write_weights(tmp_path, bad), input="1,2,3\n")
    assert r.code == 1
    assert "layer 'layer1': weight 'kernel' has shape (3, 4), expected (3, 3)" in r.err


def test_model_spec_from_stdin(tmp_path):
    spec = (CONFIGS / "article_sequential.yaml").read_text()
    r = run_nnctl("summary", "-", input=spec)
    assert r.code == 0 and " Total params: 26 (104.00 B)" in r.out
    data = tmp_path / "x.csv"
    data.write_text("1,2,3\n")
    r = run_nnctl("forward", "-", data, input=spec)
    assert r.code == 0 and r.out == run_nnctl("forward", CONFIGS / "article_sequential.yaml",
                                              data).out
    r = run_nnctl("forward", "-", input=spec)
    assert r.code == 2 and "cannot both be stdin" in r.err


def test_seed_on_a_model_file_warns_that_it_redraws(tmp_path):
    model_file = tmp_path / "m.npz"
    assert run_nnctl("build", CONFIGS / "article_sequential.yaml", "--seed", "1",
                     "-o", model_file).code == 0
    own = run_nnctl("forward", model_file, input="1,2,3\n")
    assert own.err == ""
    redrawn = run_nnctl("forward", model_file, "--seed", "0", input="1,2,3\n")
    assert redrawn.code == 0 and "drawing new weights" in redrawn.err
    assert redrawn.out == run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--seed", "0",
                                    input="1,2,3\n").out


def test_debug_after_the_command_is_the_debug_flag():
    r = run_nnctl("act", "relu", "1", "--debug")
    assert (r.code, r.out.strip()) == (0, "1")
    r = run_nnctl("act", "relux", "1", "--debug")
    assert r.code == 1 and "Traceback" in r.err


def test_npz_scalar_array_is_a_clear_error(tmp_path):
    npz = tmp_path / "bad.npz"
    np.savez(npz, record=np.float32(3), patch=np.zeros((2, 4, 4), np.float32))
    r = run_nnctl("forward", CONFIGS / "two_input.yaml", npz)
    assert r.code == 1 and r.err.count("\n") == 1 and "internal error" not in r.err


# ---------------------------------------------------------------------------------------------
# Format options: a name outside the list --help gives is bad usage (exit 2), not bad input

@pytest.mark.parametrize("args,message", [
    (["--input-format", "cvs"], "Invalid value for '--input-format': unknown data format 'cvs' "
                                "(did you mean 'csv'?) (see 'nnctl forward --help')"),
    (["--input-format", "xml"], "Invalid value for '--input-format': unknown data format 'xml' "
                                "(known: csv, tsv, jsonl, npy, parquet, npz) "
                                "(see 'nnctl forward --help')"),
    (["--output-format", "jsnl"], "Invalid value for '--format' / '-f' / '--output-format': "
                                  "unknown data format "
                                  "'jsnl' (did you mean 'jsonl'?) (see 'nnctl forward --help')"),
    (["--output-format", "npz"], "Invalid value for '--format' / '-f' / '--output-format': "
                                 "unknown data format "
                                 "'npz' (did you mean 'npy'?) (see 'nnctl forward --help')"),
    (["--input-format", "npz"], "--input-format npz reads an .npz file, not stdin: give INPUT "
                                "as a file"),
])
def test_unknown_format_is_a_usage_error(tmp_path, args, message):
    out = tmp_path / "out.csv"
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "-o", out, *args,
                  input="1,2,3\n")
    assert (r.code, r.out, r.err) == (2, "", f"nnctl: error: {message}\n")
    assert not out.exists()


def test_format_names_keep_their_aliases_and_any_case():
    want = run_nnctl("forward", CONFIGS / "article_sequential.yaml", input="1,2,3\n")
    assert want.code == 0, want.err
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--input-format", "CSV",
                  "--output-format", "tab", input="1,2,3\n")
    assert (r.code, r.out, r.err) == (0, want.out.replace(",", "\t"), "")
    r = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--input-format", "json",
                  "--output-format", "ndjson", input="[1,2,3]\n")
    assert r.code == 0 and json.loads(r.out) == [float(v) for v in want.out.split(",")]


def test_input_format_npz_reads_any_file_name(tmp_path):
    g = golden("two_input")
    data = tmp_path / "inputs.data"
    with open(data, "wb") as f:
        np.savez(f, **g["inputs"])
    r = run_nnctl("forward", CONFIGS / "two_input.yaml", data, "--input-format", "NPZ",
                  "--weights", write_weights(tmp_path, g["weights"]))
    assert r.code == 0, r.err
    np.testing.assert_allclose(read_csv(r.out), flat(g["outputs"]), rtol=1e-5, atol=1e-6)
