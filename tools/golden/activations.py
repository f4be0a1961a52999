"""Golden data for nnctl.activations: Keras 3's outputs, and exact values to judge them by.

Run with the reference environment (not needed by the tests):

    KERAS_BACKEND=numpy /opt/keras-ref/bin/python tools/golden/activations.py

It has two halves, in two interpreters:

  * Keras (this interpreter): keras.activations.NAME(x, **args) for every activation, a set of
    arguments (defaults and others), float32 and float64 inputs including extremes (+-1e3,
    +-1e30, +-3.4e38, 0, -0, denormals, values next to every threshold); softmax, log_softmax,
    sparsemax and glu on rows, along other axes and on a 3-D tensor;
  * exact (`--exact`, run by MP_PYTHON, default `python3`, which must have mpmath): the same
    functions from their textbook definitions in 60+ digit arithmetic (more for large or tiny
    x), and their derivatives by mpmath's numerical differentiation (NaN at kinks, where the
    one-sided derivatives differ). This is the yardstick where Keras' own float formula loses
    precision (gelu's 1 + erf(x) for x << 0, squareplus's x + sqrt(x^2 + b) for x << 0,
    x - tanh(x) near 0, exp overflowing to inf) and for sparsemax, where Keras 3.15 is wrong
    (keras-team/keras#23425, fixed by #23469).

Writes
  tests/golden/activations.json  keras version, Keras' activation names and signatures, and
                                 the cases: id, name, args, dtype, shape, whether Keras was
                                 accurate, and the indices where it was not;
  tests/golden/activations.npz   per case: `ID/x`, `ID/keras`, `ID/exact`, `ID/dexact`
                                 (derivative: element-wise d/dx; softmax, log_softmax and
                                 sparsemax: the Jacobian's diagonal; glu: d sum(glu(x)) / dx).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT_JSON = ROOT / "tests" / "golden" / "activations.json"
OUT_NPZ = ROOT / "tests" / "golden" / "activations.npz"

ROWWISE = ("softmax", "log_softmax", "sparsemax", "glu")

# Inputs for element-wise functions (every case also gets the values next to its arguments).
SPECIAL = [0.0, -0.0, 1e-40, -1e-40, 1e-30, -1e-30, 1e-7, -1e-7, 1e-3, -1e-3, 0.1, -0.1,
           0.5, -0.5, 1, -1, 2, -2, 3, -3, 5, -5, 6, -6, 10, -10, 20, -20, 30, -30, 88.7, -88.7,
           100, -100, 1e3, -1e3, 1e30, -1e30, 3.4e38, -3.4e38]
NEAR = [s * t + d for t in (0.5, 1, 3, 6) for s in (1, -1) for d in (-1e-3, 1e-3)]
GRID = np.linspace(-8, 8, 33).tolist()
RANDOM = (np.random.default_rng(2024).normal(size=40) * 4).tolist()
FLOAT64_ONLY = [1e300, -1e300, 1e-300, -1e-300]

# name -> list of argument sets (the first is Keras' defaults)
ELEMENTWISE = {
    "relu": [{}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 5.0},
             {"threshold": 1.5}, {"negative_slope": 0.3, "max_value": 4.0, "threshold": 1.0},
             {"negative_slope": 0.5, "threshold": 2.0}, {"negative_slope": 0.2, "max_value": 3.0}],
    "leaky_relu": [{}, {"negative_slope": 0.01}, {"negative_slope": 1.5}],
    "relu6": [{}],
    "elu": [{}, {"alpha": 0.5}, {"alpha": 2.0}],
    "selu": [{}],
    "celu": [{}, {"alpha": 0.5}, {"alpha": 3.0}],
    "gelu": [{}, {"approximate": True}],
    "silu": [{}],
    "swish": [{}],
    "hard_silu": [{}],
    "hard_swish": [{}],
    "mish": [{}],
    "softplus": [{}],
    "softsign": [{}],
    "sigmoid": [{}],
    "hard_sigmoid": [{}],
    "log_sigmoid": [{}],
    "sparse_sigmoid": [{}],
    "tanh": [{}],
    "hard_tanh": [{}],
    "tanh_shrink": [{}],
    "hard_shrink": [{}, {"threshold": 1.0}, {"threshold": 0.0}],
    "soft_shrink": [{}, {"threshold": 2.0}, {"threshold": 0.0}],
    "sparse_plus": [{}],
    "squareplus": [{}, {"b": 1.0}, {"b": 0.0}, {"b": 10.0}],
    "exponential": [{}],
    "linear": [{}],
    "threshold": [{"threshold": 0.5, "default_value": -1.0},
                  {"threshold": -2.0, "default_value": 0.0}],
}


def _rows():
    rng = np.random.default_rng(7)
    scales = np.array([0.1, 1, 3, 10, 30, 100])[:, None]
    return {
        "article": [[0.2, 0.02, 0.15, 1.3, 0.5, 0.06, 1.1, 0.05, 3.75]],
        "large": [[1000, 1000], [-1000, -1000], [1000, -1000], [0, 0]],
        "extremes": [[-3.4e38, 0, 3.4e38], [-1e30, 1e30, 0], [1e-30, -1e-30, 0],
                     [88.7, -88.7, 0]],
        "random": (rng.normal(size=(6, 5)) * scales).tolist(),
        "ties": [[1, 1, 1, 1], [0.5, 0.5, 0, 0], [0, 0.5, 1, 1.5], [0.1, 0.2, 0.3, 0.4]],
    }


def _row_cases():
    rng = np.random.default_rng(11)
    cases = []
    for name in ("softmax", "log_softmax", "sparsemax"):
        for label, rows in _rows().items():
            cases.append((name, {}, label, rows))
        cases.append((name, {"axis": 0}, "matrix", (rng.normal(size=(5, 4)) * 2).tolist()))
        cases.append((name, {"axis": 1}, "tensor", (rng.normal(size=(2, 3, 4)) * 2).tolist()))
    cases.append(("glu", {}, "random", (rng.normal(size=(4, 6)) * 3).tolist()))
    cases.append(("glu", {}, "extremes", [[-3.4e38, 1e30, 3.4e38, -1e30],
                                           [1e3, -1e3, -1e3, 1e3], [0, 1e-30, 0, -1e-30]]))
    cases.append(("glu", {"axis": 0}, "matrix", (rng.normal(size=(4, 3)) * 3).tolist()))
    return cases


def _elementwise_inputs(args, dtype):
    values = SPECIAL + NEAR + GRID + RANDOM + (FLOAT64_ONLY if dtype == "float64" else [])
    for key, v in args.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            values += [v, v - 1e-3, v + 1e-3, -v, -v - 1e-3, -v + 1e-3]
    x = np.array(values, dtype=dtype)
    # dedupe (keeping -0.0 next to 0.0) in a stable order
    seen, keep = set(), []
    for i, v in enumerate(x.tolist()):
        key = (v, math.copysign(1.0, v))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return x[keep]


def cases():
    out = []
    for dtype in ("float32", "float64"):
        for name, arg_sets in ELEMENTWISE.items():
            for k, args in enumerate(arg_sets):
                out.append({"id": f"{name}-{k}-{dtype}", "name": name, "args": args,
                            "dtype": dtype, "x": _elementwise_inputs(args, dtype)})
        for name, args, label, rows in _row_cases():
            tag = "-".join(f"{k}{v}" for k, v in args.items())
            case_id = f"{name}-{label}{'-' + tag if tag else ''}-{dtype}"
            out.append({"id": case_id, "name": name, "args": args, "dtype": dtype,
                        "x": np.array(rows, dtype=dtype)})
    return out


# ---------------------------------------------------------------------------------------------
# Keras half

def keras_half():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    import inspect

    import keras
    from keras.src import activations as keras_activations

    # Keras' numpy backend narrows float64 to float32 in convert_to_tensor, as JAX does by
    # default; lifting that makes the float64 goldens Keras' own formulas in float64.
    from keras.src.backend.common import dtypes as keras_dtypes
    keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"

    all_cases = cases()
    arrays = {}
    for case in all_cases:
        # Keras' numpy backend converts float64 input to floatx unless floatx is float64
        keras.config.set_floatx(case["dtype"])
        fn = keras.activations.get(case["name"])
        with np.errstate(all="ignore"):
            y = np.asarray(fn(case["x"], **case["args"]))
        case["keras_dtype"] = str(y.dtype)  # Keras 3.15's numpy sparsemax returns float64
        y = y.astype(case["x"].dtype)
        arrays[f"{case['id']}/x"] = case["x"]
        arrays[f"{case['id']}/keras"] = y

    signatures = {}
    for name, fn in sorted(keras_activations.ALL_OBJECTS_DICT.items()):
        params = list(inspect.signature(fn).parameters.values())[1:]
        signatures[name] = {p.name: ("<required>" if p.default is inspect.Parameter.empty
                                     else p.default) for p in params}
        signatures[name]["__function__"] = fn.__name__

    meta = {"keras_version": keras.__version__, "backend": keras.backend.backend(),
            "keras_names": sorted(keras_activations.ALL_OBJECTS_DICT),
            "keras_signatures": signatures,
            "cases": [{k: v for k, v in c.items() if k != "x"} for c in all_cases]}

    with tempfile.TemporaryDirectory() as tmp:
        request = pathlib.Path(tmp) / "request.npz"
        answer = pathlib.Path(tmp) / "answer.npz"
        np.savez(request, **{k: v for k, v in arrays.items() if k.endswith("/x")},
                 __cases__=np.frombuffer(json.dumps(meta["cases"]).encode(), np.uint8))
        mp_python = os.environ.get("MP_PYTHON", "python3")
        subprocess.run([mp_python, __file__, "--exact", str(request), str(answer)], check=True)
        with np.load(answer) as exact:
            for key in exact.files:
                arrays[key] = exact[key]

    # Where is Keras' float result not the exact value rounded to the dtype? (tolerances as
    # in tests/test_activations.py)
    for case in meta["cases"]:
        keras_y = arrays[f"{case['id']}/keras"]
        with np.errstate(over="ignore"):  # beyond the dtype's range: inf, as it should be
            exact = arrays[f"{case['id']}/exact"].astype(case["dtype"])
        bad = ~close(keras_y, exact, case["dtype"])
        case["shape"] = list(keras_y.shape)
        case["keras_inaccurate"] = np.flatnonzero(bad).tolist()
    meta["tolerance"] = TOLERANCE
    meta["note"] = ("keras_inaccurate lists flat indices where Keras' float result is not within "
                    "tolerance of the exact value (gelu/squareplus/tanh_shrink cancellation, "
                    "exp overflow, sparsemax keras-team/keras#23425)")

    np.savez_compressed(OUT_NPZ, **arrays)
    OUT_JSON.write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")
    total = sum(len(c["keras_inaccurate"]) for c in meta["cases"])
    print(f"wrote {len(meta['cases'])} cases to {OUT_NPZ.name}/{OUT_JSON.name}; "
          f"{total} values where Keras is not exact:")
    for case in meta["cases"]:
        if case["keras_inaccurate"]:
            x = arrays[f"{case['id']}/x"].ravel()
            where = ", ".join(f"{x[i]:.3g}" for i in case["keras_inaccurate"][:8])
            more = "..." if len(case["keras_inaccurate"]) > 8 else ""
            print(f"  {case['id']}: at x = {where}{more}")


TOLERANCE = {"float32": {"rtol": 1e-5}, "float64": {"rtol": 1e-12}}


def close(actual, expected, dtype):
    """|actual - expected| <= rtol |expected| + tiny, and the same infinities."""
    rtol = TOLERANCE[dtype]["rtol"]
    tiny = float(np.finfo(dtype).tiny)
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    both_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.abs(a - e) <= rtol * np.abs(e) + tiny
    return ok | both_inf


# ---------------------------------------------------------------------------------------------
# Exact half (mpmath, no Keras)

def exact_half(request_path, answer_path):
    import mpmath as mp

    mpf = mp.mpf
    SELU_ALPHA = mpf("1.6732632423543772848170429916717")
    SELU_SCALE = mpf("1.0507009873554804934193349852946")

    def sigmoid(t):
        return 1 / (1 + mp.exp(-t))

    def hard_sigmoid(t):
        return mpf(0) if t <= -3 else mpf(1) if t >= 3 else t / 6 + mpf("0.5")

    def relu(t, negative_slope=0.0, max_value=None, threshold=0.0):
        # Keras' ReLU.static_call, read as mathematics
        ns, th = mpf(negative_slope), mpf(threshold)
        if negative_slope != 0 and max_value is None and threshold == 0:
            return max(t, ns * t)
        y = (t if t > th else mpf(0)) if threshold != 0 else max(t, mpf(0))
        if max_value is not None:
            y = min(max(y, mpf(0)), mpf(max_value))
        return y - ns * max(th - t, mpf(0))

    def gelu(t, approximate=False):
        if approximate:
            u = mp.sqrt(2 / mp.pi) * (t + mpf("0.044715") * t ** 3)
            return t * sigmoid(2 * u)  # = 0.5 t (1 + tanh(u)), without the cancellation
        if abs(t) > 1e8:  # mpmath's erfc gives up there; Phi is 0 or 1 to any precision
            return t if t > 0 else mpf(0) * t
        return t * mp.erfc(-t / mp.sqrt(2)) / 2

    def squareplus(t, b=4):
        return (t + mp.sqrt(t * t + b)) / 2

    def threshold(t, threshold, default_value):
        return t if t > threshold else mpf(default_value)

    F = {
        "relu": relu,
        "leaky_relu": lambda t, negative_slope=0.2: max(t, mpf(negative_slope) * t),
        "relu6": lambda t: min(max(t, mpf(0)), mpf(6)),
        "elu": lambda t, alpha=1.0: t if t >= 0 else alpha * mp.expm1(t),
        "selu": lambda t: SELU_SCALE * (t if t >= 0 else SELU_ALPHA * mp.expm1(t)),
        "celu": lambda t, alpha=1.0: max(t, mpf(0)) + alpha * mp.expm1(min(t, mpf(0)) / alpha),
        "gelu": gelu,
        "silu": lambda t: t * sigmoid(t),
        "swish": lambda t: t * sigmoid(t),
        "hard_silu": lambda t: t * hard_sigmoid(t),
        "hard_swish": lambda t: t * hard_sigmoid(t),
        "mish": lambda t: t * mp.tanh(mp.log1p(mp.exp(t))),
        "softplus": lambda t: mp.log1p(mp.exp(t)),
        "softsign": lambda t: t / (1 + abs(t)),
        "sigmoid": sigmoid,
        "hard_sigmoid": hard_sigmoid,
        "log_sigmoid": lambda t: -mp.log1p(mp.exp(-t)),
        "sparse_sigmoid": lambda t: mpf(0) if t <= -1 else mpf(1) if t >= 1 else (t + 1) / 2,
        "tanh": mp.tanh,
        "hard_tanh": lambda t: min(max(t, mpf(-1)), mpf(1)),
        "tanh_shrink": lambda t: t - mp.tanh(t),
        "hard_shrink": lambda t, threshold=0.5: t if abs(t) > threshold else mpf(0),
        "soft_shrink": lambda t, threshold=0.5: (t - threshold if t > threshold else
                                                 t + threshold if t < -threshold else mpf(0)),
        "sparse_plus": lambda t: mpf(0) if t <= -1 else (t + 1) ** 2 / 4 if t < 1 else t,
        "squareplus": squareplus,
        "exponential": mp.exp,
        "linear": lambda t: t,
        "threshold": threshold,
    }

    def softmax(v):
        m = max(v)
        e = [mp.exp(t - m) for t in v]
        s = mp.fsum(e)
        return [t / s for t in e]

    def log_softmax(v):
        m = max(v)
        lse = m + mp.log(mp.fsum(mp.exp(t - m) for t in v))
        return [t - lse for t in v]

    def sparsemax(v):
        # Martins & Astudillo (2016), Algorithm 1
        z = sorted(v, reverse=True)
        k, total, cum = 0, mpf(0), mpf(0)
        for j, zj in enumerate(z, 1):
            cum += zj
            if 1 + j * zj > cum:
                k, total = j, cum
        tau = (total - 1) / k
        return [max(t - tau, mpf(0)) for t in v]

    def glu(v):
        n = len(v) // 2
        return [v[i] * sigmoid(v[n + i]) for i in range(n)]

    VECTOR = {"softmax": softmax, "log_softmax": log_softmax, "sparsemax": sparsemax,
              "glu": glu}

    def digits(values):
        # Enough digits that x + h != x, that x - tanh(x) and x + sqrt(x^2 + b) do not cancel,
        # and that a derivative as small as float64 can hold (sech(88.7)^2 ~ 4e-77, beside
        # tanh ~ 1) survives numerical differentiation.
        m = max([abs(float(mp.log10(abs(t)))) for t in values if t != 0] + [0])
        return int(340 + 2 * m)

    def to_float(y):
        return float(y)  # inf beyond float64, 0 below it

    def derivative(f, t):
        """f'(t), NaN where the one-sided derivatives differ (a kink or a jump)."""
        d = mp.diff(f, t)
        left, right = mp.diff(f, t, direction=-1), mp.diff(f, t, direction=1)
        scale = max(abs(left), abs(right), mpf(1e-300))
        if abs(left - right) > mpf("1e-12") * scale:
            return math.nan
        return to_float(d)

    with np.load(request_path) as request:
        case_list = json.loads(request["__cases__"].tobytes())
        inputs = {c["id"]: request[f"{c['id']}/x"] for c in case_list}

    answer = {}
    for case in case_list:
        x = inputs[case["id"]]
        args = case["args"]
        if case["name"] in VECTOR:
            vec = VECTOR[case["name"]]
            axis = args.get("axis", -1)
            moved = np.moveaxis(x, axis, -1)
            half = case["name"] == "glu"
            out_shape = moved.shape[:-1] + ((moved.shape[-1] // 2,) if half else moved.shape[-1:])
            y = np.empty(out_shape, np.float64)
            d = np.empty(moved.shape, np.float64)
            for index in np.ndindex(moved.shape[:-1]):
                row = [mpf(float(t)) for t in moved[index]]
                with mp.workdps(digits(row)):
                    y[index] = [to_float(t) for t in vec(row)]
                    for i in range(len(row)):
                        def coordinate(t, i=i):
                            r = list(row)
                            r[i] = t
                            out = vec(r)
                            return mp.fsum(out) if half else out[i]
                        d[index + (i,)] = derivative(coordinate, row[i])
            answer[f"{case['id']}/exact"] = np.moveaxis(y, -1, axis)
            answer[f"{case['id']}/dexact"] = np.moveaxis(d, -1, axis)
        else:
            f = F[case["name"]]
            y = np.empty(x.shape, np.float64)
            d = np.empty(x.shape, np.float64)
            for i, value in enumerate(x.tolist()):
                t = mpf(value)
                with mp.workdps(digits([t])):
                    y[i] = to_float(f(t, **args))
                    d[i] = derivative(lambda s: f(s, **args), t)
            answer[f"{case['id']}/exact"] = y
            answer[f"{case['id']}/dexact"] = d
        print(f"  exact: {case['id']}", file=sys.stderr)
    np.savez(answer_path, **answer)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--exact":
        exact_half(sys.argv[2], sys.argv[3])
    else:
        keras_half()
