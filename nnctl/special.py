"""The normal distribution's tail and CDF, vectorized: NumPy has no erf, and exact GELU needs it.

    normal_tail(a)   Q(a) = P(Z > a) = erfc(a / sqrt 2) / 2, for a >= 0
    normal_cdf(x)    Phi(x) = P(Z <= x)

Both keep the dtype of a float array, with relative accuracy in the tails too (Q(30) is
4.9e-198, not 0). Measured against 50-digit values (tests/test_special.py): float64 within 7
ulps everywhere; float32, computed in float32 (half the work), within 5 float32 ulps where
a < 3 (Q > 1e-3) and up to a^2 / 2 ulps beyond (60 at a = 11, where Q is 2e-28).

How (tools/fit_normal_tail.py fits the coefficients): with z = a / sqrt 2, t = 2 / (2 + z) and
y = 2t - 1, erfc(z) = t exp(-z^2 + f(y)), where f is smooth on [-1, 1] and has a fast-converging
Chebyshev series (the method of Numerical Recipes' erfc). One formula for every a, no branches:
arrays are computed in slices that stay in the CPU cache.
"""
from __future__ import annotations

import math
import os

import numpy as np

# Chebyshev coefficients of f(y) (28 terms: the next is 5e-20) ...
_CHEBYSHEV64 = (
    -0.6513268598908547, 0.6419697923564902, 0.019476473204185836, -0.009561514786808632,
    -0.0009465953444820369, 0.00036683949785276145, 4.252332480690777e-05,
    -2.0278578112534242e-05, -1.6242900046470256e-06, 1.3036558355805232e-06,
    1.5626441722066142e-08, -8.523809591492654e-08, 6.5290544390988515e-09,
    5.059343495551469e-09, -9.91364156493033e-10, -2.273651222931836e-10,
    9.646791102015527e-11, 2.3940380830391146e-12, -6.886027526497553e-12,
    8.944879273090725e-13, 3.130921399342958e-13, -1.1270822361367252e-13,
    3.810905255189232e-16, 7.106097613609237e-15, -1.5230282014571043e-15,
    -9.457494571291233e-17, 1.210237189224279e-16, -2.816663087747177e-17)
# ... and its first 12 terms as a polynomial in y, minus log 4 (Q = (1 + y) / 4 exp(...)).
_POLYNOMIAL32 = tuple(np.float32(c) for c in (
    -2.0580884528006664, 0.672643154774543, 0.047343887612987114, -0.046893640559962625,
    -0.009880019324020219, 0.008808825369385995, 0.0017940662497394014,
    -0.002288765238593006, -0.00022791096599906395, 0.0005737663720050471,
    8.000738161697865e-06, -8.728381021688478e-05))
_LOG4 = math.log(4)
_TWO_SQRT2 = 2 * math.sqrt(2)
# Q(40) = 3.7e-350 is 0 in float64: larger arguments are clipped here (inf too, without a NaN).
_TAIL_END = 40.0
_HIGH_BITS64 = np.uint64(2 ** 64 - 2 ** 27)  # a float64's sign, exponent and 26 mantissa bits
# Elements per slice: a slice and its few temporaries stay in the L2 cache.
SLICE = 16384
# Arrays of at least this many elements are computed by several threads.
PARALLEL_SIZE = 8 * SLICE


def normal_tail(a: np.ndarray) -> np.ndarray:
    """Q(a) = P(Z > a) for a float array a >= 0 (NaN stays NaN), in a's dtype."""
    return by_slices(_clipped_tail, a)


def by_slices(function, x: np.ndarray) -> np.ndarray:
    """function(x) for an element-wise `function` of a float array, computed SLICE elements at
    a time: a long chain of NumPy operations then works in the cache, not in memory. A large
    array is shared between threads, one per core (NumPy computes without the GIL)."""
    x = np.asarray(x)
    if x.size <= SLICE:
        return function(x)
    out = np.empty_like(x)
    flat, result = x.reshape(-1), out.reshape(-1)

    errors = np.geterr()  # the caller's floating-point error handling, which threads lack

    def run(first: int, last: int) -> None:
        with np.errstate(**errors):
            for start in range(first, last, SLICE):
                stop = min(start + SLICE, last)
                result[start:stop] = function(flat[start:stop])

    pool = _pool() if flat.size >= PARALLEL_SIZE else None
    if pool is None:
        run(0, flat.size)
    else:
        share = -(-flat.size // (pool._max_workers * SLICE)) * SLICE
        bounds = range(0, flat.size, share)
        for done in [pool.submit(run, first, min(first + share, flat.size)) for first in bounds]:
            done.result()
    return out


def _pool():
    """The threads of by_slices (None on one core), started at the first large array."""
    global _POOL
    if _POOL is False:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if (cores or 1) > 1:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(cores, thread_name_prefix="nnctl-slices")
        else:
            _POOL = None
    return _POOL


_POOL = False


def tail_argument(x: np.ndarray) -> np.ndarray:
    """|x|, clipped where Q underflows to 0 in every dtype (inf included: no 0 * inf later)."""
    return np.minimum(np.abs(x), x.dtype.type(_TAIL_END))


def _clipped_tail(a: np.ndarray) -> np.ndarray:
    return tail(np.minimum(a, a.dtype.type(_TAIL_END)))


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) for a float array, in its dtype: Q(-x) for x < 0, 1 - Q(x) otherwise."""
    x = np.asarray(x)
    q = normal_tail(np.abs(x))
    return np.where(x < 0, q, 1 - q)


def tail(a: np.ndarray) -> np.ndarray:
    """Q(a) for 0 <= a <= _TAIL_END, in one pass (by_slices cuts long arrays for it)."""
    dtype = a.dtype.type
    denominator = a + dtype(_TWO_SQRT2)
    y = dtype(_TWO_SQRT2) - a
    y /= denominator
    if dtype is np.float64:
        exponent = _chebyshev(y)
        # -z^2 = -a^2 / 2 rounded would cost a^2/2 ulps (500 at a = 34): a = hi + lo with hi
        # of 26 bits, so that hi^2 is exact and exp(-hi^2 / 2) is the only large factor.
        hi = (a.view(np.uint64) & _HIGH_BITS64).view(np.float64)
        lo = a - hi
        lo *= a + hi
        lo *= -0.5
        exponent += lo
        np.exp(exponent, out=exponent)
        hi *= hi
        hi *= -0.5
        exponent *= np.exp(hi, out=hi)
    else:
        # float32: a^2 / 2 rounded costs up to 60 float32 ulps where a > 10 (Q < 1e-23), a few
        # below: not worth the second exp that the float64 branch pays.
        exponent = a * a
        exponent *= dtype(-0.5)
        exponent += _horner(y, _POLYNOMIAL32)
        np.exp(exponent, out=exponent)
    y += dtype(1)
    exponent *= y
    return exponent


def _horner(y: np.ndarray, coefficients) -> np.ndarray:
    p = y * coefficients[-1]
    for c in coefficients[-2:0:-1]:
        p += c
        p *= y
    p += coefficients[0]
    return p


def _chebyshev(y: np.ndarray) -> np.ndarray:
    """sum c_k T_k(y) - log 4 by Clenshaw's recurrence (float64)."""
    twice = 2 * y
    b1 = np.full_like(y, _CHEBYSHEV64[-1])
    b2 = np.zeros_like(y)
    for c in _CHEBYSHEV64[-2:0:-1]:
        b2 -= c
        np.negative(b2, out=b2)  # b2 = c - b2 (b2 is the old b2, about to be dropped)
        b2 += twice * b1
        b1, b2 = b2, b1
    b2 -= _CHEBYSHEV64[0] - _LOG4
    np.negative(b2, out=b2)
    b2 += y * b1
    return b2
