"""nnctl.initializers against Keras 3 (golden data) and against the exact distributions.

Golden data: tests/golden/initializers.json, written by tools/golden/initializers.py with
Keras 3 (NumPy backend). Statistics: Kolmogorov-Smirnov tests with fixed seeds against CDFs
built here from Keras' documented formulas (scipy), not from nnctl's own theory().
"""
from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from nnctl import initializers as I
from nnctl.errors import ParameterError, ResourceError

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "initializers.json").read_text())

# Keras names nnctl leaves out: the abstract base class, and STFT (a fixed signal-processing
# kernel for Keras' STFTSpectrogram layer, which nnctl does not have).
NOT_PROVIDED = {"Initializer", "initializer", "STFT", "stft", "STFTInitializer"}

KS_SIZE = 20_000
P_MIN = 0.001  # fixed seeds make each p-value a constant; this is the bar each must clear


# --- names, aliases, defaults: Keras' ---------------------------------------------------------

@pytest.mark.parametrize("key", sorted(k for k in GOLDEN["names"] if k not in NOT_PROVIDED))
def test_every_keras_name_resolves_to_the_same_class_with_the_same_defaults(key):
    keras = GOLDEN["names"][key]
    cls = I.INITIALIZERS.get(key)
    assert cls.__name__ == keras["class_name"]
    assert I.parameters(cls) == keras["params"]
    ours = I.get(key).get_config()
    assert ours.pop("type") == cls.name
    # Keras' Identity.get_config() forgets `gain`; every key it does list must agree.
    assert {k: ours[k] for k in keras["config"]} == keras["config"]
    assert set(ours) == set(keras["params"])


def test_no_keras_initializer_is_missing():
    keras_classes = {v["class_name"] for k, v in GOLDEN["names"].items() if k not in NOT_PROVIDED}
    ours = {cls.__name__ for cls in I.ALL}
    assert ours - keras_classes == {"StandardUniform"}
    assert keras_classes <= ours


def test_names_are_case_and_underscore_insensitive():
    for spelling in ("he_normal", "HeNormal", "henormal", "HE_NORMAL", "he-normal"):
        assert type(I.get(spelling)) is I.HeNormal
    assert type(I.get("normal")) is I.RandomNormal
    assert type(I.get("uniform")) is I.RandomUniform
    assert type(I.get("one")) is I.Ones and type(I.get("zero")) is I.Zeros


@pytest.mark.parametrize("alias, keras_name", [
    ("xavier_uniform", "glorot_uniform"), ("xavier_normal", "glorot_normal"),
    ("kaiming_uniform", "he_uniform"), ("Kaiming_Normal", "he_normal")])
def test_the_articles_xavier_and_kaiming_names_are_aliases(alias, keras_name):
    assert type(I.get(alias)) is I.INITIALIZERS.get(keras_name)
    row = next(r for r in I.catalog() if r["name"] == keras_name)
    assert alias.lower() in row["aliases"]
    assert I.get(alias).get_config() == I.get(keras_name).get_config()  # saved as Keras' name


def test_unknown_name_suggests_the_nearest():
    with pytest.raises(ParameterError, match=r"unknown initializer 'he_normall' \(did you mean 'he_normal'\?\)"):
        I.get("he_normall")


# --- compute_fans -----------------------------------------------------------------------------

@pytest.mark.parametrize("case", GOLDEN["fans"], ids=lambda c: str(tuple(c["shape"])))
def test_compute_fans_matches_keras(case):
    assert list(I.compute_fans(tuple(case["shape"]))) == case["fans"]


def test_fans_with_explicit_axes():
    assert I.compute_fans((3, 3, 16, 32), input_axes=[0, 1, 2], output_axes=[3]) == (144, 32)
    vs = I.VarianceScaling(scale=2.0, input_axes=[0], output_axes=[1, 2])
    assert vs.theory((4, 5, 6))["fan_in"] == 4 and vs.theory((4, 5, 6))["fan_out"] == 30


@pytest.mark.parametrize("shape, fan_in", [((9,), 9), ((9, 1), 9), ((3, 3, 16, 32), 144)])
def test_he_normal_std_follows_keras_fans(shape, fan_in):
    assert I.HeNormal().theory(shape)["std"] == pytest.approx(math.sqrt(2 / fan_in), rel=1e-15)


# --- exact values from Keras --------------------------------------------------------------------

def _golden_id(case):
    return f"{case['class_name']}{case['args'] or ''}{tuple(case['shape'])}-{case['dtype']}"


@pytest.mark.parametrize("case", GOLDEN["deterministic"], ids=_golden_id)
def test_deterministic_values_equal_keras(case):
    values = I.get({"type": case["class_name"], **case["args"]})(tuple(case["shape"]), case["dtype"])
    assert values.dtype == np.dtype(case["dtype"])
    expected = np.array(case["values"], dtype=case["dtype"]).reshape(case["shape"])
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("case", GOLDEN["seeded"], ids=_golden_id)
def test_seeded_values_equal_keras_numpy_backend(case):
    init = I.get({"type": case["class_name"], **case["args"], "seed": case["seed"]})
    assert {k: v for k, v in init.get_config().items() if k != "type"} == case["config"]
    values = init(tuple(case["shape"]), case["dtype"])
    assert values.dtype == np.dtype(case["dtype"])
    expected = np.array(case["values"]).reshape(case["shape"])
    if case["keras_dtype"] == case["dtype"]:
        # Same generator, same draws, same arithmetic: bit for bit.
        np.testing.assert_array_equal(values, expected.astype(case["dtype"]))
    else:
        # Keras' NumPy backend factors Orthogonal in float32 even for float64.
        np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6)


# --- distributions: Kolmogorov-Smirnov with fixed seeds ----------------------------------------

def _truncnorm(mean, sigma):
    return stats.truncnorm(-2, 2, loc=mean, scale=sigma)


def _uniform(low, high):
    return stats.uniform(loc=low, scale=high - low)


C = 0.87962566103423978
# (identifier, shape, the exact distribution from Keras' docstrings/formulas)
RANDOM_CASES = [
    ("random_normal", (100, 200), stats.norm(0, 0.05)),
    ({"type": "random_normal", "mean": 1.5, "stddev": 2.0}, (20000,), stats.norm(1.5, 2.0)),
    ("random_uniform", (100, 200), _uniform(-0.05, 0.05)),
    ({"type": "random_uniform", "minval": 2, "maxval": 3}, (200, 100), _uniform(2, 3)),
    ("truncated_normal", (100, 200), _truncnorm(0, 0.05)),
    ({"type": "truncated_normal", "mean": -1, "stddev": 3}, (20000,), _truncnorm(-1, 3)),
    ("variance_scaling", (50, 400), _truncnorm(0, math.sqrt(1 / 50) / C)),
    ({"type": "variance_scaling", "scale": 2.0, "mode": "fan_out",
      "distribution": "untruncated_normal"}, (400, 50), stats.norm(0, math.sqrt(2 / 50))),
    ({"type": "variance_scaling", "scale": 0.5, "mode": "fan_avg", "distribution": "uniform"},
     (3, 3, 40, 60), _uniform(-math.sqrt(1.5 / 450), math.sqrt(1.5 / 450))),
    ("glorot_normal", (100, 200), _truncnorm(0, math.sqrt(2 / 300) / C)),
    ("glorot_uniform", (100, 200), _uniform(-math.sqrt(6 / 300), math.sqrt(6 / 300))),
    ("he_normal", (9, 2500), _truncnorm(0, math.sqrt(2 / 9) / C)),
    ("he_uniform", (9, 2500), _uniform(-math.sqrt(6 / 9), math.sqrt(6 / 9))),
    ("lecun_normal", (3, 3, 8, 300), _truncnorm(0, math.sqrt(1 / 72) / C)),
    ("lecun_uniform", (3, 3, 8, 300), _uniform(-math.sqrt(3 / 72), math.sqrt(3 / 72))),
    ("standard_uniform", (64, 400), _uniform(-1 / 8, 1 / 8)),
]


def _case_id(case):
    ident = case[0] if isinstance(case[0], str) else case[0]["type"] + "+args"
    return f"{ident}{case[1]}"


@pytest.mark.parametrize("index", range(len(RANDOM_CASES)), ids=[_case_id(c) for c in RANDOM_CASES])
@pytest.mark.parametrize("draw", [0, 1])
def test_samples_follow_the_exact_distribution(index, draw):
    identifier, shape, dist = RANDOM_CASES[index]
    init = I.get(identifier)
    # A seed of its own for every case: cases of one family would otherwise share a
    # standardized sample, and so a p-value.
    values = init(shape, "float64", rng=np.random.default_rng([index, draw]))
    assert values.shape == shape and values.dtype == np.float64
    p = stats.kstest(values.ravel(), dist.cdf).pvalue
    assert p > P_MIN, f"KS p-value {p:.3g}"
    # The theory nnctl reports (for --stats) is that same distribution.
    theory = init.theory(shape)
    assert theory["mean"] == pytest.approx(dist.mean(), abs=1e-12)
    assert theory["std"] == pytest.approx(dist.std(), rel=1e-7)
    low, high = dist.support()
    if math.isinf(low):
        assert theory["bounds"] is None
    else:
        assert theory["bounds"] == pytest.approx([low, high], rel=1e-12)


BOUNDED = [c for c in RANDOM_CASES if math.isfinite(c[2].support()[0])]


@pytest.mark.parametrize("identifier, shape, dist", BOUNDED, ids=[_case_id(c) for c in BOUNDED])
def test_bounded_samples_stay_in_bounds_in_float32(identifier, shape, dist):
    low, high = dist.support()
    values = I.get(identifier)(shape, "float32", rng=np.random.default_rng(3))
    assert values.dtype == np.float32
    assert values.min() >= np.float32(low) and values.max() <= np.float32(high)
    # and they fill the range: the extremes come within 1% of the width of each bound
    assert values.min() - low < 0.01 * (high - low) and high - values.max() < 0.01 * (high - low)


def test_truncation_keeps_the_intended_std():
    # Keras' correction: a truncated normal "with std sqrt(2/fan_in)" really has that std.
    values = I.HeNormal()((9, 100_000), "float64", rng=np.random.default_rng(4))
    assert values.std() == pytest.approx(math.sqrt(2 / 9), rel=0.005)
    assert np.abs(values).max() <= 2 * math.sqrt(2 / 9) / C


def _orthogonal_entry_cdf(dim, gain):
    # A column of a Haar-orthogonal matrix is uniform on the unit sphere of R^dim:
    # (x / gain)^2 ~ Beta(1/2, (dim - 1)/2), symmetric around 0.
    def cdf(x):
        x = np.asarray(x) / gain
        return 0.5 + 0.5 * np.sign(x) * stats.beta.cdf(x ** 2, 0.5, (dim - 1) / 2)
    return cdf


@pytest.mark.parametrize("shape, gain, seed", [((6, 3), 1.0, 5), ((3, 6), 2.0, 6),
                                              ((2, 2, 5), 0.5, 7)])
def test_orthogonal_entries_follow_the_haar_distribution(shape, gain, seed):
    # One entry per independent matrix, so the sample is i.i.d. (entries of one matrix are not).
    # Without the sign correction, entry [0, 0] would always be negative.
    init = I.Orthogonal(gain=gain)
    rng = np.random.default_rng(seed)
    first = np.array([init(shape, "float64", rng=rng).reshape(-1, shape[-1])[0, 0]
                      for _ in range(3000)])
    dim = max(math.prod(shape[:-1]), shape[-1])
    p = stats.kstest(first, _orthogonal_entry_cdf(dim, gain)).pvalue
    assert p > P_MIN, f"KS p-value {p:.3g}"
    theory = init.theory(shape)
    assert theory["dim"] == dim and theory["std"] == pytest.approx(gain / math.sqrt(dim))


@pytest.mark.parametrize("shape", [(8, 3), (3, 8), (5, 5), (2, 3, 4, 5), (4, 3, 2)])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_is_orthogonal_for_tall_and_wide(shape, gain):
    q = I.Orthogonal(gain=gain, seed=3)(shape, "float64").reshape(-1, shape[-1])
    rows, cols = q.shape
    product = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(product, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)


def test_identity_non_square_and_gain():
    np.testing.assert_array_equal(I.Identity(gain=3)((2, 4)), 3 * np.eye(2, 4, dtype=np.float32))
    theory = I.Identity(gain=3).theory((2, 4))
    values = I.Identity(gain=3)((2, 4), "float64")
    assert theory["mean"] == pytest.approx(values.mean()) and theory["std"] == pytest.approx(values.std())


# --- reproducibility ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in I.INITIALIZERS.names()
                                  if "seed" in I.parameters(I.INITIALIZERS.get(n))])
def test_same_seed_same_bytes_other_seed_other_values(name):
    shape = (7, 5)
    a = I.get({"type": name, "seed": 42})(shape)
    b = I.get({"type": name, "seed": 42})(shape)
    again = I.get({"type": name, "seed": 42})
    assert a.tobytes() == b.tobytes() == again(shape).tobytes() == again(shape).tobytes()
    c = I.get({"type": name, "seed": 43})(shape)
    assert not np.array_equal(a, c)
    # A seeded initializer ignores the generator it is given (Keras: seeded = deterministic).
    assert I.get({"type": name, "seed": 42})(shape, rng=np.random.default_rng(9)).tobytes() == a.tobytes()
    # Unseeded: the generator decides; no generator: fresh randomness.
    unseeded = I.get(name)
    assert unseeded(shape, rng=np.random.default_rng(1)).tobytes() == \
        unseeded(shape, rng=np.random.default_rng(1)).tobytes()
    assert not np.array_equal(unseeded(shape), unseeded(shape))


def test_weight_rng_depends_only_on_seed_and_names():
    def draw(seed, layer, weight):
        return I.weight_rng(seed, layer, weight).random(4)

    base = draw(0, "dense", "kernel")
    np.testing.assert_array_equal(base, draw(0, "dense", "kernel"))
    for other in [(1, "dense", "kernel"), (0, "dense_1", "kernel"), (0, "dense", "bias"),
                  (0, "densek", "ernel")]:
        assert not np.array_equal(base, draw(*other)), other
    # Stable across processes (no per-process hash salt), so across runs and machines.
    code = ("import numpy as np; from nnctl.initializers import weight_rng; "
            "print(repr(weight_rng(0, 'dense', 'kernel').random(4).tolist()))")
    for hashseed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": hashseed, "PATH": ""}, check=True).stdout
        assert eval(out) == base.tolist()


# --- configs, get(), catalog --------------------------------------------------------------------

ROUND_TRIP = [
    {"type": "constant", "value": 2.5}, {"type": "identity", "gain": 0.5},
    {"type": "random_normal", "mean": 1.0, "stddev": 0.3, "seed": 5},
    {"type": "random_uniform", "minval": -2, "maxval": 2}, {"type": "truncated_normal", "stddev": 1},
    {"type": "variance_scaling", "scale": 2.0, "mode": "fan_in", "distribution": "uniform", "seed": 7},
    {"type": "variance_scaling", "input_axes": [0, 1], "output_axes": [2]},
    {"type": "he_normal", "seed": 1}, {"type": "orthogonal", "gain": 2.0, "seed": 3},
    {"type": "standard_uniform"},
] + [{"type": name} for name in I.INITIALIZERS.names()]


@pytest.mark.parametrize("config", ROUND_TRIP, ids=lambda c: str(c))
def test_get_config_round_trips(config):
    init = I.get(config)
    again = I.get(init.get_config())
    assert again == init and again.get_config() == init.get_config()
    assert json.loads(json.dumps(init.get_config())) == init.get_config()
    for key, value in config.items():
        if key != "type":
            assert init.get_config()[key] == value
    assert I.get(init) is init
    assert repr(init).startswith(type(init).__name__ + "(")


def test_get_accepts_keras_serialized_form_and_variance_scaling_normal_alias():
    init = I.get({"class_name": "VarianceScaling", "config": {"scale": 2.0, "distribution": "normal"}})
    assert init.distribution == "truncated_normal" and init.scale == 2.0
    assert I.get(None) is None


def test_catalog_lists_every_initializer_with_its_arguments():
    entries = I.catalog()
    assert [e["name"] for e in entries] == I.INITIALIZERS.names()
    for entry in entries:
        cls = I.INITIALIZERS.get(entry["name"])
        assert entry["params"] == I.parameters(cls)
        assert entry["formula"]
        assert all(I.INITIALIZERS.get(alias) is cls for alias in entry["aliases"])
    by_name = {e["name"]: e for e in entries}
    assert by_name["random_normal"]["params"] == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert "normal" in by_name["random_normal"]["aliases"]
    assert by_name["standard_uniform"]["keras"] is False and by_name["he_normal"]["keras"] is True


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"type": "random_normal", "stddev": -1}, r"random_normal: stddev must be >= 0, got stddev=-1"),
    ({"type": "truncated_normal", "stddev": -0.5}, r"stddev must be >= 0, got stddev=-0.5"),
    ({"type": "random_uniform", "minval": 1, "maxval": 0}, r"minval must be <= maxval, got minval=1.0, maxval=0.0"),
    ({"type": "variance_scaling", "mode": "fan_inn"}, r"unknown mode 'fan_inn' \(did you mean 'fan_in'\?\)"),
    ({"type": "variance_scaling", "distribution": "gauss"}, r"unknown distribution 'gauss'"),
    ({"type": "variance_scaling", "scale": 0}, r"scale must be positive, got scale=0.0"),
    ({"type": "variance_scaling", "scale": -2}, r"scale must be positive, got scale=-2.0"),
    ({"type": "random_normal", "stddev": "big"}, r"stddev must be a number, got 'big'"),
    ({"type": "random_normal", "stddev": float("nan")}, r"stddev must be finite"),
    ({"type": "random_normal", "stdev": 1}, r"unknown argument 'stdev' \(did you mean 'stddev'\?\)"),
    ({"type": "zeros", "seed": 1}, r"zeros: unknown argument 'seed'"),
    ({"type": "he_normal", "seed": -3}, r"seed must be a non-negative integer, got seed=-3"),
    ({"type": "he_normal", "seed": 1.5}, r"seed must be a non-negative integer, got 1.5"),
    ({"type": "variance_scaling", "input_axes": "a"}, r"input_axes must be a list of axes"),
    ({"stddev": 1}, r"needs a 'type'"),
])
def test_bad_arguments_are_refused_with_the_offending_value(config, message):
    with pytest.raises(ParameterError, match=message):
        I.get(config)


@pytest.mark.parametrize("make, message", [
    (lambda: I.RandomNormal(stdev=1.0), r"^random_normal: unknown argument 'stdev' \(did you "
                                        r"mean 'stddev'\?\) \(arguments: mean, stddev, seed\)$"),
    (lambda: I.TruncatedNormal(mean=0, stdev=1.0), r"^truncated_normal: unknown argument "
                                                   r"'stdev' \(did you mean 'stddev'\?\)"),
    (lambda: I.Zeros(value=1), r"^zeros: unknown argument 'value' \(it takes none\)$"),
])
def test_a_class_made_with_a_wrong_argument_says_which_as_get_does(make, message):
    """In Python, RandomNormal(stdev=1.0) was "_MeanStddev.__init__() got an unexpected
    keyword argument 'stdev'": a class the user never wrote, and no did-you-mean."""
    with pytest.raises(ParameterError, match=message):
        make()


@pytest.mark.parametrize("init, shape, message", [
    (I.Identity(), (3, 3, 3), r"only 2-D shapes"),
    (I.Orthogonal(), (5,), r"at least 2-D, got shape \(5,\)"),
    (I.HeNormal(), (3, -1), r"dimensions must be non-negative integers"),
    (I.HeNormal(), "3", r"non-negative integers|shape"),
])
def test_bad_shapes_are_refused(init, shape, message):
    with pytest.raises(ParameterError, match=message):
        init(shape)


def test_bad_dtype_is_refused():
    with pytest.raises(ParameterError, match="not a float type"):
        I.HeNormal()((2, 2), dtype="int32")


def test_too_large_is_refused_before_allocating():
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ResourceError, match=r"\(1000000, 1000000\) needs 4.00 TB"):
            I.HeNormal()((1_000_000, 1_000_000))
        assert tracemalloc.get_traced_memory()[1] < 1 << 20  # refused before allocating
    finally:
        tracemalloc.stop()


# --- the density drawn by --plot ----------------------------------------------------------------

@pytest.mark.parametrize("init, shape, dist", [
    (I.RandomNormal(mean=1, stddev=2), (5,), stats.norm(1, 2)),
    (I.HeNormal(), (9, 1), _truncnorm(0, math.sqrt(2 / 9) / C)),
    (I.HeUniform(), (9, 1), _uniform(-math.sqrt(6 / 9), math.sqrt(6 / 9))),
])
def test_density_is_the_theoretical_pdf(init, shape, dist):
    x = np.linspace(-3, 3, 601)
    inside = (x > dist.support()[0] + 1e-9) & (x < dist.support()[1] - 1e-9)
    np.testing.assert_allclose(I.density(init.theory(shape), x)[inside], dist.pdf(x)[inside], rtol=1e-9)


def test_orthogonal_density_integrates_to_its_cdf():
    theory = I.Orthogonal(gain=2.0).theory((10, 4))
    x = np.linspace(-1.0, 1.5, 20001)
    integral = np.trapezoid(I.density(theory, x), x)
    cdf = _orthogonal_entry_cdf(10, 2.0)
    assert integral == pytest.approx(cdf(1.5) - cdf(-1.0), rel=1e-6)


def test_an_initializer_reads_its_class_signature_once(monkeypatch):
    """Every initializer made checks its arguments (Initializer.__new__); reading the class'
    signature each time (0.1 ms) doubled the time of a 5,000-layer summary (two a Dense)."""
    import inspect

    from nnctl import initializers

    calls = []
    signature = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda f, **k: calls.append(f) or signature(f, **k))
    initializers._parameters.cache_clear()
    for _ in range(50):
        initializers.get({"type": "he_normal", "seed": 1})
        initializers.get("zeros")
        initializers.RandomNormal(stddev=2.0)
    assert len(calls) <= 2, calls   # he_normal's class and RandomNormal's, once each
