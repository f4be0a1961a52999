"""What the fuzz tests found, one regression test each (the defect, then the fix's behaviour).

Keras 3 is the reference where a finding was about semantics (a null initializer, merging
inputs of different ranks); the values were checked against it when the fix was made and
are restated here as the rule Keras follows."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from conftest import CONFIGS, run_nnctl
from nnctl.errors import DataError, NnctlError, SpecError, WeightsError


def one_error_line(result, code=1) -> str:
    assert result.code == code, (result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    return lines[0]


# --- specs -----------------------------------------------------------------------------------

def test_a_control_character_in_yaml_is_one_located_line(tmp_path):
    """PyYAML's ReaderError printed two lines ('...\\n  in "<unicode string>", position 0')."""
    spec = tmp_path / "net.yaml"
    spec.write_bytes(b"name: x\ninput: [3]\x01\n")
    line = one_error_line(run_nnctl("validate", spec))
    assert line.endswith("net.yaml:2:11: invalid YAML: character U+0001 is not allowed in "
                         "YAML text")


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    from nnctl.spec import read_spec

    spec = tmp_path / "deep.yaml"
    spec.write_text("[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match="nested more than 64 levels deep"):
        read_spec(str(spec))


def test_an_alias_cycle_is_refused(tmp_path):
    from nnctl.spec import read_spec

    spec = tmp_path / "cycle.yaml"
    spec.write_text("name: x\ninput: &a [3, *a]\nlayers: []\n")
    with pytest.raises(SpecError, match=r"cycle.yaml:2:8: an alias refers to a value that "
                                        r"contains it"):
        read_spec(str(spec))


def test_an_alias_bomb_is_refused_before_expanding_anything(tmp_path, monkeypatch):
    """It used to expand 100,000 values before giving up (half a second); now it counts."""
    from nnctl import yamlpos
    from nnctl.spec import read_spec

    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdefghijkl", "bcdefghijklm"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    spec = tmp_path / "bomb.yaml"
    spec.write_text("\n".join(lines) + "\n")
    built = []
    real_build = yamlpos._Builder.build
    monkeypatch.setattr(yamlpos._Builder, "build",
                        lambda self, *a: built.append(a) or real_build(self, *a))
    with pytest.raises(SpecError, match=r"bomb.yaml:6:4: .*more than 100,000 values"):
        read_spec(str(spec))
    assert built == []  # refused from the node graph: not one value was expanded


def test_a_null_initializer_is_keras_default_glorot_uniform():
    """Keras 3: Dense(kernel_initializer=None) falls back to glorot_uniform in add_weight,
    for the bias too. nnctl crashed ('NoneType' object is not callable)."""
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import Located

    def weights(kernel, bias):
        layer = {"type": "Dense", "units": 4, "name": "d", "kernel_initializer": kernel,
                 "bias_initializer": bias}
        spec = parse_spec(Located({"input": [3], "layers": [layer]}, {}, "x"))
        return build_model(spec).init_weights(seed=5)

    nulls = weights(None, None)
    explicit = weights("glorot_uniform", "glorot_uniform")
    for key in ("d/kernel", "d/bias"):
        np.testing.assert_array_equal(nulls[key], explicit[key])
    assert np.any(nulls["d/bias"] != 0)


def test_merging_inputs_of_different_ranks_broadcasts_samples_as_keras_does():
    """Add()([(None, 4, 3), (None, 3)]): Keras expands the lower-rank input after the batch
    axis (its Merge.call), so each sample's row is added to each of that sample's 4 rows.
    NumPy broadcasting against the batch axis crashed (or was wrong for a batch of 4)."""
    from nnctl.model import build_model
    from nnctl.spec import parse_spec
    from nnctl.yamlpos import Located

    doc = {"inputs": {"seq": [4, 3], "ctx": [3]},
           "layers": [{"name": "add", "type": "Add", "inputs": ["seq", "ctx"]},
                      {"name": "avg", "type": "Average", "inputs": ["seq", "ctx"]},
                      {"name": "top", "type": "Maximum", "inputs": ["seq", "ctx"]}],
           "outputs": ["add", "avg", "top"]}
    model = build_model(parse_spec(Located(doc, {}, "x")))
    seq = np.arange(48, dtype=np.float32).reshape(4, 4, 3)  # a batch of 4, like the rows
    ctx = np.array([[100, 200, 300], [1, 2, 3], [-5, 0, 5], [7, 7, 7]], np.float32)
    out = model.forward({"seq": seq, "ctx": ctx}, {})
    np.testing.assert_array_equal(out["add"], seq + ctx[:, None, :])
    np.testing.assert_array_equal(out["avg"], (seq + ctx[:, None, :]) / 2)
    np.testing.assert_array_equal(out["top"], np.maximum(seq, ctx[:, None, :]))
    assert model.nodes["add"].shape == (4, 3)


# --- weights and model files -----------------------------------------------------------------

def test_a_damaged_lzma_member_is_a_weights_error(tmp_path):
    """zipfile raises lzma.LZMAError (not an OSError) for a damaged LZMA member."""
    from nnctl.weights import load_weights

    path = tmp_path / "w.npz"
    sink = io.BytesIO()
    np.lib.format.write_array(sink, np.zeros((3, 3), np.float32))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_LZMA) as zf:
        zf.writestr("layer1/kernel.npy", sink.getvalue())
    data = bytearray(path.read_bytes())
    data[60] ^= 0xFF  # inside the compressed stream
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"w.npz: not a valid .npz file"):
        load_weights(path)


def test_a_deeply_nested_spec_entry_is_refused(tmp_path):
    """json.loads recursed into a RecursionError on '[[[[...]]]]'."""
    from nnctl.spec import read_spec

    path = tmp_path / "m.npz"
    deep = {"name": "x", "input": [3], "layers": [{"type": "Dense", "units": 1,
                                                    "name": json.loads("[" * 80 + "]" * 80)}]}
    for text in (b"[" * 5000 + b"]" * 5000, json.dumps(deep).encode()):
        np.savez(path, __spec__=np.frombuffer(text, np.uint8))
        with pytest.raises(NnctlError, match="nested"):
            read_spec(str(path))


def test_build_to_stdout_and_to_special_files(tmp_path):
    """`-o -` wrote a file named '-'; `-o /dev/null` crashed in zipfile (struct.error);
    `-o /dev/full` did not say which file."""
    spec = CONFIGS / "article_sequential.yaml"
    result = run_nnctl("build", spec, "-o", "-", cwd=tmp_path)
    assert result.code == 0 and not (tmp_path / "-").exists()
    (tmp_path / "piped.npz").write_bytes(result.out_bytes)
    assert run_nnctl("summary", tmp_path / "piped.npz").code == 0
    assert run_nnctl("build", spec, "-o", "/dev/null").code == 0
    line = one_error_line(run_nnctl("build", spec, "-o", "/dev/full"))
    assert line == "nnctl: error: /dev/full: No space left on device"


# --- the command line ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["relux\nrelu", "relux\r", "\x1b[31mrelux", "relux\x1e",
                                  "relux\u2028x"])
def test_control_characters_echoed_in_an_error_stay_on_one_escaped_line(name):
    """`nnctl act $'re\\nlu' 1` printed an error of two lines (and \\x1e, \\u2028 count as
    line breaks too); the echoed name is escaped now."""
    line = one_error_line(run_nnctl("act", name, "1"))
    assert "unknown activation" in line and "\x1b" not in line


def test_a_deeply_nested_param_value_is_an_error_not_a_crash():
    result = run_nnctl("init", "he_normal", "--shape", "2", "--param",
                       "stddev=" + "[" * 3000 + "]" * 3000)
    one_error_line(result)


# --- data ------------------------------------------------------------------------------------

def read_all(path, **kwargs):
    from nnctl.tabular import read_batches

    with read_batches(str(path), **kwargs) as reader:
        return [batch.array for batch in reader]


def test_a_quoted_header_with_carriage_returns_is_read_or_refused_cleanly(tmp_path):
    """csv.reader raised _csv.Error on a lone carriage return in a quoted line."""
    path = tmp_path / "mac.csv"
    path.write_bytes(b'a,"q"\r0,0\r0,0\r1,1')  # classic Mac line ends: one physical line
    with pytest.raises(DataError, match=r"mac.csv:1: column 1: .* is not a number"):
        read_all(path, header=False)


def test_json_lines_of_empty_arrays_are_rows_of_no_values(tmp_path):
    """`[]` rows went to a fallback parser that tried float(b'')."""
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"[]\n[]\n[1]\n")
    with pytest.raises(DataError, match=r"empty.jsonl:3: expected 0 columns, got 1"):
        read_all(path)
    path.write_bytes(b"[]\n[]\n")
    assert [a.shape for a in read_all(path)] == [(2, 0)]


@pytest.mark.parametrize("header", [
    b"{'descr': '<f4', 'fortran_order': False, 'shape':{(), }",      # SyntaxError
    b"{'descr': '<f4', 'fortran_order': False, 'shape':[(), }",      # tokenize.TokenError
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 2), }",
])
def test_broken_npy_headers_are_data_errors(tmp_path, header):
    """NumPy's header parser raised SyntaxError, tokenize.TokenError and OverflowError, not
    only ValueError; a negative dimension went through."""
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    path = tmp_path / "x.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
                     + b"\x00" * 64)
    with pytest.raises(DataError, match=r"x.npy: not a valid .npy file"):
        read_all(path)


def test_a_huge_row_width_on_stdin_is_refused_before_a_buffer_is_asked_for():
    """On stdin an .npy is read in row blocks: a header of shape (2, 2**40) made nnctl ask
    the OS for a 4 TB read buffer."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1099511627776), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x00" * 64
    result = run_nnctl("forward", CONFIGS / "article_sequential.yaml", "--input-format", "npy",
                       input=data)
    line = one_error_line(result)
    assert "rows have 1099511627776 values" in line or "needs" in line


def test_parquet_errors_are_one_line(tmp_path):
    """pyarrow's thrift messages end in a newline."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0]}), path)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0x55  # the last byte of the footer's thrift metadata
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        read_all(path)
    assert "\n" not in str(info.value)


def test_a_quote_opening_the_last_cell_does_not_panic_polars(tmp_path, capfd):
    """polars (1.44) panics (a BaseException and a Rust backtrace on stderr) on '1,"' at the
    very end of a file without a final newline."""
    path = tmp_path / "q.csv"
    path.write_bytes(b'1,2\n3,"')
    with pytest.raises(DataError, match=r"q.csv:2: column 2"):
        read_all(path, n_columns=2)
    assert "panicked" not in capfd.readouterr().err


def test_parquet_column_names_that_are_not_utf8_are_a_data_error(tmp_path):
    """pyarrow raised UnicodeDecodeError (found by NNCTL_FUZZ=deep)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"colx": [1.0, 2.0]}), sink)
    path = tmp_path / "names.parquet"
    path.write_bytes(sink.getvalue().replace(b"colx", b"\xe3\x28\xa1x"))
    with pytest.raises(DataError, match=r"names.parquet: not a valid Parquet file"):
        read_all(path)


def test_act_plot_leaves_out_infinite_x():
    """hard_sigmoid(inf) is 1, finite, but x = inf broke plotext's ruler (found by
    NNCTL_FUZZ=deep)."""
    result = run_nnctl("act", "hard_sigmoid", "inf", "--plot")
    assert one_error_line(result, code=1).endswith("hard_sigmoid has no finite values to plot "
                                                   "on this range")
    result = run_nnctl("act", "hard_sigmoid", "inf", "1", "2", "--plot")
    assert result.code == 0 and result.err == "" and "1.8" in result.out


@pytest.mark.parametrize("args", [
    ("summary", "/dev/zero"), ("validate", "/dev/urandom"),
    ("forward", CONFIGS / "article_sequential.yaml", "/dev/zero"),
    ("forward", CONFIGS / "article_sequential.yaml", "/dev/full"),
    ("inspect", CONFIGS / "article_sequential.yaml", "/dev/zero"),
    ("build", CONFIGS / "article_sequential.yaml", "--weights", "/dev/zero", "-o", "/dev/null"),
])
def test_endless_files_are_refused_not_read_into_memory(args):
    """`nnctl build /dev/full -o x` (the fuzzer's arguments, reordered) read /dev/full until
    the machine ran out of memory: specs are read up to 16 MB, text rows up to 64 MB."""
    from conftest import Result
    from fuzzing import measured

    code, out, err, peak = measured(args, timeout=120)
    one_error_line(Result(code, out.decode(), err, out))
    assert peak < 1_000_000, peak


def test_endless_stdin_is_refused():
    with open("/dev/zero", "rb") as zeros:
        import subprocess
        import sys

        from fuzzing import checkout_env

        proc = subprocess.run([sys.executable, "-m", "nnctl", "act", "relu"], stdin=zeros,
                              capture_output=True, timeout=60, env=checkout_env())
    assert proc.returncode == 1
    assert proc.stderr == (b"nnctl: error: <stdin>:1: no line end in 64 MB: not rows of "
                           b"numbers\n")


def test_blank_lines_between_rows_cost_linear_time(tmp_path, monkeypatch):
    """Every stretch of a block was unclean for the fast parser yet valid, and each cost a
    parse of the rest of the block: double-spaced rows took 5 s for 300,000."""
    from nnctl.tabular.text import TextParser

    path = tmp_path / "double.csv"
    parsed = []
    real_fast = TextParser.fast
    monkeypatch.setattr(TextParser, "fast",
                        lambda self, block, n: parsed.append(len(block)) or real_fast(self, block, n))
    work = {}
    for n in (75_000, 300_000):  # 4x the rows: about 4x the bytes handed to the fast parser
        path.write_bytes(b"1,2,3\n\n" * n + b"4,5,6\n")
        parsed.clear()
        rows = read_all(path)
        work[n] = sum(parsed)
    assert work[300_000] <= 4.5 * work[75_000], work
    assert sum(len(a) for a in rows) == 300_001
    path.write_bytes(b"\n" * (1 << 20) + b"1,2,3\n")
    assert [a.tolist() for a in read_all(path)] == [[[1, 2, 3]]]
    path.write_bytes(b"\n" * (65 << 20))
    with pytest.raises(DataError, match=r"no row in the first 64 MB \(only blank lines\)"):
        read_all(path)


@pytest.mark.parametrize("text,tag", [("!!int", "!!int: ''"), ("a: !!int abc", "!!int: 'abc'"),
                                      ("a: !!float x", "!!float: 'x'"),
                                      ("a: !!bool x", "!!bool: 'x'")])
def test_a_standard_tag_on_a_wrong_value_is_a_spec_error(tmp_path, text, tag):
    """PyYAML's constructors raised IndexError/ValueError/KeyError (found by NNCTL_FUZZ=deep)."""
    from nnctl.spec import read_spec

    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=f"invalid value for {tag}"):
        read_spec(str(path))


def test_a_lone_surrogate_in_a_spec_is_refused(tmp_path):
    """YAML's "\\ud800" (or JSON's, in a model file) made a name that could not be printed:
    summary and plot failed with UnicodeEncodeError (found by NNCTL_FUZZ=deep)."""
    from nnctl.spec import read_spec

    path = tmp_path / "s.yaml"
    path.write_text('name: x\ninput: [3]\nlayers:\n  - {name: "\\ud800", type: Dense, units: 3}\n')
    # libyaml (the C loader) refuses the escape itself, at the escape
    with pytest.raises(SpecError, match=r"s.yaml:4:15: invalid YAML: found invalid Unicode "
                                        r"character escape code"):
        read_spec(str(path))
    spec = {"name": "x", "input": [3], "layers": [{"type": "Dense", "units": 2,
                                                     "name": "\ud800"}]}
    np.savez(tmp_path / "m.npz", __spec__=np.frombuffer(json.dumps(spec).encode(), np.uint8))
    with pytest.raises(SpecError, match=r"m.npz: '\\ud800' is not text"):
        read_spec(str(tmp_path / "m.npz"))


def test_a_damaged_array_header_in_weights_is_a_weights_error(tmp_path):
    """NumPy's header parser raised tokenize.TokenError (found by NNCTL_FUZZ=deep)."""
    from nnctl.weights import load_weights

    header = b"{'descr': '<f4', 'fortran_order': False, 'sha\xfb\xc2, 32), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        archive.writestr("dense/kernel.npy", member + b"\x00" * 64)
    with pytest.raises(WeightsError, match=r"w.npz: not a valid .npz file"):
        load_weights(tmp_path / "w.npz")


def test_float64_beyond_float32_becomes_inf_without_python_warnings(tmp_path):
    """NumPy printed 'RuntimeWarning: overflow encountered in cast' (two lines on stderr) when
    float64 data or weights beyond float32's range were cast (found by the fuzzer's check for
    Python warnings); they become inf, and nnctl's own one warning says so when it matters."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nnctl.model import load_model
    from nnctl.weights import save_weights

    spec = CONFIGS / "article_sequential.yaml"
    big = np.array([[1e300, 1, 2], [1, 2, 3]])
    np.save(tmp_path / "big.npy", big)
    np.save(tmp_path / "bigf.npy", np.asfortranarray(big))
    pq.write_table(pa.table({"a": big[:, 0], "b": big[:, 1], "c": big[:, 2]}),
                   tmp_path / "big.parquet")
    np.savez(tmp_path / "inputs.npz", record=np.full((2, 6), 1e300), patch=np.ones((2, 4, 4)))
    weights = {k: v.astype(np.float64) for k, v in load_model(str(spec)).init_weights(0).items()}
    weights["layer1/kernel"][0, 0] = 1e300
    save_weights(tmp_path / "w64.npz", weights)
    runs = [(spec, "big.npy"), (spec, "big.parquet"), (spec, "bigf.npy"),
            (CONFIGS / "two_input.yaml", "inputs.npz"), (spec, "--weights", "w64.npz")]
    for args in runs:
        result = run_nnctl("forward", *args, input="1,2,3\n", cwd=tmp_path)
        assert result.code == 0 and "RuntimeWarning" not in result.err, (args, result.err)
        assert len(result.err.splitlines()) <= 1
    for name in ("big.npy", "bigf.npy"):
        # 1e300 is inf in float32: said once, though this model's outputs stay finite
        result = run_nnctl("forward", spec, input=(tmp_path / name).read_bytes())
        assert result.code == 0 and result.err == (
            "nnctl: warning: row 1 of the input holds NaN or Inf; its outputs are finite all "
            "the same (reported once)\n"), result.err


def test_one_sample_too_large_for_memory_is_refused_before_computing(nnctl, tmp_path):
    """The fuzzer's UpSampling2D of size 10^6: one sample's outputs needed 4.8 GB, and the
    forward pass died of a MemoryError; it is refused up front, under `ulimit -v` too."""
    import resource

    spec = tmp_path / "huge.yaml"
    spec.write_text("input: [4, 3, 2]\nlayers:\n"
                    "  - {type: UpSampling2D, size: [1000001, 2]}\n")

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    import subprocess
    import sys

    from fuzzing import checkout_env

    proc = subprocess.run([sys.executable, "-m", "nnctl", "forward", str(spec), "--seed", "0"],
                          input=b"0," * 23 + b"0\n", capture_output=True, env=checkout_env(),
                          preexec_fn=cap, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1, err
    assert "needs" in err and "this machine can spare" in err and "out of memory" not in err
