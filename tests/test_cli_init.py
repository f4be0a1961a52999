"""`nnctl init`, run as a user runs it: piped, on a terminal (a pty), and with bad input."""
from __future__ import annotations

import io
import json
import math
import re
import os
import pathlib
import pty
import resource
import select
import subprocess
import sys

import numpy as np
import pytest

from nnctl.floatfmt import float_text

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "initializers.json").read_text())
ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}


def run(*args, preexec_fn=None, timeout=60):
    """`python -m nnctl ARGS` with stdout and stderr piped."""
    return subprocess.run([sys.executable, "-m", "nnctl", "init", *map(str, args)],
                          capture_output=True, env=ENV, timeout=timeout, preexec_fn=preexec_fn)


def run_tty(*args, columns=100, lines=40) -> str:
    """Run on a pseudo-terminal (stdout and stderr both), as in an interactive shell."""
    main, secondary = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**ENV, "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "init", *map(str, args)],
                            stdin=secondary, stdout=secondary, stderr=secondary, env=env,
                            close_fds=True)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    assert proc.returncode == 0, b"".join(chunks)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def golden(class_name, shape, seed, dtype="float32"):
    for case in GOLDEN["seeded"]:
        if (case["class_name"], tuple(case["shape"]), case["seed"], case["dtype"], case["args"]) \
                == (class_name, shape, seed, dtype, {}):
            return np.array(case["values"], dtype=dtype).reshape(shape)
    raise KeyError((class_name, shape, seed, dtype))


# --- values ------------------------------------------------------------------------------------

def test_piped_output_is_csv_with_keras_values():
    result = run("he_normal", "--shape", "9,1", "--seed", 7)
    assert result.returncode == 0 and result.stderr == b""
    expected = golden("HeNormal", (9, 1), 7)
    assert result.stdout.decode() == "".join(float_text(v) + "\n" for v in expected.ravel())


def test_text_format_prints_like_tensorflow():
    out = run("glorot_normal", "--shape", "9,1", "--seed", 7, "--format", "text").stdout.decode()
    assert out.startswith("tf.Tensor(\n[[") and out.endswith("]], shape=(9, 1), dtype=float32)\n")
    numbers = [float(line.strip(" []")) for line in out.splitlines()[1:]
               if not line.startswith("tf") and line.strip(" []")
               for line in [line.split("]]")[0]]]
    np.testing.assert_array_equal(np.float32(numbers), golden("GlorotNormal", (9, 1), 7).ravel())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_npy_and_json_formats(dtype):
    npy = run("he_uniform", "--shape", "9,1", "--seed", 7, "--dtype", dtype, "-f", "npy").stdout
    array = np.load(io.BytesIO(npy), allow_pickle=False)
    assert array.dtype == np.dtype(dtype) and array.shape == (9, 1)
    np.testing.assert_array_equal(array, golden("HeUniform", (9, 1), 7, dtype))
    text = run("he_uniform", "--shape", "9,1", "--seed", 7, "--dtype", dtype, "-f", "json").stdout
    assert np.array(json.loads(text), dtype=dtype).tobytes() == array.tobytes()


@pytest.mark.parametrize("shape_text, shape", [("9", (9,)), ("9,1", (9, 1)), ("3,3,16,32", (3, 3, 16, 32)),
                                               ("(2, 5)", (2, 5))])
def test_shapes(shape_text, shape):
    npy = run("lecun_normal", "--shape", shape_text, "--seed", 1, "-f", "npy").stdout
    assert np.load(io.BytesIO(npy)).shape == shape


def test_params_and_seed():
    a = run("variance_scaling", "--shape", "4,6", "--seed", 3, "-p", "scale=2", "-p", "mode=fan_out",
            "--param", "distribution=uniform", "-f", "npy").stdout
    values = np.load(io.BytesIO(a))
    limit = math.sqrt(3 * 2 / 6)
    assert np.abs(values).max() <= np.float32(limit)
    same = run("variance_scaling", "--shape", "4,6", "-p", "seed=3", "-p", "scale=2", "-p",
               "mode=fan_out", "--param", "distribution=uniform", "-f", "npy").stdout
    assert same == a
    other = run("variance_scaling", "--shape", "4,6", "--seed", 4, "-p", "scale=2", "-p",
                "mode=fan_out", "--param", "distribution=uniform", "-f", "npy").stdout
    assert other != a


def test_without_seed_two_runs_differ_and_piped_stderr_stays_quiet():
    first, second = run("random_normal", "--shape", "5"), run("random_normal", "--shape", "5")
    assert first.stdout != second.stdout
    assert first.stderr == b"" and second.stderr == b""


def test_deterministic_initializers():
    out = run("identity", "--shape", "2,3", "-p", "gain=2").stdout.decode()
    assert out == "2,0,0\n0,2,0\n"
    assert run("constant", "--shape", "2", "-p", "value=-0.5").stdout.decode() == "-0.5\n-0.5\n"


# --- --stats and --plot -------------------------------------------------------------------------

def _stats_rows(text):
    rows = {}
    for line in text.splitlines():
        parts = [p for p in re.split(r"[,\s]+", line) if p]  # CSV (piped) or the table
        if parts and parts[0] in ("mean", "std", "min", "max", "fan_in", "fan_out"):
            rows[parts[0]] = [float(p) for p in parts[1:]]
    return rows


def test_stats_he_normal_9_1_shows_sample_std_beside_sqrt_2_over_9():
    result = run("he_normal", "--shape", "9,1", "--seed", 0, "--stats")
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "\x1b[" not in out and "truncated normal" in out
    assert out.startswith("statistic,sample,theory\n")  # piped: CSV, as the values
    rows = _stats_rows(out)
    sample_std, theory_std = rows["std"]
    assert theory_std == pytest.approx(math.sqrt(2 / 9), abs=5e-7)
    values = golden("HeNormal", (9, 1), 0).astype(np.float64)
    assert sample_std == pytest.approx(values.std(), rel=1e-5)
    # 9 values: the sample std is within its sampling error (about 25%) of sqrt(2/9).
    assert abs(sample_std - theory_std) < 0.35 * theory_std
    bound = 2 * math.sqrt(2 / 9) / 0.87962566103423978
    assert rows["min"] == pytest.approx([values.min(), -bound], rel=1e-5)
    assert rows["max"] == pytest.approx([values.max(), bound], rel=1e-5)
    assert rows["fan_in"] == [9] and rows["fan_out"] == [1]


def test_stats_json_for_a_large_sample_and_conv_fans():
    report = json.loads(run("he_normal", "--shape", "9,4000", "--seed", 1, "--stats", "-f", "json").stdout)
    assert report["sample"]["count"] == 36000
    assert report["sample"]["std"] == pytest.approx(math.sqrt(2 / 9), rel=0.02)
    assert report["theory"]["std"] == pytest.approx(math.sqrt(2 / 9), rel=1e-12)
    assert report["initializer"] == {"type": "he_normal", "seed": 1, "input_axes": None,
                                     "output_axes": None}
    conv = json.loads(run("glorot_uniform", "--shape", "3,3,16,32", "--stats", "-f", "json").stdout)
    assert (conv["theory"]["fan_in"], conv["theory"]["fan_out"]) == (144, 288)
    limit = math.sqrt(6 / (144 + 288))
    assert conv["theory"]["bounds"] == pytest.approx([-limit, limit])
    assert -limit <= conv["sample"]["min"] and conv["sample"]["max"] <= limit


def test_stats_csv():
    out = run("random_uniform", "--shape", "100", "--seed", 2, "--stats", "-f", "csv").stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "statistic,sample,theory"
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert rows["min"][1] == "-0.05" and rows["max"][1] == "0.05" and rows["mean"][1] == "0"


def test_plot_piped_is_plain_text_and_plotext_is_only_imported_for_plot():
    result = run("he_normal", "--shape", "9,500", "--seed", 3, "--plot")
    out = result.stdout.decode()
    assert result.returncode == 0 and "\x1b[" not in out
    assert "theoretical density" in out and "┌" in out and "┘" in out
    code = ("import sys; from nnctl.cli.app import run; run(['init', 'he_normal', '--shape', '2', "
            "'--seed', '1', '--stats']); print('plotext' in sys.modules)")
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert check.stdout.splitlines()[-1] == "False"


def test_stats_and_plot_together():
    out = run("orthogonal", "--shape", "30,20", "--seed", 3, "--stats", "--plot").stdout.decode()
    assert "orthogonal" in out and "dim" in out and "theoretical density" in out


# --- on a terminal ------------------------------------------------------------------------------

def test_terminal_default_is_tensor_text_and_the_seed_is_told():
    out = run_tty("he_normal", "--shape", "9,1")
    assert "nnctl: seed " in out and "pass --seed" in out
    assert "tf.Tensor(" in out and "shape=(9, 1), dtype=float32)" in out


def test_terminal_stats_is_a_rich_table():
    out = run_tty("he_normal", "--shape", "9,1", "--seed", 0, "--stats")
    assert "─" in out and "statistic" in out and "0.471405" in out
    assert "nnctl: seed" not in out  # the user chose it


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["he_normal", "--shape", "0,-1"], "--shape 0,-1: dimensions must be positive integers, got 0"),
    (["he_normal", "--shape", "9,x"], "--shape 9,x: 'x' is not an integer"),
    (["he_normall", "--shape", "9,1"], "unknown initializer 'he_normall' (did you mean 'he_normal'?)"),
    (["tf.keras.initializers.glorot_normal", "--shape", "9,1"],   # the article's code
     "unknown initializer 'tf.keras.initializers.glorot_normal' (did you mean 'glorot_normal'?)"),
    (["random_normal", "--shape", "9", "--param", "stddev=-1"], "stddev must be >= 0, got stddev=-1"),
    (["random_uniform", "--shape", "9", "-p", "minval=1", "-p", "maxval=0"],
     "minval must be <= maxval, got minval=1.0, maxval=0.0"),
    (["variance_scaling", "--shape", "9", "-p", "mode=fan_inn"],
     "unknown mode 'fan_inn' (did you mean 'fan_in'?)"),
    (["variance_scaling", "--shape", "9", "-p", "scale=0"], "scale must be positive, got scale=0.0"),
    (["random_normal", "--shape", "9", "-p", "stdev=1"], "unknown argument 'stdev' (did you mean 'stddev'?)"),
    (["he_normal", "--shape", "9", "-p", "seed"], "expected KEY=VALUE"),
    (["he_normal", "--shape", "9", "-p", "seed=-1"], "seed must be a non-negative integer, got seed=-1"),
    (["he_normal", "--shape", "9", "-p", "type=zeros"],
     "--param type=zeros: the initializer is NAME ('he_normal'), not a --param"),
    (["random_normal", "--shape", "9", "-p", "stddev=None"], "stddev must be a number, got None"),
    (["he_normal", "--shape", "9", "-p", "input_axes=[0"], "--param input_axes=[0: not valid JSON"),
    (["he_normal", "--shape", "9", "--seed", "1", "-p", "seed=2"], "--seed 1 and --param seed=2 disagree"),
    (["identity", "--shape", "3,3,3"], "only 2-D shapes"),
    (["orthogonal", "--shape", "5"], "at least 2-D"),
    # draws beyond the dtype: an error as `build` gives, not inf and NumPy's RuntimeWarning
    (["random_normal", "--shape", "9", "--seed", "0", "-p", "stddev=1e300"],
     "random_normal: the values drawn are not finite (beyond 3.4e+38, the largest float32)"),
    (["random_uniform", "--shape", "9", "--seed", "0", "-p", "minval=-1e39", "-p", "maxval=1e39"],
     "random_uniform: the values drawn are not finite"),
    (["random_normal", "--shape", "9", "--seed", "0", "--dtype", "float64",
      "-p", "stddev=1e308", "-p", "mean=1e308"], "(beyond 1.8e+308, the largest float64)"),
])
def test_bad_input_is_one_error_line_and_exit_1(args, message):
    result = run(*args)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert result.stdout == b""
    assert err.count("\n") == 1 and err.startswith("nnctl: error: ") and message in err, err


def test_too_large_shape_is_refused_before_allocating():
    # With the address space capped at 1 GiB, any attempt to allocate 4 TB would die with a
    # MemoryError ("out of memory"); the refusal must come first, and fast.
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = run("he_normal", "--shape", "1000000,1000000", preexec_fn=cap)
    err = result.stderr.decode()
    assert result.returncode == 1 and err.count("\n") == 1
    assert "shape (1000000, 1000000) needs 4.00 TB" in err


@pytest.mark.parametrize("args, message", [
    (["--shape", "9", "--dtype", "float16"], "Invalid value for '--dtype'"),
    (["--format", "csv"], "Missing option '--shape'"),
    (["--shape", "9", "--stats", "-f", "npy"], "--format npy writes only the values"),
    (["--shape", "9", "--seed", "-1"], "Invalid value for '--seed': must be at least 0 (got -1) "
                                       "(see 'nnctl init --help')"),
    # the usage is checked before the values: a bad --shape does not hide it
    (["--shape", "0", "--plot", "-f", "csv"], "--plot draws a chart"),
])
def test_usage_errors_exit_2(args, message):
    result = run("he_normal", *args)
    err = result.stderr.decode()
    assert result.returncode == 2 and result.stdout == b""
    assert err.count("\n") == 1 and err.startswith("nnctl: error: ") and message in err, err


def test_param_none_is_keras_none():
    """-p seed=None is HeNormal(seed=None): no seed of its own, so --seed decides (or a random
    one is drawn); input_axes=None is the default fans."""
    seeded = run("he_normal", "--shape", "3,2", "--seed", 1).stdout
    assert run("he_normal", "--shape", "3,2", "--seed", 1, "-p", "seed=None").stdout == seeded
    assert run("he_normal", "--shape", "3,2", "--seed", 1, "-p", "seed=null").stdout == seeded
    assert run("he_normal", "--shape", "3,2", "--seed", 1, "-p", "input_axes=None").stdout == seeded
    drawn = run("he_normal", "--shape", "3,2", "-p", "seed=None")
    assert drawn.returncode == 0 and len(drawn.stdout.decode().splitlines()) == 3


def test_param_json_lists_and_numbers():
    seeded = run("he_normal", "--shape", "3,2", "--seed", 1).stdout
    # the default fans of a 2-D kernel, spelt out as JSON lists: the same values
    same = run("he_normal", "--shape", "3,2", "--seed", 1, "-p", "input_axes=[0]",
               "-p", "output_axes=[1]")
    assert same.returncode == 0 and same.stdout == seeded
    swapped = run("he_normal", "--shape", "3,2", "--seed", 1, "-p", "input_axes=[1]",
                  "-p", "output_axes=[0]")
    assert swapped.returncode == 0 and swapped.stdout != seeded
    # numbers in the forms act reads too
    assert run("constant", "--shape", "1", "-p", "value=1e-1").stdout == b"0.1\n"
    assert run("constant", "--shape", "1", "-p", "value=.5").stdout == b"0.5\n"


def test_closed_pipe_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m nnctl init he_normal --shape 200000,10 --seed 1 | head -1",
                          shell=True, capture_output=True, env=ENV, timeout=60)
    assert proc.stderr == b"" and len(proc.stdout.splitlines()) == 1
