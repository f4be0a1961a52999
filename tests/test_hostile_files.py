"""Hostile files, each through the real command: YAML alias bombs, cycles, deep nesting and
Python tags; pickles and object arrays in .npz/.npy (never loaded: a pickle here would create
a file if it ran); truncated and corrupted .npz/.npy/Parquet; huge declared shapes, refused
before allocating (the child's peak memory is measured); NaN and Inf in weights and data
(they propagate, with one warning)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import CONFIGS, Result, run_nnctl
from fuzzing import measured, run_inprocess

SEQUENTIAL = CONFIGS / "article_sequential.yaml"   # input 3, output 2
TWO_INPUT = CONFIGS / "two_input.yaml"             # inputs record (6) and patch (4, 4)
SMALL_MEMORY_KB = 400_000   # far below any of the refused requests (terabytes)


def one_error_line(result: Result, *fragments) -> str:
    assert result.code == 1, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def run_measured(*args, input: bytes = b"", cwd=None) -> tuple[Result, int]:
    """run_nnctl, plus the command's peak resident memory in KB (fuzzing.measured)."""
    code, out, err, peak = measured(args, input, cwd)
    return Result(code, out.decode("utf-8", "replace"), err, out), peak


def run_fast(*args, input: bytes | str = b"", cwd=None) -> Result:
    """The command in this process (fuzzing.run_inprocess): for loops over many damaged
    files; each kind of file also goes through one real process."""
    run = run_inprocess(args, input.encode() if isinstance(input, str) else input, cwd=cwd)
    return Result(run.code, run.out.decode("utf-8", "replace"), run.err, run.out)


# --- YAML ------------------------------------------------------------------------------------

def test_billion_laughs_is_refused_quickly_and_small(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")   # 9**9 values
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    for command in ("validate", "summary", "forward", "plot", "lint"):
        result, rss = run_measured(command, "bomb.yaml", cwd=tmp_path)
        one_error_line(result, "bomb.yaml:", "alias bomb")
        assert rss < SMALL_MEMORY_KB, rss


def test_an_alias_that_contains_itself_is_refused(tmp_path):
    (tmp_path / "loop.yaml").write_text(
        "name: loop\ninput: [3]\nlayers: &l\n  - {type: Dense, units: 2}\n  - *l\n")
    one_error_line(run_nnctl("validate", "loop.yaml", cwd=tmp_path), "loop.yaml:3:9",
                   "contains it")


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,
    "{a: " * 10_000 + "1" + "}" * 10_000,
    "".join(f"{'  ' * k}k{k}:\n" for k in range(300)) + "  " * 300 + "x: 1\n",
    "name: x\ninput: [3]\nlayers:\n  - {type: Dense, units: 2, activation: "
    + "{type: " * 100 + "relu" + "}" * 100 + "}\n",
], ids=["flow-sequences", "flow-mappings", "block-mappings", "in-a-layer"])
def test_deep_nesting_is_refused(tmp_path, text):
    (tmp_path / "deep.yaml").write_text(text)
    one_error_line(run_nnctl("summary", "deep.yaml", cwd=tmp_path), "deep.yaml",
                   "nested more than 64 levels deep")


PYTHON_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:subprocess.check_output [['touch', '{marker}']]",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {marker}']",
]


@pytest.mark.parametrize("tag", PYTHON_TAGS)
@pytest.mark.parametrize("where", ["top", "value", "layer"])
def test_python_tags_are_refused_and_never_run(tmp_path, tag, where):
    marker = tmp_path / "PWNED"
    value = tag.format(marker=marker)
    text = {"top": value + "\n",
            "value": f"name: x\ninput: [3]\nlayers:\n  - type: Dense\n    units: {value}\n",
            "layer": f"name: x\ninput: [3]\nlayers:\n  - {value}\n"}[where]
    (tmp_path / "tagged.yaml").write_text(text)
    run = run_nnctl if where == "layer" else run_fast
    one_error_line(run("build", "tagged.yaml", "-o", "m.npz", cwd=tmp_path), "tagged.yaml:",
                   "unsupported YAML tag")
    assert not marker.exists()
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2001-12-14",
                                   "!!omap [a: 1]", "!custom 3", "!!float 3"])
def test_other_non_plain_tags_are_refused(tmp_path, value):
    (tmp_path / "t.yaml").write_text(f"name: x\ninput: [3]\nlayers:\n  - type: Dense\n"
                                     f"    units: {value}\n")
    result = run_fast("validate", "t.yaml", cwd=tmp_path)
    if value == "!!float 3":  # a standard tag: a plain number, then units must be an integer
        one_error_line(result, "`units` must be a positive integer, got 3.0")
    else:
        one_error_line(result, "t.yaml:5:")


# --- pickles ---------------------------------------------------------------------------------

class Evil:
    """Unpickling this opens (creates) the marker file: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_npy(marker: Path) -> bytes:
    sink = io.BytesIO()
    np.save(sink, np.array([Evil(marker), 1.0], dtype=object), allow_pickle=True)
    return sink.getvalue()


def evil_archive(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)


def npy_bytes(array) -> bytes:
    sink = io.BytesIO()
    np.save(sink, array, allow_pickle=False)
    return sink.getvalue()


def test_the_pickle_really_runs_code_when_loaded(tmp_path):
    """The payload is live: numpy with allow_pickle=True creates the marker."""
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.npy").write_bytes(pickled_npy(marker))
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


def test_pickles_in_weights_and_model_files_are_never_loaded(tmp_path):
    from nnctl.model import load_model
    from nnctl.weights import spec_bytes

    marker = tmp_path / "PWNED"
    model = load_model(str(SEQUENTIAL))
    weights = {k: npy_bytes(v) for k, v in model.init_weights(0).items()}
    weights["layer1/kernel"] = pickled_npy(marker)
    evil_archive(tmp_path / "weights.npz", weights)
    evil_archive(tmp_path / "model.npz",
                 {**weights, "__spec__": npy_bytes(spec_bytes(model.spec.doc.value))})
    runs = [("forward", SEQUENTIAL, "--weights", "weights.npz"),
            ("build", SEQUENTIAL, "--weights", "weights.npz", "-o", "out.npz"),
            ("inspect", SEQUENTIAL, "--weights", "weights.npz"),
            ("summary", "model.npz"), ("forward", "model.npz"), ("inspect", "model.npz")]
    for args in runs:
        one_error_line(run_nnctl(*args, input="1,2,3\n", cwd=tmp_path),
                       "entry 'layer1/kernel' holds Python objects (a pickle)")
        assert not marker.exists(), args
    assert not (tmp_path / "out.npz").exists()


def test_a_pickled_spec_entry_is_never_loaded(tmp_path):
    marker = tmp_path / "PWNED"
    evil_archive(tmp_path / "model.npz", {"__spec__": pickled_npy(marker)})
    one_error_line(run_nnctl("summary", "model.npz", cwd=tmp_path), "entry '__spec__'",
                   "a pickle")
    assert not marker.exists()


def test_pickles_in_data_files_are_never_loaded(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "rows.npy").write_bytes(pickled_npy(marker))
    evil_archive(tmp_path / "inputs.npz", {"record": pickled_npy(marker),
                                           "patch": npy_bytes(np.zeros((2, 4, 4)))})
    runs = [("forward", SEQUENTIAL, "rows.npy"), ("inspect", SEQUENTIAL, "rows.npy"),
            ("forward", TWO_INPUT, "inputs.npz"), ("inspect", TWO_INPUT, "inputs.npz"),
            ("inspect", SEQUENTIAL, "--target", "rows.npy")]
    for args in runs:
        one_error_line(run_nnctl(*args, cwd=tmp_path), "Python objects" if "rows.npy" in args
                       else "inputs.npz")
        assert not marker.exists(), args
    result = run_nnctl("forward", SEQUENTIAL, input=pickled_npy(marker), cwd=tmp_path)
    one_error_line(result, "<stdin>", "Python objects")
    assert not marker.exists()


# --- truncated and corrupted files -----------------------------------------------------------

def cuts(data: bytes) -> list[int]:
    """Cut points: in the header, mid-way, one byte short."""
    return sorted({0, 5, 9, 40, len(data) // 2, len(data) - 1})


def test_truncated_and_corrupted_weight_files(tmp_path):
    from nnctl.model import load_model
    from nnctl.weights import save_model

    model = load_model(str(SEQUENTIAL))
    save_model(tmp_path / "good.npz", model.spec.doc.value, model.init_weights(0))
    data = (tmp_path / "good.npz").read_bytes()
    damaged = {f"cut{n}": data[:n] for n in cuts(data)}
    for k, at in enumerate((30, len(data) // 3, len(data) - 30)):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        damaged[f"flip{k}"] = bytes(flipped)
    for k, (name, content) in enumerate(damaged.items()):
        (tmp_path / "w.npz").write_bytes(content)
        for args in (("forward", SEQUENTIAL, "--weights", "w.npz"), ("summary", "w.npz")):
            run = run_nnctl if k == 3 else run_fast
            result = run(*args, input="1,2,3\n", cwd=tmp_path)
            if result.code == 0:  # a flip inside a value can leave a valid file
                assert name.startswith("flip"), name
                continue
            one_error_line(result, "w.npz")


@pytest.mark.parametrize("where", ["file", "stdin"])
def test_truncated_npy_data(tmp_path, where):
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    data = npy_bytes(rows)
    header = len(data) - rows.nbytes
    for n in cuts(data):
        run = run_nnctl if n == len(data) // 2 else run_fast
        if where == "file":
            (tmp_path / "rows.npy").write_bytes(data[:n])
            result = run("forward", SEQUENTIAL, "rows.npy", cwd=tmp_path)
        else:
            result = run("forward", SEQUENTIAL, "--input-format", "npy", input=data[:n])
        line = one_error_line(result)
        assert "npy" in line or (n == 0 and "no data" in line) or "empty" in line or \
            "columns" in line, line
        if where == "stdin" and n > header:  # whole rows before the cut went out first
            assert len(result.out.splitlines()) == (n - header) // 12


def test_corrupted_npy_data(tmp_path):
    data = bytearray(npy_bytes(np.ones((4, 3), np.float32)))
    for at in (0, 6, 8, 12, 20, 30, 60):
        damaged = bytearray(data)
        damaged[at] ^= 0x5A
        (tmp_path / "rows.npy").write_bytes(bytes(damaged))
        result = run_fast("forward", SEQUENTIAL, "rows.npy", "--input-format", "npy",
                          cwd=tmp_path)
        if result.code != 0:
            one_error_line(result, "rows.npy")


def test_truncated_and_corrupted_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({f"c{k}": np.arange(100, dtype=np.float32) + k for k in range(3)})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=10)
    data = sink.getvalue()
    for n in cuts(data):
        run = run_nnctl if n == len(data) // 2 else run_fast
        (tmp_path / "rows.parquet").write_bytes(data[:n])
        one_error_line(run("forward", SEQUENTIAL, "rows.parquet", cwd=tmp_path),
                       "rows.parquet")
        one_error_line(run("forward", SEQUENTIAL, "--input-format", "parquet",
                           input=data[:n]), "<stdin>")
    for at in range(4, len(data) - 8, max(1, len(data) // 40)):
        damaged = bytearray(data)
        damaged[at] ^= 0xFF
        (tmp_path / "rows.parquet").write_bytes(bytes(damaged))
        result = run_fast("forward", SEQUENTIAL, "rows.parquet", cwd=tmp_path)
        if result.code != 0:
            one_error_line(result, "rows.parquet")


# --- huge declared shapes --------------------------------------------------------------------

def npy_header(shape, descr="<f4", fortran=False) -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()


@pytest.mark.parametrize("shape,fortran", [((10 ** 12, 3), False), ((3, 10 ** 12), False),
                                           ((2 ** 40, 3), True), ((10 ** 9, 1, 3), False)])
@pytest.mark.parametrize("where", ["file", "stdin"])
def test_huge_npy_shapes_are_refused_before_allocating(tmp_path, shape, fortran, where):
    data = npy_header(shape, fortran=fortran) + b"\x00" * 1200
    if where == "file":
        (tmp_path / "huge.npy").write_bytes(data)
        result, rss = run_measured("forward", SEQUENTIAL, "huge.npy", cwd=tmp_path)
    else:
        result, rss = run_measured("forward", SEQUENTIAL, "--input-format", "npy", input=data)
    one_error_line(result)
    assert rss < SMALL_MEMORY_KB, rss


def test_huge_weight_shapes_are_refused_before_allocating(tmp_path):
    evil_archive(tmp_path / "w.npz", {"layer1/kernel": npy_header((10 ** 6, 10 ** 6))})
    result, rss = run_measured("forward", SEQUENTIAL, "--weights", "w.npz", input=b"1,2,3\n",
                               cwd=tmp_path)
    one_error_line(result, "w.npz: entry 'layer1/kernel' of shape (1000000, 1000000) needs")
    assert rss < SMALL_MEMORY_KB, rss


def test_huge_specs_and_requests_are_refused_before_allocating(tmp_path):
    (tmp_path / "huge.yaml").write_text(
        "name: huge\ninput: [100000]\nlayers:\n  - {type: Dense, units: 10000000}\n")
    for args in (("build", "huge.yaml", "-o", "m.npz"), ("forward", "huge.yaml"),
                 ("inspect", "huge.yaml"), ("init", "he_normal", "--shape", "1000000,1000000"),
                 ("act", "relu", "--range", "0,1", "--num", str(10 ** 13))):
        result, rss = run_measured(*args, input=b"1\n", cwd=tmp_path)
        one_error_line(result, "needs")
        assert rss < SMALL_MEMORY_KB, (args, rss)
    assert not (tmp_path / "m.npz").exists()
    assert run_nnctl("summary", "huge.yaml", cwd=tmp_path).code == 0  # shapes only: fine


# --- NaN and Inf -----------------------------------------------------------------------------

def warnings_of(result: Result) -> list[str]:
    assert "RuntimeWarning" not in result.err and "Traceback" not in result.err, result.err
    return [line for line in result.err.splitlines() if line]


def clean_and_dirty_rows():
    rows = np.random.default_rng(7).standard_normal((50, 3)).astype(np.float32)
    dirty = rows.copy()
    dirty[4, 0], dirty[9, 2], dirty[30, 1] = np.nan, np.inf, -np.inf
    return rows, dirty


def csv_text(rows) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def test_nan_and_inf_in_data_propagate_with_one_warning(tmp_path):
    from nnctl.forward import run as engine_run
    from nnctl.model import load_model

    model = load_model(str(SEQUENTIAL))
    weights = model.init_weights(0)
    rows, dirty = clean_and_dirty_rows()
    result = run_nnctl("forward", SEQUENTIAL, "--batch-size", "8", input=csv_text(dirty))
    assert result.code == 0
    assert warnings_of(result) == ["nnctl: warning: row 5 of the input holds NaN or Inf, which "
                                   "propagate to its outputs (reported once)"]
    out = np.loadtxt(io.StringIO(result.out), delimiter=",", dtype=np.float32)
    with np.errstate(all="ignore"):
        expected = np.concatenate(list(engine_run(model, weights, [dirty])))
    np.testing.assert_array_equal(out, expected)          # NaN where NaN, the rest unchanged
    assert np.isnan(out[4]).all()
    clean = np.concatenate(list(engine_run(model, weights, [rows])))
    same = np.isfinite(dirty).all(axis=1)
    np.testing.assert_array_equal(out[same], clean[same])
    # the same through .npy, .npz inputs and taps: one warning each
    np.save(tmp_path / "rows.npy", dirty)
    for args in (("rows.npy",), ("rows.npy", "--tap", "layer1"), ("rows.npy", "-o", "o.csv")):
        result = run_nnctl("forward", SEQUENTIAL, *args, cwd=tmp_path)
        assert result.code == 0 and len(warnings_of(result)) == 1, result.err
        assert "row 5 of the input" in result.err


def test_nan_and_inf_in_weights_propagate_with_one_warning(tmp_path):
    from nnctl.model import load_model
    from nnctl.weights import save_weights

    model = load_model(str(SEQUENTIAL))
    weights = model.init_weights(0)
    weights["layer2/bias"][1] = np.inf
    weights["layer3/kernel"][0, 0] = np.nan
    save_weights(tmp_path / "w.npz", weights)
    _, dirty = clean_and_dirty_rows()
    result = run_nnctl("forward", SEQUENTIAL, "--weights", "w.npz", input=csv_text(dirty),
                       cwd=tmp_path)
    assert result.code == 0
    assert warnings_of(result) == ["nnctl: warning: weight 'layer2/bias' holds NaN or Inf "
                                   "values; they propagate to the outputs"]
    out = np.loadtxt(io.StringIO(result.out), delimiter=",", dtype=np.float32)
    assert out.shape == (50, 2) and np.isnan(out).any()
    # a model file carries them too
    save_model_args = ("build", SEQUENTIAL, "--weights", "w.npz", "-o", "m.npz")
    assert run_nnctl(*save_model_args, cwd=tmp_path).code == 0
    result = run_nnctl("forward", "m.npz", input="1,2,3\n", cwd=tmp_path)
    assert result.code == 0 and len(warnings_of(result)) == 1


def test_an_overflow_to_inf_is_warned_once(tmp_path):
    from nnctl.weights import save_weights

    (tmp_path / "sum.yaml").write_text("name: s\ninput: [3]\nlayers:\n"
                                       "  - {type: Dense, units: 1, name: total}\n")
    save_weights(tmp_path / "ones.npz", {"total/kernel": np.ones((3, 1), np.float32),
                                         "total/bias": np.zeros(1, np.float32)})
    result = run_nnctl("forward", "sum.yaml", "--weights", "ones.npz", cwd=tmp_path,
                       input="1,2,3\n3e38,3e38,3e38\n-3e38,-3e38,-3e38\n")
    assert result.code == 0
    assert result.out == "6\ninf\n-inf\n"
    assert warnings_of(result) == ["nnctl: warning: row 2: the outputs overflowed to NaN or "
                                   "Inf (beyond float32's range); they are written as they "
                                   "are (reported once)"]


def test_inf_in_data_is_warned_even_where_the_outputs_are_finite(tmp_path):
    """relu(-inf) is 0: the output hides it, the warning does not."""
    (tmp_path / "r.yaml").write_text("input: [2]\nlayers:\n  - {type: Dense, units: 1, "
                                     "activation: relu, kernel_initializer: ones}\n")
    result = run_nnctl("forward", "r.yaml", cwd=tmp_path, input="1,2\n-inf,-3\nnan,1\n")
    assert result.code == 0
    assert result.out == "3\n0\nnan\n"
    assert warnings_of(result) == ["nnctl: warning: row 2 of the input holds NaN or Inf; its "
                                   "outputs are finite all the same (reported once)"]


def test_finite_data_and_weights_give_no_warning():
    rows, _ = clean_and_dirty_rows()
    result = run_nnctl("forward", SEQUENTIAL, input=csv_text(rows))
    assert result.code == 0 and result.err == ""
