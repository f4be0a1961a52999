"""nnctl.activations against Keras 3 (tests/golden, made by tools/golden/activations.py),
against exact values, and against finite differences."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from nnctl import activations
from nnctl.errors import DataError, ParameterError

from conftest import GOLDEN

META = json.loads((GOLDEN / "activations.json").read_text())
ARRAYS = dict(np.load(GOLDEN / "activations.npz"))
CASES = META["cases"]
RTOL = {"float32": 1e-5, "float64": 1e-12}


def close(actual, expected, dtype, rtol=None):
    """|actual - expected| <= rtol |expected| + tiny (denormals aside), same infinities."""
    rtol = RTOL[dtype] if rtol is None else rtol
    tiny = float(np.finfo(dtype).tiny)
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    both_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    with np.errstate(invalid="ignore", over="ignore"):
        return (np.abs(a - e) <= rtol * np.abs(e) + tiny) | both_inf


def report(x, actual, expected, ok):
    bad = np.flatnonzero(~np.asarray(ok).ravel())[:6]
    return "; ".join(f"x={x.ravel()[i]!r}: got {actual.ravel()[i]!r}, want "
                     f"{expected.ravel()[i]!r}" for i in bad)


def bound(case):
    return activations.get({"type": case["name"], **case["args"]})


@pytest.fixture(autouse=True)
def no_warnings():
    """Every computation here must run without a single floating-point warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            yield


# ---------------------------------------------------------------------------------------------
# Names and arguments are Keras'

def test_every_keras_name_and_only_those():
    ours = set()
    for row in activations.catalog():
        ours.add(row["name"])
        ours.update(row["aliases"])
    assert ours == set(META["keras_names"])


@pytest.mark.parametrize("name", sorted(META["keras_signatures"]))
def test_arguments_and_defaults_are_keras(name):
    keras_args = dict(META["keras_signatures"][name])
    function = keras_args.pop("__function__")
    definition = activations.ACTIVATIONS.get(name)
    assert definition.name == function  # aliases resolve to Keras' function
    ours = {k: ("<required>" if v is activations.REQUIRED else v)
            for k, v in definition.params.items()}
    assert ours == keras_args
    assert [type(v) for v in ours.values()] == [type(v) for v in keras_args.values()]


def test_the_golden_covers_every_activation():
    assert {c["name"] for c in CASES} == set(META["keras_names"])


# ---------------------------------------------------------------------------------------------
# Values: Keras 3 where Keras is accurate, the exact value everywhere (extremes included)

@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_keras(case):
    x = ARRAYS[f"{case['id']}/x"]
    keras_y = ARRAYS[f"{case['id']}/keras"]
    y = bound(case)(x)
    assert y.dtype == x.dtype and y.shape == keras_y.shape
    ok = close(y, keras_y, case["dtype"]).ravel()
    # Where Keras' own float formula is not within tolerance of the exact value (listed by
    # the generator; see its docstring), the exact value is the reference instead.
    ok[case["keras_inaccurate"]] = True
    assert ok.all(), report(x, y, keras_y, ok)


def test_keras_is_the_reference_almost_everywhere():
    # The exemptions above stay few and where they are expected: gelu, squareplus and
    # tanh_shrink cancellation, log_softmax's top value, and Keras 3.15's sparsemax bug.
    exempt = {c["name"] for c in CASES if c["keras_inaccurate"]}
    assert exempt <= {"gelu", "squareplus", "tanh_shrink", "log_softmax", "sparsemax"}
    total = sum(np.prod(c["shape"]) for c in CASES)
    flagged = sum(len(c["keras_inaccurate"]) for c in CASES if c["name"] != "sparsemax")
    assert flagged < 0.02 * total


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_exact_values(case):
    x = ARRAYS[f"{case['id']}/x"]
    with np.errstate(over="ignore"):
        exact = ARRAYS[f"{case['id']}/exact"].astype(case["dtype"])
    y = bound(case)(x)
    ok = close(y, exact, case["dtype"])
    assert ok.all(), report(x, y, exact, ok)


def _derivative_rtol(case):
    # Derivatives are computed in the input's dtype from the function's own pieces
    # (e.g. sigmoid(x) sigmoid(-x)); a few ulp more than the function itself.
    return 4e-5 if case["dtype"] == "float32" else 1e-10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_derivative_matches_exact_derivative(case):
    x = ARRAYS[f"{case['id']}/x"]
    d_exact = ARRAYS[f"{case['id']}/dexact"]
    d = bound(case).derivative(x)
    assert d.dtype == x.dtype and d.shape == x.shape
    smooth = ~np.isnan(d_exact)  # NaN: a kink or a jump at x, no derivative
    assert smooth.sum() > 0.5 * smooth.size
    with np.errstate(over="ignore"):
        expected = d_exact.astype(case["dtype"])
    ok = close(d, expected, case["dtype"], _derivative_rtol(case)) | ~smooth
    assert ok.all(), report(x, d, expected, ok)


# ---------------------------------------------------------------------------------------------
# Derivatives against central differences in float64, away from kinks

KINKS = {
    "relu": [0.0], "leaky_relu": [0.0], "relu6": [0.0, 6.0], "elu": [0.0], "selu": [0.0],
    "hard_sigmoid": [-3.0, 3.0], "hard_silu": [-3.0, 3.0], "hard_tanh": [-1.0, 1.0],
    "sparse_sigmoid": [-1.0, 1.0], "sparse_plus": [-1.0, 1.0], "hard_shrink": [-0.5, 0.5],
    "soft_shrink": [-0.5, 0.5], "threshold": [0.3],
}
ELEMENTWISE_ARGS = {"relu": [{}, {"negative_slope": 0.1, "max_value": 4.0, "threshold": 1.0}],
                    "elu": [{"alpha": 0.5}], "celu": [{"alpha": 0.7}],
                    "gelu": [{}, {"approximate": True}], "squareplus": [{"b": 2.0}],
                    "threshold": [{"threshold": 0.3, "default_value": -2.0}]}


def _elementwise_cases():
    for row in activations.catalog():
        if row["name"] in ("softmax", "log_softmax", "sparsemax", "glu"):
            continue
        for args in ELEMENTWISE_ARGS.get(row["name"], [{}]):
            yield pytest.param(row["name"], args, id=f"{row['name']}-{args}")


@pytest.mark.parametrize("name,args", list(_elementwise_cases()))
def test_derivative_matches_central_differences(name, args):
    act = activations.get({"type": name, **args})
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-8, 8, 300), rng.normal(0, 0.5, 100)])
    kinks = KINKS.get(name, []) + [v for k, v in args.items()
                                   if k in ("threshold", "max_value")]
    for k in kinks:
        x = x[np.abs(x - k) > 1e-3]
        x = x[np.abs(x + k) > 1e-3] if name in ("hard_shrink", "soft_shrink") else x
    h = 1e-6
    numeric = (act(x + h) - act(x - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(x), numeric, rtol=1e-6, atol=1e-8)
    g = rng.normal(size=x.shape)
    np.testing.assert_allclose(act.backward(x, g), g * act.derivative(x), rtol=1e-15)


def _numeric_gradient(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[index] = h
        grad[index] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


VECTOR_CASES = [("softmax", {}, (4, 5)), ("softmax", {"axis": 0}, (4, 5)),
                ("softmax", {"axis": 1}, (2, 3, 4)), ("log_softmax", {}, (3, 6)),
                ("log_softmax", {"axis": 0}, (5, 2)), ("sparsemax", {}, (4, 5)),
                ("sparsemax", {"axis": 0}, (5, 3)), ("glu", {}, (3, 6)),
                ("glu", {"axis": 0}, (4, 3)), ("glu", {"axis": 1}, (2, 4, 3))]


@pytest.mark.parametrize("name,args,shape", VECTOR_CASES)
def test_backward_is_the_vector_jacobian_product(name, args, shape):
    act = activations.get({"type": name, **args})
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape) * (0.3 if name == "sparsemax" else 2)
    g = rng.normal(size=act(x).shape)
    numeric = _numeric_gradient(lambda t: np.sum(g * act(t)), x)
    np.testing.assert_allclose(act.backward(x, g), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,args,shape", VECTOR_CASES)
def test_documented_derivative_of_vector_functions(name, args, shape):
    act = activations.get({"type": name, **args})
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape) * (0.3 if name == "sparsemax" else 2)
    if name == "glu":  # d sum(glu(x)) / dx
        expected = _numeric_gradient(lambda t: np.sum(act(t)), x)
    else:  # the Jacobian's diagonal: d y_i / d x_i
        expected = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[index] = 1e-6
            expected[index] = (act(x + e)[index] - act(x - e)[index]) / 2e-6
    np.testing.assert_allclose(act.derivative(x), expected, rtol=1e-6, atol=1e-8)
    assert name in activations.DERIVATIVE_NOTES


# ---------------------------------------------------------------------------------------------
# Stability and dtypes

EXTREMES = [-3.4e38, -1e30, -1e3, -100, -1, -1e-30, 0, 1e-30, 1, 100, 1e3, 1e30, 3.4e38]


@pytest.mark.parametrize("name", [n for n in activations.names() if n != "threshold"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_extremes_give_no_warning_and_keep_the_dtype(name, dtype):
    act = activations.get(name)
    with np.errstate(over="ignore"):
        x = np.array(EXTREMES[:12], dtype=dtype)  # float16 turns the huge ones into inf
    x = x[np.isfinite(x)]
    x = x[: len(x) // 2 * 2]  # glu: an even number
    y, d, b = act(x), act.derivative(x), act.backward(x, np.ones_like(act(x)))
    assert y.dtype == d.dtype == b.dtype == np.dtype(dtype)
    finite_math = name not in ("exponential", "selu", "log_softmax")
    if finite_math and dtype != "float16":
        assert np.isfinite(y).all(), y
    assert not np.isnan(y).any() and not np.isnan(d).any() and not np.isnan(b).any()


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_formulas_make_no_invalid_operation_on_finite_extremes(name, dtype):
    # The bound activation silences IEEE warnings (for inf and nan inputs); its formulas
    # themselves must not divide by zero or make a nan from finite numbers.
    definition = activations.ACTIVATIONS.get(name)
    params = {"threshold": 0.5, "default_value": -1.0} if name == "threshold" else {}
    params = activations.get({"type": name, **params}).params
    x = np.array(EXTREMES + [-0.0], dtype=dtype)
    x = x[: len(x) // 2 * 2]
    with np.errstate(invalid="raise", divide="raise", over="ignore", under="ignore"):
        definition.forward(x, **params)
        definition.derivative(x, **params)
        if definition.backward is not None:
            g = np.ones_like(definition.forward(x, **params))
            definition.backward(x, g, **params)


def test_the_issue_examples():
    assert activations.get("sigmoid")(np.float32(-1000)) == 0
    assert activations.get("sigmoid")(np.float32(1000)) == 1
    np.testing.assert_array_equal(activations.get("softmax")(np.array([1000.0, 1000.0])),
                                  [0.5, 0.5])
    assert activations.get("softplus")(np.float64(100)) == 100
    assert activations.get("softplus")(np.float32(-100)) > 0


def test_article_softmax_prints_the_article_numbers():
    x = np.array([0.2, 0.02, 0.15, 1.3, 0.5, 0.06, 1.1, 0.05, 3.75], np.float32)
    y = activations.get("softmax")(x)
    assert str(y) == ("[0.02167152 0.01810157 0.02061459 0.06510484 0.02925349 0.01884031\n"
                      " 0.05330333 0.01865285 0.75445753]")


def test_integers_become_float32_and_scalars_stay_scalars():
    assert activations.get("relu")([-1, 2]).dtype == np.float32
    assert activations.get("softmax")(np.float64(3.0)).shape == ()
    assert activations.get("softmax")(np.float64(3.0)) == 1.0
    assert activations.get("tanh")(0.5).shape == ()


def test_relu_keras_docstring_examples():
    x = np.array([-10, -5, 0.0, 5, 10])
    relu = activations.get
    np.testing.assert_array_equal(relu("relu")(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(relu({"type": "relu", "negative_slope": 0.5})(x),
                                  [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(relu({"type": "relu", "max_value": 5.0})(x), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(relu({"type": "relu", "threshold": 5.0})(x), [0, 0, 0, 0, 10])


def test_sparsemax_is_a_projection_on_the_simplex():
    # Keras 3.15 gets this wrong (keras-team/keras#23425): [0, 0, 0.25]
    y = activations.get("sparsemax")(np.array([[0.0, 0.5, 1.0]], np.float32))
    np.testing.assert_allclose(y, [[0, 0.25, 0.75]])
    rng = np.random.default_rng(0)
    y = activations.get("sparsemax")(rng.normal(size=(50, 7)))
    np.testing.assert_allclose(y.sum(axis=-1), 1, rtol=1e-12)
    assert (y >= 0).all()


# ---------------------------------------------------------------------------------------------
# get(), arguments, configs

def test_get_forms():
    assert activations.get(None).name == "linear"
    assert activations.get("ReLU").name == "relu"
    assert activations.get("swish").name == "silu"
    assert activations.get("HardSwish").name == "hard_silu"
    act = activations.get({"type": "leaky_relu", "negative_slope": 0.1})
    assert act.params == {"negative_slope": 0.1}
    assert activations.get(act) is act
    np.testing.assert_allclose(act(np.array([-1.0, 2.0])), [-0.1, 2.0])


@pytest.mark.parametrize("identifier,message", [
    ("relux", "unknown activation 'relux' (did you mean 'relu'?)"),
    ("zzzz", "unknown activation 'zzzz' (known: relu, leaky_relu,"),
    ({"type": "relu", "slope": 1}, "activation 'relu' has no argument 'slope'"),
    ({"type": "relu", "negative_slop": 1}, "(did you mean 'negative_slope'?); its arguments: "
                                           "negative_slope, max_value, threshold"),
    ({"type": "sigmoid", "alpha": 1}, "activation 'sigmoid' takes no arguments, got 'alpha'"),
    ({"type": "relu", "max_value": -1}, "max_value must not be negative, got max_value=-1"),
    ({"type": "relu", "negative_slope": -0.1}, "negative_slope must not be negative"),
    ({"type": "relu", "threshold": -1.0}, "threshold must not be negative"),
    ({"type": "leaky_relu", "negative_slope": -0.2}, "negative_slope must not be negative"),
    ({"type": "relu", "max_value": "six"}, "max_value must be a number or null, got "
                                           "max_value='six'"),
    ({"type": "elu", "alpha": True}, "alpha must be a number, got alpha=True"),
    ({"type": "elu", "alpha": float("nan")}, "alpha must be finite"),
    ({"type": "gelu", "approximate": "yes"}, "approximate must be true or false"),
    ({"type": "softmax", "axis": 1.5}, "axis must be an integer, got axis=1.5"),
    ({"type": "celu", "alpha": 0}, "alpha must not be 0"),
    ({"type": "squareplus", "b": -1}, "b must not be negative"),
    ({"type": "hard_shrink", "threshold": -0.5}, "threshold must not be negative"),
    ("threshold", "activation 'threshold' needs the arguments threshold and default_value"),
    ({"type": "threshold", "threshold": 1}, "needs the argument default_value"),
    ({"negative_slope": 0.1}, "an activation mapping needs a 'type' key"),
    (3, "an activation is a name or a mapping with a 'type' key, got 3"),
])
def test_bad_identifiers(identifier, message):
    with pytest.raises(ParameterError) as info:
        activations.get(identifier)
    assert message in str(info.value)


def test_shape_errors_are_data_errors():
    with pytest.raises(DataError, match="glu splits axis -1 in two halves, but it has 3"):
        activations.get("glu")(np.ones(3))
    with pytest.raises(DataError, match="axis 2 is out of range for an input of shape"):
        activations.get({"type": "softmax", "axis": 2})(np.ones((2, 2)))


@pytest.mark.parametrize("case", [c for c in CASES if c["dtype"] == "float32"],
                         ids=[c["id"] for c in CASES if c["dtype"] == "float32"])
def test_config_round_trip(case):
    act = bound(case)
    config = act.get_config()
    assert config["type"] == activations.ACTIVATIONS.get(case["name"]).name
    again = activations.get(config)
    assert again == act and again.get_config() == config
    defaults = activations.ACTIVATIONS.get(case["name"]).params
    for arg, value in case["args"].items():  # only what differs from Keras' defaults
        assert (arg in config) == (defaults[arg] is activations.REQUIRED
                                   or value != defaults[arg])


def test_config_forms():
    assert activations.get("relu").get_config() == {"type": "relu"}
    assert activations.get("relu").spec() == "relu"
    act = activations.get({"type": "relu", "max_value": 6, "negative_slope": 0.0})
    assert act.get_config() == {"type": "relu", "max_value": 6.0}
    assert act.spec() == {"type": "relu", "max_value": 6.0}
    assert repr(act) == "Activation(relu, max_value=6.0)"
    assert activations.get({"type": "squareplus", "b": 4.0}).get_config() == {"type": "squareplus"}
    assert activations.get({"type": "gelu", "approximate": True}).get_config() == {
        "type": "gelu", "approximate": True}


def test_catalog():
    rows = {row["name"]: row for row in activations.catalog()}
    assert list(rows) == activations.names()
    for row in rows.values():
        assert set(row) >= {"name", "aliases", "params", "required", "formula", "advice"}
        assert row["formula"] and row["advice"]
        json.dumps(row)  # plain data
    assert rows["relu"]["params"] == {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}
    assert rows["threshold"]["required"] == ["threshold", "default_value"]
    assert rows["silu"]["aliases"] == ["swish"]
    # the article's advice
    assert "hidden layers" in rows["relu"]["advice"] and "first" in rows["relu"]["advice"]
    assert "die" in rows["leaky_relu"]["advice"]
    assert "binary" in rows["sigmoid"]["advice"]
    assert "multi-class" in rows["softmax"]["advice"]
    assert "regression" in rows["linear"]["advice"]
    assert "rather than sigmoid" in rows["tanh"]["advice"]
    for name in ("softmax", "log_softmax", "sparsemax", "glu"):
        assert rows[name]["derivative"] == activations.DERIVATIVE_NOTES[name]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_arrays_cut_in_slices_give_the_same_values(dtype):
    """From SLICED_SIZE values an element-wise activation is computed in cache-sized slices on
    every core: the values are those of small arrays, bit for bit, extremes included."""
    x = (np.random.default_rng(0).standard_normal(7 * (activations.SLICED_SIZE // 7 + 997)) * 8)
    x[:9] = [0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 88.7, -88.7]
    x = x.astype(dtype).reshape(-1, 7)
    names = [n for n in activations.names() if activations.ACTIVATIONS.get(n).elementwise]
    assert len(names) >= 25
    for name in names:
        act = activations.get({"type": name, "threshold": 0.3, "default_value": -1.0}
                              if name == "threshold" else name)
        whole = act(x)
        pieces = np.concatenate([act(x[i:i + 997]) for i in range(0, len(x), 997)])
        np.testing.assert_array_equal(whole, pieces, err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [8 * 11, 8 * (activations.SLICED_SIZE // 8 + 1)])
def test_on_temporary_gives_the_values_of_a_call(dtype, size):
    """Dense computes its activation into its pre-activation (Activation.on_temporary)."""
    x = np.random.default_rng(1).standard_normal(size) * 30
    x[:7] = [0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30]
    x = x.astype(dtype).reshape(-1, 8)
    for name in activations.names():
        if name == "threshold":
            continue
        act = activations.get(name)
        np.testing.assert_array_equal(act.on_temporary(x.copy()), act(x), err_msg=name)
    relu = activations.get("relu")
    z = x.copy()
    assert relu.on_temporary(z) is z   # no second array
    leaky = activations.get({"type": "relu", "negative_slope": 0.1})
    z = x.copy()
    assert leaky.on_temporary(z) is not z and np.array_equal(z, x, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [1.0, 0.3, 1.6732632423543772, -0.5])
def test_elu_without_where_is_the_where_formula(dtype, alpha):
    """elu is max(x, 0) + alpha expm1(min(x, 0)) (a branch per value of np.where costs more
    than the formula): Keras' np.where form to the bit, the sign of -0 included."""
    x = np.random.default_rng(2).standard_normal(4000) * 5
    x[:10] = [0, -0.0, 1e-45, -1e-45, 5e-324, np.nan, np.inf, -np.inf, 1e30, -1e30]
    x = x.astype(dtype)
    with np.errstate(all="ignore"):
        keras = np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(dtype)
    got = activations.get({"type": "elu", "alpha": alpha})(x)
    np.testing.assert_array_equal(got, keras)
    assert np.array_equal(np.signbit(got), np.signbit(keras))
