"""Weight initializers, as Keras 3 defines them: compute_fans, VarianceScaling and its presets.

Names, arguments, defaults and sampling follow `keras.initializers` to the letter. Sampling
uses NumPy's PCG64 Generator exactly as Keras' NumPy backend does, so an initializer with
`seed=7` gives the values `keras.initializers.X(seed=7)(shape)` gives under KERAS_BACKEND=numpy,
on every machine.

    >>> init = get("he_normal")
    >>> w = init((9, 1), rng=np.random.default_rng(0))
    >>> get({"type": "variance_scaling", "scale": 2.0, "mode": "fan_in", "seed": 7})
    VarianceScaling(scale=2.0, mode='fan_in', distribution='truncated_normal', seed=7, ...)
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Mapping

import numpy as np

from nnctl.errors import ParameterError
from nnctl.limits import check_allocation
from nnctl.naming import Registry, did_you_mean

# The standard deviation of N(0, 1) cut to [-2, 2]. Keras divides by it so that a truncated
# normal "with stddev s" really has standard deviation s after the cut.
TRUNCATED_STD = 0.87962566103423978

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as keras.src.initializers.compute_fans.

    Scalar: (1, 1). 1-D (n,): (n, n). 2-D (in, out): (in, out). More axes are a convolution
    kernel (*receptive_field, in, out): both fans are multiplied by the receptive field size.
    `input_axes`/`output_axes`, when both given, name the axes whose sizes multiply into each fan.
    """
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        return (math.prod(_axis_size(shape, a) for a in input_axes),
                math.prod(_axis_size(shape, a) for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _axis_size(shape, axis) -> int:
    if not -len(shape) <= axis < len(shape):
        raise ParameterError(f"axis {axis} is out of range for shape {shape}")
    return shape[axis]


def seed_rng(seed: int) -> np.random.Generator:
    """The generator an integer seed stands for.

    Keras' NumPy backend turns seed s into the SeedGenerator state [s, 0] and samples with
    np.random.default_rng([s, 0]); doing the same makes seeded values Keras' own.
    """
    return np.random.default_rng([_seed(seed), 0])


def weight_rng(seed: int, layer_name: str, weight_name: str) -> np.random.Generator:
    """The generator for one weight of a model: depends on the model seed and the names only.

    Adding, removing or reordering other layers leaves this weight's values unchanged.
    The names are hashed with BLAKE2b (stable across processes and machines, unlike hash()).
    """
    import hashlib  # here: every model builds its initializers, few draw weights (3 ms)

    words = [_seed(seed)]
    for name in (layer_name, weight_name):
        digest = hashlib.blake2b(str(name).encode("utf-8"), digest_size=8).digest()
        words += [int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")]
    return np.random.default_rng(np.random.SeedSequence(words))


# --- argument checks: one place for the messages ---------------------------------------------

def _seed(value, owner: str = "") -> int:
    prefix = f"{owner}: " if owner else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{prefix}seed must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ParameterError(f"{prefix}seed must be a non-negative integer, got seed={value}")
    return int(value)


def _number(owner: str, arg: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ParameterError(f"{owner}: {arg} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{owner}: {arg} must be finite, got {arg}={value}")
    return value


def _axes(owner: str, arg: str, value):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, (list, tuple))
            or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in value)):
        raise ParameterError(f"{owner}: {arg} must be a list of axes (integers), got {value!r}")
    return [int(a) for a in value]


def _check_shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ParameterError(f"shape must be a tuple of integers, got {shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0
               for d in dims):
        raise ParameterError(f"shape {dims}: dimensions must be non-negative integers")
    return tuple(int(d) for d in dims)


def _check_dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ParameterError(f"unknown dtype {dtype!r}") from None
    if dtype.kind != "f":
        raise ParameterError(f"initializers produce floats; dtype {dtype.name} is not a float type")
    return dtype


# --- the initializers ------------------------------------------------------------------------

class Initializer:
    """Base class: `init(shape, dtype, rng)` -> array; `get_config()`; `theory(shape)`.

    Subclasses set `name` (the Keras snake_case name), `formula`, and implement `_sample`
    and `_theory`. Their constructor arguments are their config.
    """

    name = "initializer"
    formula = ""
    # float64 arrays the sampler holds at its peak, as a multiple of the output size.
    work_copies = 1

    def __call__(self, shape, dtype="float32", rng: np.random.Generator | None = None):
        shape = _check_shape(shape)
        dtype = _check_dtype(dtype)
        self._check_rank(shape)
        check_allocation(shape, dtype, what=f"a {self.name} sample")
        if self.work_copies > 1:
            check_allocation(shape, "float64", what=f"sampling {self.name}",
                             copies=self.work_copies)
        return np.asarray(self._sample(shape, dtype, rng), dtype=dtype)

    def _check_rank(self, shape) -> None:
        """Raise for shapes this initializer cannot fill (Identity: 2-D only, ...)."""

    def _sample(self, shape, dtype, rng) -> np.ndarray:
        raise NotImplementedError

    def arguments(self) -> dict:
        """The constructor arguments, as Keras' get_config() lists them."""
        return {}

    def get_config(self) -> dict:
        """{"type": name, **arguments}; get(config) builds an equal initializer."""
        return {"type": self.name, **self.arguments()}

    def theory(self, shape) -> dict:
        """The distribution the values are drawn from, for this shape (see module docstring).

        Keys: family (normal, truncated_normal, uniform, constant, identity, orthogonal),
        mean, std, bounds ([low, high], or None when unbounded), fan_in, fan_out, and the
        family's parameters (loc/scale for the normals, value, gain, dim).
        """
        shape = _check_shape(shape)
        self._check_rank(shape)
        fan_in, fan_out = self._fans(shape)
        return {**self._theory(shape), "fan_in": fan_in, "fan_out": fan_out}

    def _fans(self, shape):
        return compute_fans(shape)

    def _theory(self, shape) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = None

    def __new__(cls, *args, **kwargs):
        # checked here for every class: Python's own TypeError would name the class that
        # defines __init__ (`_MeanStddev.__init__()` for RandomNormal) and suggest nothing
        if kwargs:
            check_arguments(cls, kwargs)
        return super().__new__(cls)


class _Filled(Initializer):
    """Every value `value`."""

    value = 0.0

    def _sample(self, shape, dtype, rng):
        # Keras: cast(value, dtype) * ones(shape, dtype)
        return np.full(shape, dtype.type(self.value), dtype=dtype)

    def _theory(self, shape):
        return {"family": "constant", "mean": self.value, "std": 0.0,
                "bounds": [self.value, self.value], "value": self.value}


class Zeros(_Filled):
    """All zeros."""

    name = "zeros"
    formula = "0"
    value = 0.0


class Ones(_Filled):
    """All ones."""

    name = "ones"
    formula = "1"
    value = 1.0


class Constant(_Filled):
    """Every value `value` (a scalar)."""

    name = "constant"
    formula = "value"

    def __init__(self, value=0.0):
        self.value = _number(self.name, "value", value)

    def arguments(self):
        return {"value": self.value}


class Identity(Initializer):
    """`gain` times the identity matrix; 2-D only. Non-square: ones on the main diagonal (eye)."""

    name = "identity"
    formula = "gain * eye(rows, cols) (2-D shapes only)"

    def __init__(self, gain=1.0):
        self.gain = _number(self.name, "gain", gain)

    def arguments(self):
        return {"gain": self.gain}

    def _check_rank(self, shape):
        if len(shape) != 2:
            raise ParameterError(f"{self.name}: only 2-D shapes can be an identity matrix, "
                                 f"got shape {shape} of rank {len(shape)}")

    def _sample(self, shape, dtype, rng):
        return self.gain * np.eye(*shape, dtype=dtype)

    def _theory(self, shape):
        size = math.prod(shape)
        k = min(shape)
        p = k / size if size else 0.0
        mean = self.gain * p
        std = abs(self.gain) * math.sqrt(p * (1 - p))
        return {"family": "identity", "mean": mean, "std": std,
                "bounds": [min(0.0, self.gain), max(0.0, self.gain)], "gain": self.gain}


class RandomInitializer(Initializer):
    """An initializer that draws random numbers.

    The generator used: the initializer's own `seed` if it has one (the same values on every
    call, as in Keras), else the `rng` passed in, else a fresh unseeded one.
    """

    def __init__(self, seed=None):
        self.seed = None if seed is None else _seed(seed, self.name)

    def arguments(self):
        return {"seed": self.seed}

    def generator(self, rng: np.random.Generator | None = None) -> np.random.Generator:
        if self.seed is not None:
            return seed_rng(self.seed)
        return rng if rng is not None else np.random.default_rng()

    def _family(self, shape) -> tuple[str, float, float]:
        """(family, a, b) the values for `shape` are drawn from: ("normal" or
        "truncated_normal", mean, stddev) or ("uniform", low, high)."""
        raise NotImplementedError

    def _sample(self, shape, dtype, rng):
        family, a, b = self._family(shape)
        return _FAMILIES[family][0](self.generator(rng), shape, a, b).astype(dtype)

    def _theory(self, shape):
        family, a, b = self._family(shape)
        return _FAMILIES[family][1](a, b)


def _check_stddev(owner, stddev):
    stddev = _number(owner, "stddev", stddev)
    if stddev < 0:
        raise ParameterError(f"{owner}: stddev must be >= 0, got stddev={stddev}")
    return stddev


def _normal(rng, shape, mean, stddev):
    return rng.normal(loc=mean, scale=stddev, size=shape)


def _truncated_normal(rng, shape, mean, stddev):
    """N(mean, stddev) with values outside mean +- 2 stddev redrawn.

    Same draws as Keras' NumPy backend: batches of size(shape) normals, in-bounds values kept
    in order, until there are enough; so seeded results equal Keras' bit for bit.
    """
    low, high = mean - 2 * stddev, mean + 2 * stddev
    size = math.prod(shape)
    out = np.empty(size, dtype=np.float64)
    filled = 0
    while filled < size:
        batch = rng.normal(loc=mean, scale=stddev, size=size)
        valid = batch[(batch >= low) & (batch <= high)]
        take = min(valid.size, size - filled)
        out[filled:filled + take] = valid[:take]
        filled += take
    return out.reshape(shape)


def _uniform(rng, shape, low, high):
    return rng.uniform(low=low, high=high, size=shape)


def _normal_theory(mean, stddev):
    return {"family": "normal", "mean": mean, "std": stddev, "bounds": None,
            "loc": mean, "scale": stddev}


def _truncated_theory(mean, stddev):
    # stddev is the scale of the normal before the cut; the values' std is TRUNCATED_STD times it.
    return {"family": "truncated_normal", "mean": mean, "std": stddev * TRUNCATED_STD,
            "bounds": [mean - 2 * stddev, mean + 2 * stddev], "loc": mean, "scale": stddev}


def _uniform_theory(low, high):
    return {"family": "uniform", "mean": (low + high) / 2, "std": (high - low) / math.sqrt(12),
            "bounds": [low, high]}


# family -> (draw(rng, shape, a, b), theory(a, b)): the families of RandomInitializer._family
_FAMILIES = {"normal": (_normal, _normal_theory),
             "truncated_normal": (_truncated_normal, _truncated_theory),
             "uniform": (_uniform, _uniform_theory)}


class _MeanStddev(RandomInitializer):
    """A normal family (`family`) of `mean` and `stddev`."""

    family = "normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _number(self.name, "mean", mean)
        self.stddev = _check_stddev(self.name, stddev)
        super().__init__(seed)

    def arguments(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}

    def _family(self, shape):
        return self.family, self.mean, self.stddev


class RandomNormal(_MeanStddev):
    """Normal distribution N(mean, stddev^2)."""

    name = "random_normal"
    formula = "N(mean, stddev^2)"
    work_copies = 2


class TruncatedNormal(_MeanStddev):
    """N(mean, stddev^2) with values beyond two stddev redrawn (std after the cut: 0.88 stddev)."""

    name = "truncated_normal"
    formula = "N(mean, stddev^2), values outside mean +- 2*stddev redrawn"
    work_copies = 4
    family = "truncated_normal"


class RandomUniform(RandomInitializer):
    """Uniform distribution on [minval, maxval)."""

    name = "random_uniform"
    formula = "U(minval, maxval)"
    work_copies = 2

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _number(self.name, "minval", minval)
        self.maxval = _number(self.name, "maxval", maxval)
        if self.minval > self.maxval:
            raise ParameterError(f"{self.name}: minval must be <= maxval, "
                                 f"got minval={self.minval}, maxval={self.maxval}")
        super().__init__(seed)

    def arguments(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}

    def _family(self, shape):
        return "uniform", self.minval, self.maxval


class VarianceScaling(RandomInitializer):
    """Variance scale/n, n = fan_in, fan_out or their mean (`mode`), in one of three shapes.

    truncated_normal: cut at two sigma, sigma = sqrt(scale/n) / 0.8796 so the std is sqrt(scale/n);
    untruncated_normal: N(0, scale/n); uniform: U(-limit, limit), limit = sqrt(3 scale/n).
    "normal" is read as truncated_normal, as Keras does.
    """

    name = "variance_scaling"
    formula = ("n = fan_in | fan_out | (fan_in+fan_out)/2 (mode); truncated_normal: std "
               "sqrt(scale/n), cut at 2 sigma; untruncated_normal: N(0, scale/n); uniform: "
               "U(-sqrt(3*scale/n), sqrt(3*scale/n))")
    work_copies = 4

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        owner = self.name
        scale = _number(owner, "scale", scale)
        if scale <= 0:
            raise ParameterError(f"{owner}: scale must be positive, got scale={scale}")
        if mode not in MODES:
            raise ParameterError(f"{owner}: unknown mode {mode!r}"
                                 + (did_you_mean(str(mode), MODES) or f" (one of {', '.join(MODES)})"))
        if not isinstance(distribution, str):
            raise ParameterError(f"{owner}: distribution must be a name, got {distribution!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in DISTRIBUTIONS:
            raise ParameterError(f"{owner}: unknown distribution {distribution!r}"
                                 + (did_you_mean(distribution, DISTRIBUTIONS)
                                    or f" (one of {', '.join(DISTRIBUTIONS)})"))
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = _axes(owner, "input_axes", input_axes)
        self.output_axes = _axes(owner, "output_axes", output_axes)
        super().__init__(seed)

    def arguments(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}

    def _fans(self, shape):
        return compute_fans(shape, self.input_axes, self.output_axes)

    def _variance(self, shape) -> tuple[float, float]:
        """(n, scale / max(1, n)) for this shape, as Keras computes them."""
        fan_in, fan_out = self._fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return n, self.scale / max(1.0, n)

    def _family(self, shape):
        _, variance = self._variance(shape)
        if self.distribution == "truncated_normal":
            return "truncated_normal", 0.0, math.sqrt(variance) / TRUNCATED_STD
        if self.distribution == "untruncated_normal":
            return "normal", 0.0, math.sqrt(variance)
        limit = math.sqrt(3.0 * variance)
        return "uniform", -limit, limit

    def _theory(self, shape):
        n, _ = self._variance(shape)
        return {**super()._theory(shape), "mode": self.mode, "n": n}


class _Preset(VarianceScaling):
    """VarianceScaling with fixed scale, mode and distribution (Keras' named initializers)."""

    preset: dict = {}

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(**self.preset, seed=seed, input_axes=input_axes, output_axes=output_axes)

    def arguments(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotNormal(_Preset):
    """Glorot (Xavier) normal: truncated normal with std sqrt(2 / (fan_in + fan_out))."""

    name = "glorot_normal"
    formula = "truncated normal, std sqrt(2 / (fan_in + fan_out)), cut at 2 sigma"
    preset = dict(scale=1.0, mode="fan_avg", distribution="truncated_normal")


class GlorotUniform(_Preset):
    """Glorot (Xavier) uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""

    name = "glorot_uniform"
    formula = "U(-sqrt(6 / (fan_in + fan_out)), sqrt(6 / (fan_in + fan_out)))"
    preset = dict(scale=1.0, mode="fan_avg", distribution="uniform")


class HeNormal(_Preset):
    """He normal: truncated normal with std sqrt(2 / fan_in)."""

    name = "he_normal"
    formula = "truncated normal, std sqrt(2 / fan_in), cut at 2 sigma"
    preset = dict(scale=2.0, mode="fan_in", distribution="truncated_normal")


class HeUniform(_Preset):
    """He uniform: U(-limit, limit), limit = sqrt(6 / fan_in)."""

    name = "he_uniform"
    formula = "U(-sqrt(6 / fan_in), sqrt(6 / fan_in))"
    preset = dict(scale=2.0, mode="fan_in", distribution="uniform")


class LecunNormal(_Preset):
    """LeCun normal: truncated normal with std sqrt(1 / fan_in)."""

    name = "lecun_normal"
    formula = "truncated normal, std sqrt(1 / fan_in), cut at 2 sigma"
    preset = dict(scale=1.0, mode="fan_in", distribution="truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: U(-limit, limit), limit = sqrt(3 / fan_in)."""

    name = "lecun_uniform"
    formula = "U(-sqrt(3 / fan_in), sqrt(3 / fan_in))"
    preset = dict(scale=1.0, mode="fan_in", distribution="uniform")


class StandardUniform(_Preset):
    """The "standard" initialization U(-1/sqrt(d), 1/sqrt(d)), d = fan_in (not in Keras).

    PyTorch's default for linear layers; it is VarianceScaling with scale 1/3, uniform.
    """

    name = "standard_uniform"
    formula = "U(-1/sqrt(fan_in), 1/sqrt(fan_in))"
    preset = dict(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


class Orthogonal(RandomInitializer):
    """`gain` times a random orthogonal matrix (Saxe et al.), as Keras builds it.

    The shape is flattened to rows = prod(shape[:-1]), cols = shape[-1]. A (max, min) matrix of
    N(0, 1) values is QR-factored; Q's columns are flipped by the signs of diag(R) (so Q is
    uniformly distributed), transposed when rows < cols, scaled by gain and reshaped.
    """

    name = "orthogonal"
    formula = "gain * Q, Q from the QR of an N(0, 1) matrix, signs of diag(R) applied"
    work_copies = 3

    def __init__(self, gain=1.0, seed=None):
        self.gain = _number(self.name, "gain", gain)
        super().__init__(seed)

    def arguments(self):
        return {"seed": self.seed, "gain": self.gain}

    def _check_rank(self, shape):
        if len(shape) < 2:
            raise ParameterError(f"{self.name}: the shape must be at least 2-D, "
                                 f"got shape {shape} of rank {len(shape)}")

    @staticmethod
    def _flat(shape):
        return math.prod(shape[:-1]), shape[-1]

    def _sample(self, shape, dtype, rng):
        rows, cols = self._flat(shape)
        a = _normal(self.generator(rng), (max(rows, cols), min(rows, cols)), 0.0, 1.0)
        # Keras factors the matrix in the requested dtype.
        q, r = np.linalg.qr(a.astype(dtype), mode="reduced")
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def _theory(self, shape):
        # Every column (row, when wide) is uniform on the unit sphere of R^dim: an entry x has
        # (x/gain)^2 ~ Beta(1/2, (dim-1)/2), mean 0, variance gain^2 / dim.
        dim = max(self._flat(shape))
        return {"family": "orthogonal", "mean": 0.0,
                "std": abs(self.gain) / math.sqrt(dim) if dim else 0.0,
                "bounds": [-abs(self.gain), abs(self.gain)], "gain": self.gain, "dim": dim}


# --- the registry ----------------------------------------------------------------------------

# Keras' aliases besides the ClassName and snake_case forms of each name.
_ALIASES = {
    "zeros": ("zero",),
    "ones": ("one",),
    "random_normal": ("normal",),
    "random_uniform": ("uniform",),
    "identity": ("IdentityInitializer",),
    "orthogonal": ("OrthogonalInitializer",),
    # Not Keras' names: the article's (and PyTorch's) names for the same schemes.
    "glorot_uniform": ("xavier_uniform",),
    "glorot_normal": ("xavier_normal",),
    "he_uniform": ("kaiming_uniform",),
    "he_normal": ("kaiming_normal",),
}

ALL = (Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
       VarianceScaling, GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
       LecunUniform, Orthogonal, StandardUniform)

INITIALIZERS = Registry("initializer")
for _cls in ALL:
    INITIALIZERS.register(_cls.name, _cls, aliases=(_cls.__name__, *_ALIASES.get(_cls.name, ())))


def parameters(cls) -> dict:
    """{argument: default} of an initializer class, in constructor order."""
    return dict(_parameters(cls))


@functools.lru_cache(maxsize=None)
def _parameters(cls) -> tuple:
    # once per class: inspect.signature takes 0.1 ms (for a class whose __init__ is object's,
    # it parses a text signature), and every initializer made checks its arguments
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple((name, p.default) for name, p in
                 inspect.signature(cls.__init__).parameters.items()
                 if name != "self" and p.kind in kinds)


def check_arguments(cls, args) -> None:
    """Refuse an argument the initializer class does not take, with a did-you-mean."""
    allowed = parameters(cls)
    for arg in args:
        if arg not in allowed:
            raise ParameterError(
                f"{cls.name}: unknown argument {arg!r}"
                + (did_you_mean(str(arg), allowed) if allowed else " (it takes none)")
                + (f" (arguments: {', '.join(allowed)})" if allowed else ""))


def get(identifier):
    """An Initializer from a name, a mapping, or an Initializer (returned as is).

    A mapping is `{type: NAME, **arguments}`; Keras' `{class_name: NAME, config: {...}}` is
    read too. A callable is returned unchanged (Keras allows functions); None gives None.

    >>> import nnctl
    >>> nnctl.initializers.get("he_normal")(shape=(9, 1), rng=None).shape
    (9, 1)
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return INITIALIZERS.get(identifier)()
    if isinstance(identifier, Mapping):
        config = dict(identifier)
        if "class_name" in config and "type" not in config:
            config = {"type": config["class_name"], **(config.get("config") or {})}
        if "type" not in config:
            raise ParameterError(f"an initializer mapping needs a 'type', got {identifier!r}")
        name = config.pop("type")
        cls = INITIALIZERS.get(name)
        return cls(**config)
    if callable(identifier):
        return identifier
    raise ParameterError(f"an initializer must be a name or a mapping, got {identifier!r}")


def catalog() -> list[dict]:
    """Every initializer: {name, aliases, params {arg: default}, formula, keras}."""
    return [{"name": cls.name,
             "aliases": [cls.__name__, *_ALIASES.get(cls.name, ())],
             "params": parameters(cls),
             "formula": cls.formula,
             "keras": cls is not StandardUniform}
            for cls in ALL]


def density(theory: dict, x) -> np.ndarray:
    """The theoretical probability density at x (for plots); None for the deterministic ones."""
    x = np.asarray(x, dtype=np.float64)
    family = theory["family"]
    if family in ("normal", "truncated_normal"):
        loc, scale = theory["loc"], theory["scale"]
        if scale == 0:
            return None
        pdf = np.exp(-0.5 * ((x - loc) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
        if family == "normal":
            return pdf
        low, high = theory["bounds"]
        mass = math.erf(2 / math.sqrt(2))  # P(|Z| <= 2)
        return np.where((x >= low) & (x <= high), pdf / mass, 0.0)
    if family == "uniform":
        low, high = theory["bounds"]
        if high == low:
            return None
        return np.where((x >= low) & (x <= high), 1.0 / (high - low), 0.0)
    if family == "orthogonal":
        gain, dim = abs(theory["gain"]), theory["dim"]
        if dim < 2 or gain == 0:
            return None
        # (x/gain)^2 ~ Beta(1/2, (dim-1)/2)  =>  f(x) = c (1 - (x/gain)^2)^((dim-3)/2) / gain
        log_c = math.lgamma(dim / 2) - math.lgamma((dim - 1) / 2) - 0.5 * math.log(math.pi)
        u = np.clip(1 - (x / gain) ** 2, 0.0, None)
        with np.errstate(divide="ignore"):
            pdf = np.exp(log_c) * u ** ((dim - 3) / 2) / gain
        return np.where(np.abs(x) < gain, pdf, 0.0)
    return None


def serialize(initializer) -> dict:
    """The spec mapping of an initializer (Keras' serialize): `{"type": "he_normal", ...}`.

    >>> import nnctl
    >>> nnctl.initializers.serialize(nnctl.initializers.HeNormal(seed=1))
    {'type': 'he_normal', 'seed': 1, 'input_axes': None, 'output_axes': None}
    """
    return get(initializer).get_config()


def deserialize(config):
    """An initializer from a name or a mapping, as Keras' deserialize.

    >>> import nnctl
    >>> nnctl.initializers.deserialize({"type": "he_normal"})
    HeNormal(seed=None, input_axes=None, output_axes=None)
    """
    return get(config)


# Keras' snake_case names are the classes too: `nnctl.initializers.he_normal(seed=1)`,
# as `tf.keras.initializers.he_normal()` in the seed article.
for _cls in ALL:
    globals()[_cls.name] = _cls
    _cls.__doc__ = (f"{(_cls.__doc__ or '').rstrip()}\n\n"
                    f"    >>> import nnctl\n"
                    f"    >>> nnctl.initializers.{_cls.__name__}()(shape=(2, 2)).shape\n"
                    f"    (2, 2)\n")
