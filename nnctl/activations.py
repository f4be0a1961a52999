"""Activation functions of Keras 3, with their derivatives, and the registry `get()` reads.

Names, aliases, arguments and defaults are Keras 3's (`keras.activations.*`). Each function
keeps the input's dtype (float32 in, float32 out) and is computed so that no input, however
large or small, produces an overflow warning or a NaN that the mathematics does not have:
sigmoid(-1000) is 0, softmax([1000, 1000]) is [0.5, 0.5], softplus(100) is 100.

    >>> act = get({"type": "leaky_relu", "negative_slope": 0.1})
    >>> act(np.array([-1.0, 2.0], np.float32))
    array([-0.1,  2. ], dtype=float32)

Every bound activation has:
    act(x)                 the function
    act.derivative(x)      d act(x) / dx element-wise (for the few that are not element-wise,
                           see DERIVATIVE_NOTES: softmax, log_softmax, sparsemax, glu)
    act.backward(x, g)     the exact vector-Jacobian product g^T J, for backpropagation
    act.get_config()       {"type": name, **arguments that differ from the defaults}
"""
from __future__ import annotations

import inspect
import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nnctl.errors import DataError, ParameterError
from nnctl.naming import Registry, did_you_mean


class _Required:
    """The default of an argument that has none (Keras' threshold(x, threshold, default_value))."""

    def __repr__(self):
        return "<required>"


REQUIRED = _Required()

# What `derivative(x)` returns for the activations that are not element-wise.
DERIVATIVE_NOTES = {
    "softmax": "the Jacobian's diagonal, dy_i/dx_i = y_i (1 - y_i)",
    "log_softmax": "the Jacobian's diagonal, dy_i/dx_i = 1 - softmax(x)_i",
    "sparsemax": "the Jacobian's diagonal, 1 - 1/k on the k-element support, 0 off it",
    "glu": "the gradient of sum(glu(x)) with respect to x (same shape as x): "
           "sigmoid(b) for the a half, a sigmoid'(b) for the b half",
}


# ---------------------------------------------------------------------------------------------
# Numerically stable building blocks (x is a float array; results keep its dtype)

def _sigmoid(x, out=None):
    # 1 / (1 + exp(-x)): no cancellation on either side (e >= 0), so both tails keep their
    # relative precision; where exp(-x) overflows (x < -88 in float32) 1 / inf is the 0 wanted
    # (Activation._run ignores the overflow). Four passes into one array, where the form with
    # exp(-|x|) took nine: 9.7 -> 1.4 ns of CPU a value of a 16,384 x 64 float32 batch.
    e = np.negative(x, out=np.empty_like(x) if out is None else out)
    np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


def _softplus(x):
    return np.logaddexp(x, 0)


def _sech2(x):
    # sech(x)^2 = 4 e^{-2|x|} / (1 + e^{-2|x|})^2, finite for every x (1 - tanh^2 rounds to 0).
    e = np.exp(-2 * np.abs(x))
    return 4 * e / ((1 + e) * (1 + e))


def _normal_pdf(x64):
    xc = np.clip(x64, -40.0, 40.0)  # exp(-800) is already 0; clipping keeps x*x finite
    return np.exp(-0.5 * xc * xc) / math.sqrt(2 * math.pi)


# x - tanh(x) = x^3/3 - 2x^5/15 + ... : the first terms of the series (Bernoulli numbers), used
# where the subtraction would cancel. Nine terms reach double precision for |x| < 0.2.
_TANH_SHRINK_SERIES = (1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925,
                       -21844 / 6081075, 929569 / 638512875, -6404582 / 10854718875,
                       443861162 / 1856156927625)


def _tanh_shrink64(x64):
    small = np.abs(x64) < 0.2
    xs = np.where(small, x64, 0.0)
    x2 = xs * xs
    series = np.zeros_like(xs)
    for c in reversed(_TANH_SHRINK_SERIES):
        series = series * x2 + c
    return np.where(small, series * x2 * xs, x64 - np.tanh(x64))


def _as_float(x) -> np.ndarray:
    """A float array: floats keep their dtype; ints and bools become float32 (Keras' floatx)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    return x


def _axis(x, axis: int) -> int:
    if not -x.ndim <= axis < x.ndim:
        raise DataError(f"axis {axis} is out of range for an input of shape {x.shape}")
    return axis


# ---------------------------------------------------------------------------------------------
# The functions. Each takes a float array and the activation's arguments.

def _relu(x, negative_slope, max_value, threshold):
    # Keras' ReLU.static_call, branch for branch, so that values match at thresholds too.
    if negative_slope != 0 and max_value is None and threshold == 0:
        return np.maximum(x, negative_slope * x)
    y = np.where(x > threshold, x, 0) if threshold != 0 else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    if negative_slope != 0:
        y = y - negative_slope * np.maximum(threshold - x, 0)
    return y


def _relu_derivative(x, negative_slope, max_value, threshold):
    if negative_slope != 0 and max_value is None and threshold == 0:
        return np.where(x > negative_slope * x, 1, negative_slope).astype(x.dtype)
    if threshold != 0:
        slope = (x > threshold).astype(x.dtype)
        if max_value is not None:  # the clip to [0, max_value] holds the output flat
            slope = np.where((x >= max_value) | (x < 0), 0, slope)
    else:
        slope = (x > 0).astype(x.dtype)
        if max_value is not None:
            slope = np.where(x >= max_value, 0, slope)
    return slope + negative_slope * (x < threshold)


def _leaky_relu(x, negative_slope):
    return np.maximum(x, negative_slope * x)


def _leaky_relu_derivative(x, negative_slope):
    return np.where(x > negative_slope * x, 1, negative_slope).astype(x.dtype)


def _elu(x, alpha):
    if not alpha > 0:
        return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0)))
    # max(x, 0) + alpha expm1(min(x, 0)), the same values without np.where, whose branch per
    # value costs 4 ns on values of random sign (a 16,384 x 64 float32 batch: 5.2 -> 1.4 ns a
    # value); copysign gives -0 its sign back (x >= 0 keeps x).
    y = np.minimum(x, 0, out=np.empty_like(x))
    np.expm1(y, out=y)
    y *= alpha
    y += np.maximum(x, 0)
    return np.copysign(y, x, out=y)


def _elu_derivative(x, alpha):
    return np.where(x >= 0, 1, alpha * np.exp(np.minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _celu(x, alpha):
    return np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) / alpha)


def _celu_derivative(x, alpha):
    return np.where(x >= 0, 1, np.exp(np.minimum(x, 0) / alpha))


_GELU_C = math.sqrt(2 / math.pi)
_GELU_K = 0.044715


def _gelu(x, approximate):
    if approximate:
        # 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same function, without 1 + tanh cancelling.
        # Beyond |x| = 1e4 the sigmoid is saturated; clipping keeps x^3 finite.
        xc = np.clip(x, -1e4, 1e4)
        u = _GELU_C * (xc + _GELU_K * xc * xc * xc)
        return x * _sigmoid(2 * u)
    from nnctl import special  # exact GELU's alone: `nnctl act relu` does not import it

    if x.dtype == np.float32:
        return special.by_slices(_gelu_exact32, x, buffers=2)
    return special.by_slices(_gelu_exact, x)


def _gelu_exact32(x, out, a, term):
    # The same as _gelu_exact, into `out` with the two scratch arrays, and nothing allocated:
    # relu(x) - a Q(a), with a Q(a) of special.argument_tail32.
    from nnctl import special

    np.abs(x, out=a)
    # Beyond the tail's end x Phi(x) is 0 or x in float32; inf, nan or huge values are rare,
    # and one test for the slice is cheaper than clipping every value.
    beyond = not a.max(initial=0) <= special.TAIL_END32
    if beyond:
        np.minimum(a, special.TAIL_END32, out=a)
    special.argument_tail32(a, term, out)
    np.maximum(x, np.float32(0), out=out)
    out -= term
    if beyond:
        negative_infinity = x == -np.inf
        if negative_infinity.any():  # -inf * Phi(-inf) = -inf * 0, NaN as in Keras and ONNX
            out[negative_infinity] = np.nan


def _gelu_exact(x):
    # x Phi(x) = relu(x) - |x| Q(|x|), Q the normal tail: no 1 - Q cancelling for x < 0, where
    # the result is -|x| Q(|x|) to its last digits.
    from nnctl import special

    a = special.tail_argument(x)
    y = np.maximum(x, 0)
    y -= a * special.tail(a)
    negative_infinity = x == -np.inf
    if negative_infinity.any():  # -inf * Phi(-inf) = -inf * 0, NaN as in Keras and ONNX
        y[negative_infinity] = np.nan
    return y


def _gelu_derivative(x, approximate):
    if approximate:
        xc = np.clip(x, -1e4, 1e4)
        u = _GELU_C * (xc + _GELU_K * xc * xc * xc)
        du = _GELU_C * (1 + 3 * _GELU_K * xc * xc)
        s, t = _sigmoid(2 * u), _sigmoid(-2 * u)
        return s + 2 * xc * s * t * du
    from nnctl import special

    x64 = x.astype(np.float64)
    return (special.normal_cdf(x64) + x64 * _normal_pdf(x64)).astype(x.dtype)


def _silu(x):
    return x * _sigmoid(x)


def _silu_derivative(x):
    # sigmoid(x) (1 + x (1 - sigmoid(x))), with 1 - sigmoid(x) taken as sigmoid(-x).
    return _sigmoid(x) * (1 + x * _sigmoid(-x))


def _hard_sigmoid(x):
    # Keras computes x/6 + 0.5 and then clips: the same operations keep float32 bit-for-bit.
    y = x / 6 + 0.5
    return np.where(y <= 0, 0, np.where(y >= 1, 1, y)).astype(x.dtype)


def _hard_sigmoid_derivative(x):
    y = x / 6 + 0.5
    return np.where((y > 0) & (y < 1), 1 / 6, 0).astype(x.dtype)


def _hard_silu_derivative(x):
    y = x / 6 + 0.5
    return np.where(y <= 0, 0, np.where(y >= 1, 1, (2 * x + 3) / 6)).astype(x.dtype)


def _mish(x):
    return x * np.tanh(_softplus(x))


def _mish_derivative(x):
    sp = _softplus(x)
    return np.tanh(sp) + x * _sech2(sp) * _sigmoid(x)


def _softsign_derivative(x):
    r = 1 / (1 + np.abs(x))
    return r * r  # (1/(1+|x|))^2 rather than 1/(1+|x|)^2: the square cannot overflow


def _sparse_sigmoid(x):
    return np.where(x <= -1, 0, np.where(x >= 1, 1, 0.5 * (x + 1))).astype(x.dtype)


def _sparse_plus(x):
    xc = np.clip(x, -1, 1)  # the quadratic only matters on (-1, 1); clipping keeps it finite
    return np.where(x <= -1, 0, np.where(x < 1, 0.25 * (xc + 1) * (xc + 1), x)).astype(x.dtype)


def _sparse_plus_derivative(x):
    return np.where(x <= -1, 0, np.where(x < 1, 0.5 * (x + 1), 1)).astype(x.dtype)


def _squareplus(x, b):
    # (x + sqrt(x^2 + b)) / 2. hypot keeps x^2 from overflowing; for x < 0 the sum cancels,
    # so it is rewritten as b / (2 (h - x)) = (b/h) / (2 (1 - x/h)).
    h = np.hypot(x, math.sqrt(b))
    positive = x >= 0
    # safe operands where the negative branch is not used (no 0/0 to warn about)
    hs, xs = np.where(positive, 1, h), np.where(positive, -1, x)
    return np.where(positive, x / 2 + h / 2, (b / hs) / (2 * (1 - xs / hs))).astype(x.dtype)


def _squareplus_derivative(x, b):
    # (1 + x/h) / 2, and for x < 0 the cancellation-free b / (2 h^2 (1 - x/h)).
    h = np.hypot(x, math.sqrt(b))
    hs = np.where(h > 0, h, 1)
    ratio = np.where(h > 0, x / hs, 0)  # b = 0 at x = 0: the kink of relu, slope 1/2
    positive = x >= 0
    negative = (b / hs / hs) / (2 * (1 - np.where(positive, -1, ratio)))
    return np.where(positive, (1 + ratio) / 2, negative).astype(x.dtype)


def _tanh_shrink(x):
    return _tanh_shrink64(x.astype(np.float64)).astype(x.dtype)


def _hard_shrink(x, threshold):
    return np.where(np.abs(x) > threshold, x, 0).astype(x.dtype)


def _shrink_derivative(x, threshold):
    # with threshold 0 both shrinks are the identity, x = 0 included
    return ((np.abs(x) > threshold) | (threshold == 0)).astype(x.dtype)


def _soft_shrink(x, threshold):
    return np.where(x > threshold, x - threshold,
                    np.where(x < -threshold, x + threshold, 0)).astype(x.dtype)


def _threshold(x, threshold, default_value):
    return np.where(x > threshold, x, default_value).astype(x.dtype)


def _threshold_derivative(x, threshold, default_value):
    return (x > threshold).astype(x.dtype)


# Functions along an axis. A 0-d input is treated as a vector of one value.

def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_complement(x, axis):
    """1 - softmax(x), without the cancellation where softmax(x) is close to 1: that happens
    only at the maximum, where 1 - s = (sum of the other exponentials) / (sum of all)."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    total = np.sum(e, axis=axis, keepdims=True)
    top = np.argmax(x, axis=axis, keepdims=True)
    others = e.copy()
    np.put_along_axis(others, top, 0, axis=axis)
    rest = np.sum(others, axis=axis, keepdims=True)
    complement = 1 - e / total
    np.put_along_axis(complement, top, rest / total, axis=axis)
    return complement


def _softmax_backward(x, g, axis):
    s = _softmax(x, axis)
    return s * (g - np.sum(g * s, axis=axis, keepdims=True))


def _log_softmax(x, axis):
    # log sum exp(shifted) = log(1 + the rest): one maximum contributes exactly 1, and log1p
    # keeps the rest's digits where log(1 + tiny) would round them away (the top log-prob).
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    np.put_along_axis(e, np.argmax(x, axis=axis, keepdims=True), 0, axis=axis)
    return shifted - np.log1p(np.sum(e, axis=axis, keepdims=True))


def _log_softmax_backward(x, g, axis):
    return g - _softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)


def _sparsemax_support(x, axis):
    """x shifted to a maximum of 0, its sparsemax threshold tau and support size k along axis.

    Martins & Astudillo (2016), Algorithm 1: with z sorted in decreasing order, k is the
    largest j with 1 + j z_j > z_1 + ... + z_j, and tau = (z_1 + ... + z_k - 1) / k.
    NOTE: Keras 3.15 sums every cumulative sum in the support instead of taking the k-th
    (keras-team/keras#23425, fixed by #23469); this follows the paper and the fixed Keras.
    """
    # sparsemax(x + c) = sparsemax(x): with the maximum at 0, the first element is always in
    # the support (1 + 0 > 0), however large x is.
    x = x - np.max(x, axis=axis, keepdims=True)
    z = -np.sort(-x, axis=axis)
    cumsum = np.cumsum(z, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    r = np.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    support = 1 + r * z > cumsum
    k = np.sum(support, axis=axis, keepdims=True)
    total = np.sum(np.where(support, z, 0), axis=axis, keepdims=True)
    return x, (total - 1) / k.astype(x.dtype), k


def _sparsemax(x, axis):
    shifted, tau, _ = _sparsemax_support(x, axis)
    return np.maximum(shifted - tau, 0)


def _sparsemax_derivative(x, axis):
    shifted, tau, k = _sparsemax_support(x, axis)
    return np.where(shifted > tau, 1 - 1 / k.astype(x.dtype), 0).astype(x.dtype)


def _sparsemax_backward(x, g, axis):
    shifted, tau, k = _sparsemax_support(x, axis)
    inside = shifted > tau
    mean = np.sum(np.where(inside, g, 0), axis=axis, keepdims=True) / k.astype(x.dtype)
    return np.where(inside, g - mean, 0).astype(x.dtype)


def _glu_halves(x, axis):
    if x.shape[axis] % 2:
        raise DataError(f"glu splits axis {axis} in two halves, but it has {x.shape[axis]} "
                        "values (an odd number)")
    return np.split(x, 2, axis=axis)


def _glu(x, axis):
    a, b = _glu_halves(x, axis)
    return a * _sigmoid(b)


def _glu_backward(x, g, axis):
    a, b = _glu_halves(x, axis)
    s = _sigmoid(b)
    return np.concatenate([g * s, g * a * s * _sigmoid(-b)], axis=axis)


def _glu_derivative(x, axis):
    return _glu_backward(x, np.ones_like(_glu_halves(x, axis)[0]), axis)


# ---------------------------------------------------------------------------------------------
# Argument checks: Keras' own where it has them (the ReLU and LeakyReLU layers), else the
# domain of the formula.

def _non_negative(*names):
    def check(name, params):
        for arg in names:
            value = params[arg]
            if value is not None and value < 0:
                raise ParameterError(f"activation '{name}': {arg} must not be negative, "
                                     f"got {arg}={value}")
    return check


def _non_zero(arg):
    def check(name, params):
        if params[arg] == 0:
            raise ParameterError(f"activation '{name}': {arg} must not be 0 "
                                 f"(it divides x), got {arg}=0")
    return check


# ---------------------------------------------------------------------------------------------
# The registry

@dataclass(frozen=True)
class Definition:
    """One activation function: its maths, its Keras arguments and what to say about it."""

    name: str
    forward: Callable
    derivative: Callable
    formula: str
    advice: str
    params: dict = field(default_factory=dict)  # argument -> Keras default (or REQUIRED)
    aliases: tuple = ()
    backward: Callable | None = None            # None: element-wise, g * derivative(x)
    check: Callable | None = None
    elementwise: bool = True


ACTIVATIONS = Registry("activation")

# Argument kinds: how a value given in a spec or on the command line is checked.
_KINDS = {"approximate": "bool", "axis": "int", "max_value": "number or null"}


def _define(name, forward, derivative, formula, advice="", **kwargs):
    definition = Definition(name, forward, derivative, formula, advice, **kwargs)
    ACTIVATIONS.register(name, definition, definition.aliases)


def _ones(x, **_):
    return np.ones_like(x)


_define("relu", _relu, _relu_derivative,
        "max(x, 0); with arguments: x > threshold ? min(x, max_value) "
        ": negative_slope * (x - threshold)",
        "hidden layers: the first choice (cheap, no vanishing gradient for x > 0)",
        params={"negative_slope": 0.0, "max_value": None, "threshold": 0.0},
        check=_non_negative("negative_slope", "max_value", "threshold"))
_define("leaky_relu", _leaky_relu, _leaky_relu_derivative,
        "max(x, negative_slope * x)",
        "hidden layers, when relu units die (stay at 0 and stop learning)",
        params={"negative_slope": 0.2}, check=_non_negative("negative_slope"))
_define("relu6", lambda x: np.minimum(np.maximum(x, 0), 6),
        lambda x: ((x > 0) & (x < 6)).astype(x.dtype),
        "min(max(x, 0), 6)", "hidden layers of mobile networks (relu capped at 6)")
_define("elu", _elu, _elu_derivative,
        "x >= 0 ? x : alpha * (exp(x) - 1)",
        "hidden layers: like relu, with negative outputs that pull the mean towards 0",
        params={"alpha": 1.0})
_define("selu", lambda x: _SELU_SCALE * _elu(x, _SELU_ALPHA),
        lambda x: _SELU_SCALE * _elu_derivative(x, _SELU_ALPHA),
        "1.0507 * (x >= 0 ? x : 1.6733 * (exp(x) - 1))",
        "hidden layers of self-normalizing networks, with the lecun_normal initializer")
_define("celu", _celu, _celu_derivative,
        "max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)",
        "hidden layers: elu made continuously differentiable for any alpha",
        params={"alpha": 1.0}, check=_non_zero("alpha"))
_define("gelu", _gelu, _gelu_derivative,
        "x * Phi(x) (normal CDF); approximate: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
        "hidden layers of transformers",
        params={"approximate": False})
_define("silu", _silu, _silu_derivative, "x * sigmoid(x)",
        "hidden layers: a smooth relu (also called swish)", aliases=("swish",))
_define("hard_silu", lambda x: x * _hard_sigmoid(x), _hard_silu_derivative,
        "x * hard_sigmoid(x)", "hidden layers of mobile networks: a cheap silu",
        aliases=("hard_swish",))
_define("mish", _mish, _mish_derivative, "x * tanh(softplus(x))",
        "hidden layers: a smooth, non-monotonic relu")
_define("softplus", _softplus, lambda x: _sigmoid(x), "log(exp(x) + 1)",
        "a smooth relu; outputs that must be positive (a variance, a rate)")
_define("softsign", lambda x: x / (1 + np.abs(x)), _softsign_derivative, "x / (|x| + 1)",
        "a tanh that saturates polynomially rather than exponentially")
_define("sigmoid", _sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x), "1 / (1 + exp(-x))",
        "output layer for binary classification; avoid in hidden layers "
        "(vanishing gradients, not zero-centred)")
_define("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_derivative,
        "clip(x / 6 + 0.5, 0, 1)", "a cheap piecewise-linear sigmoid")
_define("log_sigmoid", lambda x: -_softplus(-x), lambda x: _sigmoid(-x),
        "log(1 / (1 + exp(-x)))", "log-probabilities of a binary output")
_define("sparse_sigmoid", _sparse_sigmoid,
        lambda x: np.where((x > -1) & (x < 1), 0.5, 0).astype(x.dtype),
        "clip(0.5 * (x + 1), 0, 1)", "a sigmoid that reaches exactly 0 and 1")
_define("tanh", np.tanh, _sech2, "(exp(x) - exp(-x)) / (exp(x) + exp(-x))",
        "hidden layers, rather than sigmoid (zero-centred, steeper)")
_define("hard_tanh", lambda x: np.clip(x, -1, 1),
        lambda x: ((x > -1) & (x < 1)).astype(x.dtype),
        "clip(x, -1, 1)", "a cheap piecewise-linear tanh")
_define("tanh_shrink", _tanh_shrink, lambda x: np.tanh(x) ** 2, "x - tanh(x)",
        "small inputs shrunk towards 0 (sparse coding)")
_define("hard_shrink", _hard_shrink, _shrink_derivative,
        "|x| > threshold ? x : 0", "zeroes small values (denoising, sparse coding)",
        params={"threshold": 0.5}, check=_non_negative("threshold"))
_define("soft_shrink", _soft_shrink, _shrink_derivative,
        "x > threshold ? x - threshold : x < -threshold ? x + threshold : 0",
        "shrinks values towards 0 by threshold (sparse coding)",
        params={"threshold": 0.5}, check=_non_negative("threshold"))
_define("sparse_plus", _sparse_plus, _sparse_plus_derivative,
        "x <= -1 ? 0 : x < 1 ? (x + 1)^2 / 4 : x", "a softplus that reaches exactly 0")
_define("squareplus", _squareplus, _squareplus_derivative, "(x + sqrt(x^2 + b)) / 2",
        "a softplus from square roots; b sets the smoothness",
        params={"b": 4}, check=_non_negative("b"))
_define("exponential", np.exp, np.exp, "exp(x)",
        "outputs that must be positive and grow fast (a rate, a scale)")
_define("linear", lambda x: x, _ones, "x",
        "output layer for regression (identity; also the default: no activation)")
_define("threshold", _threshold, _threshold_derivative,
        "x > threshold ? x : default_value", "replaces values at or below a threshold",
        params={"threshold": REQUIRED, "default_value": REQUIRED})
_define("glu", _glu, _glu_derivative,
        "a * sigmoid(b), where x = [a, b] is split in halves along axis",
        "gated layers: half the units gate the other half (the axis halves)",
        params={"axis": -1}, backward=_glu_backward, elementwise=False)
_define("softmax", _softmax, lambda x, axis: _softmax(x, axis) * _softmax_complement(x, axis),
        "exp(x) / sum(exp(x)) along axis",
        "output layer for multi-class classification (probabilities that sum to 1)",
        params={"axis": -1}, backward=_softmax_backward, elementwise=False)
_define("log_softmax", _log_softmax, _softmax_complement,
        "x - log(sum(exp(x))) along axis",
        "log-probabilities of a multi-class output (with a negative log-likelihood loss)",
        params={"axis": -1}, backward=_log_softmax_backward, elementwise=False)
_define("sparsemax", _sparsemax, _sparsemax_derivative,
        "max(x - tau(x), 0) along axis, tau such that the outputs sum to 1",
        "multi-class output with exact zeros (sparse probabilities)",
        params={"axis": -1}, backward=_sparsemax_backward, elementwise=False)


# ---------------------------------------------------------------------------------------------
# Bound activations

def _check_kind(name: str, arg: str, value, default):
    kind = _KINDS.get(arg, "number")
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"activation '{name}': {arg} must be true or false, "
                                 f"got {arg}={value!r}")
        return bool(value)
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ParameterError(f"activation '{name}': {arg} must be an integer, "
                                 f"got {arg}={value!r}")
        return int(value)
    if value is None and kind == "number or null":
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        what = "a number or null" if kind == "number or null" else "a number"
        raise ParameterError(f"activation '{name}': {arg} must be {what}, got {arg}={value!r}")
    if not math.isfinite(value):
        raise ParameterError(f"activation '{name}': {arg} must be finite, got {arg}={value}")
    if isinstance(default, int) and not isinstance(default, bool) and float(value).is_integer():
        return int(value)
    return float(value)


def _same(a, b) -> bool:
    """Equal as argument values: 0 and 0.0 are, False and 0 are not, None is only None."""
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


# Activation.on_temporary: the activations computed into their argument, as their own
# function computes them (tested bit for bit)
_INTO = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0, out=x),
         "tanh": lambda x: np.tanh(x, out=x), "exponential": lambda x: np.exp(x, out=x),
         "sigmoid": lambda x: _sigmoid(x, out=x)}
_INTO_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Element-wise activations that are one NumPy pass (or that cut their arrays themselves: exact
# GELU), and the size from which the others are computed in cache-sized slices on every core
# (nnctl.special.by_slices), with the same values bit for bit (tested). On the 2-core machine,
# a 16,384 x 64 float32 batch: elu 5.2 ns of CPU a value either way, 5.2 -> 3.0 ns of wall
# time; softplus 18.5 -> 9.7 ns of wall time.
ONE_PASS = ("linear", "relu", "tanh", "exponential", "hard_tanh")
SLICED_SIZE = 1 << 17


class Activation:
    """An activation function with its arguments bound; see the module docstring."""

    def __init__(self, definition: Definition, params: dict):
        self.definition = definition
        self.name = definition.name
        self.params = dict(params)
        self.elementwise = definition.elementwise
        one_pass = (self.name in ONE_PASS and self.params == self.definition.params
                    or self.name == "gelu" and not self.params["approximate"])
        self._sliced = self.elementwise and not one_pass

    def shape_problem(self, shape) -> str | None:
        """Why this activation cannot take values of `shape` (the batch axis first, None),
        as Keras finds on building the model: an axis beyond the rank, or glu's halves of an
        odd size; None when it can."""
        if self.elementwise:
            return None
        axis = self.params["axis"]
        if not -len(shape) <= axis < len(shape):
            return f"axis {axis} is out of range"
        if self.name == "glu" and shape[axis] is not None and shape[axis] % 2:
            return (f"glu splits axis {axis} in two halves, but it has {shape[axis]} values "
                    "(an odd number)")
        return None

    def computed_shape(self, shape) -> tuple:
        """The shape of this activation's values for inputs of `shape` (the batch axis first):
        the same, but for glu, which halves its axis. Keras' layers declare their output shape
        without their activation, so that a layer with glu computes half of what Keras says."""
        if self.name != "glu" or shape[self.params["axis"]] is None:
            return tuple(shape)
        halved = list(shape)
        halved[self.params["axis"]] //= 2
        return tuple(halved)

    # The arrays: float in the input's dtype; float16 is computed in float32.
    def _run(self, function, x, *extra):
        x = _as_float(x)
        work = x.astype(np.float32) if x.dtype == np.float16 else x
        if not self.elementwise:
            scalar = work.ndim == 0
            work = work.reshape(1) if scalar else work
            _axis(work, self.params["axis"])
            extra = tuple(np.asarray(e, work.dtype).reshape(-1 if scalar else np.shape(e))
                          for e in extra)
        # A result beyond the float range (selu(3e38), exp(1000)) is inf, and an undefined
        # one (softmax([1, inf])) nan, as IEEE says, without warnings. Every formula above is
        # arranged so that finite inputs never meet an overflow that spoils a finite result,
        # nor make a nan (tests/test_activations.py checks both on extremes).
        with np.errstate(all="ignore"):
            y = np.asarray(function(work, *extra, **self.params), dtype=x.dtype)
        return y.reshape(()) if x.ndim == 0 and not self.elementwise else y

    def on_temporary(self, x: np.ndarray) -> np.ndarray:
        """act(x) for a float array the caller made and no longer needs (a layer's
        pre-activation): relu, tanh, sigmoid and exponential are computed into it, the same
        values without allocating another array (its pages cost as much as relu's pass)."""
        into = _INTO.get(self.name) if self.params == self.definition.params else None
        if (into is None or x.dtype not in _INTO_DTYPES or x.ndim == 0 or not x.flags.writeable
                or self._sliced and x.size >= SLICED_SIZE):  # on every core instead
            return self(x)
        with np.errstate(all="ignore"):
            return into(x)

    def __call__(self, x) -> np.ndarray:
        if self._sliced and np.size(x) >= SLICED_SIZE:
            return self._run(self._forward_by_slices, x)
        return self._run(self.definition.forward, x)

    def _forward_by_slices(self, x, **params):
        from nnctl.special import by_slices

        forward = self.definition.forward
        return by_slices(lambda part: forward(part, **params), x)

    def derivative(self, x) -> np.ndarray:
        """d act(x) / dx element-wise; for softmax & co. see DERIVATIVE_NOTES."""
        return self._run(self.definition.derivative, x)

    def backward(self, x, grad_out) -> np.ndarray:
        """The vector-Jacobian product: the gradient with respect to x, given grad_out =
        dL/d act(x). Exact for every activation, softmax along its axis included."""
        if self.definition.backward is None:
            grad_out = np.asarray(grad_out)
            return self._run(self.definition.derivative, x) * grad_out.astype(
                _as_float(x).dtype, copy=False)
        return self._run(self.definition.backward, x, grad_out)

    def get_config(self) -> dict:
        """{"type": name, **arguments that differ from Keras' defaults}: `get()` reads it back."""
        config = {"type": self.name}
        for arg, default in self.definition.params.items():
            value = self.params[arg]
            if default is REQUIRED or not _same(value, default):
                config[arg] = value
        return config

    def spec(self):
        """The shortest spec form: the name alone, or the mapping when arguments differ."""
        config = self.get_config()
        return config["type"] if len(config) == 1 else config

    def __eq__(self, other):
        return (isinstance(other, Activation) and other.name == self.name
                and other.params == self.params)

    def __hash__(self):
        return hash((self.name, tuple(sorted(self.params.items()))))

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.get_config().items() if k != "type")
        return f"Activation({self.name}{args})"


def bind(name: str, params: dict | None = None) -> Activation:
    """The activation `name` with these arguments (Keras defaults for the rest), validated."""
    definition = ACTIVATIONS.get(name)
    name = definition.name
    params = dict(params or {})
    allowed = list(definition.params)
    for arg in params:
        if arg not in definition.params:
            if not allowed:
                raise ParameterError(f"activation '{name}' takes no arguments, got '{arg}'")
            renamed = _KERAS2_NAMES.get(arg)
            hint = (f" (tf.keras' `{arg}` is `{renamed}` in Keras 3)" if renamed in allowed
                    else did_you_mean(arg, allowed))
            raise ParameterError(f"activation '{name}' has no argument '{arg}'{hint}"
                                 f"; its arguments: {', '.join(allowed)}")
    bound = {}
    for arg, default in definition.params.items():
        if arg not in params:
            if default is REQUIRED:
                missing = [a for a, d in definition.params.items()
                           if d is REQUIRED and a not in params]
                raise ParameterError(f"activation '{name}' needs the argument"
                                     f"{'s' if len(missing) > 1 else ''} "
                                     f"{' and '.join(missing)}")
            bound[arg] = default
        else:
            bound[arg] = _check_kind(name, arg, params[arg], default)
    if definition.check is not None:
        definition.check(name, bound)
    return Activation(definition, bound)


# Arguments tf.keras (Keras 2) named otherwise: relu(x, alpha=0.1), leaky_relu(x, alpha=0.3)
_KERAS2_NAMES = {"alpha": "negative_slope"}


def get(identifier) -> Activation:
    """An activation from a spec: a name, None (linear), a mapping {type: name, arg: value},
    an Activation (returned as is), or one of this module's functions (`relu`).

    >>> import nnctl
    >>> nnctl.activations.get("relu")([-1.0, 2.0]).tolist()
    [0.0, 2.0]
    """
    if identifier is None:
        return bind("linear")
    if isinstance(identifier, Activation):
        return identifier
    if callable(identifier) and getattr(identifier, "activation_name", None):
        return bind(identifier.activation_name)
    if callable(identifier) and not isinstance(identifier, (str, dict)):
        raise ParameterError(f"an activation is one of nnctl's (a name, a mapping or a "
                             f"function of nnctl.activations), got the function "
                             f"{getattr(identifier, '__name__', identifier)!r}: nnctl cannot "
                             "write an arbitrary Python function in a spec")
    if isinstance(identifier, str):
        return bind(identifier)
    if isinstance(identifier, dict):
        params = dict(identifier)
        name = params.pop("type", None)
        if name is None:
            raise ParameterError("an activation mapping needs a 'type' key "
                                 f"(e.g. {{type: leaky_relu, negative_slope: 0.1}}), "
                                 f"got keys {', '.join(map(str, identifier)) or 'none'}")
        return bind(name, params)
    raise ParameterError("an activation is a name or a mapping with a 'type' key, "
                         f"got {identifier!r}")


def names() -> list[str]:
    """Canonical names, in registration order."""
    return ACTIVATIONS.names()


def catalog() -> list[dict]:
    """Every activation as data for `nnctl list activations`: name, aliases, params
    {arg: default} (None for a required argument, listed in `required`), formula, advice."""
    rows = []
    for name in ACTIVATIONS.names():
        d = ACTIVATIONS.get(name)
        row = {
            "name": d.name,
            "aliases": list(d.aliases),
            "params": {k: (None if v is REQUIRED else v) for k, v in d.params.items()},
            "required": [k for k, v in d.params.items() if v is REQUIRED],
            "formula": d.formula,
            "advice": d.advice,
        }
        if d.name in DERIVATIVE_NOTES:
            row["derivative"] = DERIVATIVE_NOTES[d.name]
        rows.append(row)
    return rows


# --- Keras' functions: `nnctl.activations.relu(x)`, usable as `Dense(3, activation=relu)` ---

def _keras_function(name: str, aliases=()):
    definition = ACTIVATIONS.get(name)

    def function(x, **arguments):
        api_layers = sys.modules.get("nnctl.api.layers")   # no symbolic tensor without it
        if api_layers is not None and isinstance(x, api_layers.SymbolicTensor):
            # in a functional model or a traced call(): the layer that computes it, as Keras
            return api_layers.Activation({"type": name, **arguments} if arguments else name)(x)
        return bind(name, arguments)(x)

    params = [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(arg, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 **({} if default is REQUIRED else {"default": default}))
               for arg, default in definition.params.items()]
    function.__name__ = function.__qualname__ = name
    function.__signature__ = inspect.Signature(params)
    function.activation_name = name     # how a layer writes it in a spec
    required = {arg: 0.5 for arg, default in definition.params.items() if default is REQUIRED}
    call = ", ".join([f"[[0.5, -1.0]]"] + [f"{arg}={v}" for arg, v in required.items()])
    sample = np.array([[0.5, -1.0]])  # element-wise ones keep its shape: not computed at import
    shape = sample.shape if definition.elementwise else bind(name, required)(sample).shape
    function.__doc__ = (f"Keras' `keras.activations.{name}`: {definition.formula or name}.\n\n"
                        f"Applied to an array (to a model's tensor: an Activation layer); "
                        f"or given to a layer: "
                        f"`Dense(3, activation=nnctl.activations.{name})`.\n\n"
                        f"    >>> import nnctl\n"
                        f"    >>> nnctl.activations.{name}({call}).shape\n"
                        f"    {shape}\n")
    return function


def serialize(activation) -> str | dict:
    """The spec form of an activation (Keras' serialize): its name, or a mapping with its
    arguments when they differ from Keras' defaults.

    >>> import nnctl
    >>> nnctl.activations.serialize(nnctl.activations.relu)
    'relu'
    """
    name = getattr(activation, "activation_name", None)
    return name if name is not None else get(activation).spec()


def deserialize(config) -> Activation:
    """An activation from its serialized form, as Keras' deserialize.

    >>> import nnctl
    >>> nnctl.activations.deserialize("relu")
    Activation(relu)
    """
    return get(config)


KERAS_FUNCTIONS = []
for _name in ACTIVATIONS.names():
    _definition = ACTIVATIONS.get(_name)
    for _alias in (_name, *_definition.aliases):
        globals()[_alias] = _keras_function(_name)
        KERAS_FUNCTIONS.append(_alias)
