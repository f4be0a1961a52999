"""nnctl.special: the normal tail and CDF against 50-digit values, in float64 and float32."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nnctl import activations, special

from conftest import GOLDEN

# Q(a) in 50 digits, rounded to float64, from 0 to its underflow (tools/golden/normal_tail.py)
GOLDEN_TAIL = json.loads((GOLDEN / "normal_tail.json").read_text())
POINTS = np.array(GOLDEN_TAIL["a"])
TAIL = np.array(GOLDEN_TAIL["q"])


def ulps(actual, expected, dtype) -> np.ndarray:
    return np.abs(actual.astype(np.float64) - expected) / expected / np.finfo(dtype).eps


def test_float64_tail_is_exact_to_a_few_ulps_everywhere():
    q = special.normal_tail(POINTS)
    assert q.dtype == np.float64
    assert ulps(q, TAIL, np.float64).max() <= 8


def test_float32_tail():
    """A few float32 ulps where Q > 1e-3; the rounding of a^2 / 2 adds up to a^2 / 2 ulps
    beyond (documented in nnctl/special.py)."""
    exact = (POINTS.astype(np.float32) == POINTS) & (TAIL > np.finfo(np.float32).tiny)
    a, expected = POINTS[exact].astype(np.float32), TAIL[exact]
    assert len(a) > 250
    q = special.normal_tail(a)
    assert q.dtype == np.float32
    error = ulps(q, expected, np.float32)
    assert error[a < 3].max() <= 6
    assert (error <= 6 + a.astype(np.float64) ** 2 / 2).all()


def test_float32_argument_tail():
    """a Q(a) for exact GELU in float32 (a rational function times exp(-a^2 / 2)): 2 ulps where
    a < 3, plus the a^2 / 2 ulps of rounding a^2 / 2 beyond (documented in nnctl/special.py)."""
    inside = (POINTS.astype(np.float32) == POINTS) & (POINTS <= 14.5) & (
        POINTS * TAIL > np.finfo(np.float32).tiny)
    a, expected = POINTS[inside].astype(np.float32), POINTS[inside] * TAIL[inside]
    assert len(a) > 250
    out = special.argument_tail32(a, np.empty_like(a), np.empty_like(a))
    assert out.dtype == np.float32
    error = ulps(out, expected, np.float32)
    assert error[a < 3].max() <= 2
    assert (error <= 2 + a.astype(np.float64) ** 2 / 2).all()


def test_float32_gelu_on_a_dense_grid():
    """Exact GELU in float32 against float64 (itself within a few float64 ulps), every float32
    step of 2e-5 from -14 (where x Phi(x) leaves the normal floats) to 6: 5 ulps where
    |x| < 3, (1 + x^2 / 2) 3 ulps out to -14."""
    x = np.linspace(-14, 6, 1_000_001).astype(np.float32)
    gelu = activations.get("gelu")
    y, expected = gelu(x), gelu(x.astype(np.float64))
    normal = np.abs(expected) > np.finfo(np.float32).tiny
    assert normal.sum() > 950_000
    x, y, expected = x[normal].astype(np.float64), y[normal], expected[normal]
    error = np.abs(y - expected) / np.abs(expected) / np.finfo(np.float32).eps
    assert error[np.abs(x) < 3].max() <= 5
    assert (error <= 3 * (1 + x ** 2 / 2)).all()


def test_math_erf_agrees_where_its_argument_is_exact():
    """Against the standard library: x Phi(x) = x erfc(-x / sqrt 2) / 2, at rtol 1e-13 where
    rounding x / sqrt 2 costs little (|x| <= 3)."""
    x = np.linspace(-3, 3, 1201)
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x.tolist()])
    np.testing.assert_allclose(special.normal_cdf(x), expected, rtol=1e-13, atol=0)


def test_ends_and_nan():
    for dtype in (np.float32, np.float64):
        a = np.array([0, np.inf, 1e30, np.nan], dtype)
        q = special.normal_tail(a)
        assert q.dtype == dtype
        assert abs(q[0] - 0.5) <= 2 * np.finfo(dtype).eps and q[1] == 0 and q[2] == 0 and np.isnan(q[3])


def test_cdf_both_sides():
    phi = special.normal_cdf(np.concatenate([-POINTS, POINTS]))
    np.testing.assert_allclose(phi[:len(POINTS)], TAIL, rtol=8 * np.finfo(np.float64).eps)
    np.testing.assert_allclose(phi[len(POINTS):], 1 - TAIL, rtol=2 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_arrays_by_slices_and_threads_give_the_same_values(dtype):
    """An array of several slices (and past PARALLEL_SIZE, several threads) computes what its
    elements give one by one; shapes are kept."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((special.PARALLEL_SIZE // 50 + 3, 50)) * 4).astype(dtype)
    x[-1, :6] = [-np.inf, np.inf, np.nan, -1e30, 1e30, -0.0]  # the path of rare values too
    gelu = activations.get("gelu")
    y = gelu(x)
    assert y.shape == x.shape and y.dtype == dtype
    step = x.size // 7
    flat = x.reshape(-1)
    pieces = np.concatenate([gelu(flat[k:k + step]) for k in range(0, flat.size, step)])
    np.testing.assert_array_equal(y.reshape(-1), pieces)
    assert np.isnan(y[-1, [0, 2]]).all() and y[-1, 1] == np.inf
    assert (y[-1, 3:6] == [0, x[-1, 4], 0]).all()
    a = np.abs(x)
    assert np.array_equal(special.normal_tail(a), special.normal_tail(a[::-1])[::-1], equal_nan=True)
    # any layout (a transposed array's result was left unwritten) and size
    np.testing.assert_array_equal(gelu(x.T), gelu(np.ascontiguousarray(x.T)))
    assert gelu(np.zeros((0, 3), dtype)).shape == (0, 3)
