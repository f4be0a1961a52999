"""The normal distribution's tail and CDF, vectorized: NumPy has no erf, and exact GELU needs it.

    normal_tail(a)            Q(a) = P(Z > a) = erfc(a / sqrt 2) / 2, for a >= 0
    normal_cdf(x)             Phi(x) = P(Z <= x)
    argument_tail32(a, ...)   a Q(a) in float32, exact GELU's term (x Phi(x) = relu(x) - a Q(a))

Both keep the dtype of a float array, with relative accuracy in the tails too (Q(30) is
4.9e-198, not 0). Measured against 50-digit values (tests/test_special.py): float64 within 7
ulps everywhere; float32, computed in float32 (half the work), within 6 float32 ulps where
a < 3 (Q > 1e-3) and about a^2 / 2 ulps beyond (76 at a = 12, where Q is 2e-33).

How (tools/fit_normal_tail.py fits the coefficients): with z = a / sqrt 2, t = 2 / (2 + z) and
y = 2t - 1, erfc(z) = t exp(-z^2 + f(y)), where f is smooth on [-1, 1] and has a fast-converging
Chebyshev series (the method of Numerical Recipes' erfc). One formula for every a, no branches:
arrays are computed in slices that stay in the CPU cache.

Exact GELU in float32 takes a shorter road: a Q(a) = exp(-a^2 / 2) N(a) / D(a), a rational
function of degree 5 fitted to 6e-9 relative error (a twentieth of an ulp) on [0, 14.5], with
positive coefficients (no cancellation); 23 NumPy passes into buffers that by_slices allocates
once per thread, where the Chebyshev road takes 27 and allocates its temporaries per slice.
Measured against the 50-digit values: within 2 float32 ulps where a < 3, and the a^2 / 2 ulps of
rounding a^2 / 2 beyond; GELU itself within 5 ulps of float64 where |x| < 3.
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
# ... and for float32, 10 terms of its series on [y(A32), 1] as a polynomial in y, minus log 4
# (Q = (1 + y) / 4 exp(...)): beyond a = A32, Q is 0 in float32.
_POLYNOMIAL32 = tuple(np.float32(c) for c in (
    -2.0580884215358877, 0.6726427166748008, 0.04734148268751303, -0.04688259498810856,
    -0.009852795139363149, 0.008727895343387939, 0.001697699372847973,
    -0.0020479251452988675, -0.00011937978214848012, 0.0002870098441214999))
# ... and for exact GELU in float32, a Q(a) = exp(-a^2 / 2) N(a) / D(a) on [0, A32]: N's
# coefficients of a^1..a^5, then D's of a^0..a^4 (D is monic); relative error 6e-9.
_GELU_RATIONAL32 = (
    (48.45868148119541, 42.47851575816399, 17.758761519955016, 3.9380979821354902,
     0.3989469099251606),
    (96.91736238931821, 162.28593940140922, 116.54382299257104, 45.50010732892387,
     9.871972550420013))
_LOG4 = math.log(4)
_TWO_SQRT2 = 2 * math.sqrt(2)
# Q(40) = 3.7e-350 is 0 in float64, Q(14.5) = 6e-48 in float32: larger arguments are clipped
# there (inf too, without a NaN).
_TAIL_END = {np.dtype(np.float64): 40.0, np.dtype(np.float32): 14.5}
TAIL_END32 = np.float32(_TAIL_END[np.dtype(np.float32)])
_HIGH_BITS64 = np.uint64(2 ** 64 - 2 ** 27)  # a float64's sign, exponent and 26 mantissa bits
# Bytes per slice (32,768 float64, 65,536 float32): a slice and its few temporaries stay in
# the L2 cache. Arrays of at least PARALLEL_SIZE elements are computed by several threads.
SLICE_BYTES = 1 << 18
PARALLEL_SIZE = 1 << 17


def normal_tail(a: np.ndarray) -> np.ndarray:
    """Q(a) = P(Z > a) for a float array a >= 0 (NaN stays NaN), in a's dtype."""
    return by_slices(_clipped_tail, a)


def by_slices(function, x: np.ndarray, buffers: int = 0) -> np.ndarray:
    """function(x) for an element-wise `function` of a float array, computed SLICE_BYTES at a
    time: a long chain of NumPy operations then works in the cache, not in memory. A large
    array is shared between threads, one per core (NumPy computes without the GIL).

    With `buffers` = n, the function is called as function(x, out, *scratch) instead: it writes
    its result into `out` and may use the n scratch arrays (x's size and dtype) as it likes,
    so that no temporary is allocated per slice (each thread allocates its n arrays once)."""
    x = np.asarray(x)
    step = SLICE_BYTES // x.dtype.itemsize
    if x.size <= step:
        if not buffers:
            return function(x)
        out = np.empty_like(x)
        function(x, out, *(np.empty_like(x) for _ in range(buffers)))
        return out
    out = np.empty(x.shape, x.dtype)  # C order: its reshape(-1) below is a view, not a copy
    flat, result = x.reshape(-1), out.reshape(-1)

    errors = np.geterr()  # the caller's floating-point error handling, which threads lack

    def run(first: int, last: int) -> None:
        scratch = [np.empty(step, x.dtype) for _ in range(buffers)]
        with np.errstate(**errors):
            for start in range(first, last, step):
                stop = min(start + step, last)
                if buffers:
                    size = stop - start
                    function(flat[start:stop], result[start:stop],
                             *(b[:size] for b in scratch))
                else:
                    result[start:stop] = function(flat[start:stop])

    pool = SLICE_THREADS.get() if flat.size >= PARALLEL_SIZE else None
    if pool is None:
        run(0, flat.size)
    else:
        share = -(-flat.size // (pool._max_workers * step)) * step
        bounds = range(0, flat.size, share)
        for done in [pool.submit(run, first, min(first + share, flat.size)) for first in bounds]:
            done.result()
    return out


class CoreThreads:
    """A pool of one thread per core this process may use, named `name`-N, started at its first
    use (get() is None on one core, and after stop())."""

    def __init__(self, name: str):
        self.name = name
        self._pool = False  # not started yet

    def get(self):
        if self._pool is False:
            cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                     else os.cpu_count())
            self._pool = None
            if (cores or 1) > 1:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(cores, thread_name_prefix=self.name)
        return self._pool

    def stop(self) -> None:
        """Work on the calling thread from now on: for a Dask worker, which has one core of
        the cluster's (nnctl.forward.one_slice_at_a_time)."""
        if self._pool:
            self._pool.shutdown(wait=False)
        self._pool = None


# The threads of by_slices
SLICE_THREADS = CoreThreads("nnctl-slices")


def tail_argument(x: np.ndarray) -> np.ndarray:
    """|x|, clipped where Q underflows to 0 in x's dtype (inf too: no 0 * inf later)."""
    a = np.abs(x)
    return np.minimum(a, _TAIL_END[x.dtype], out=a)


def _clipped_tail(a: np.ndarray) -> np.ndarray:
    return tail(np.minimum(a, _TAIL_END[a.dtype]))


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) for a float array, in its dtype: Q(-x) for x < 0, 1 - Q(x) otherwise."""
    x = np.asarray(x)
    q = normal_tail(np.abs(x))
    return np.where(x < 0, q, 1 - q)


def tail(a: np.ndarray) -> np.ndarray:
    """Q(a) for a float32 or float64 array with 0 <= a <= the end of its dtype's tail, in one
    pass (by_slices cuts long arrays for it)."""
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
        # float32: a^2 / 2 rounded costs up to a^2 / 2 float32 ulps (76 at a = 12, where Q is
        # 2e-33), a few below a = 3: not worth the second exp of the float64 branch.
        exponent = a * dtype(-0.5)
        exponent *= a
        exponent += _POLYNOMIAL32[0]
        exponent += _horner(y, _POLYNOMIAL32)
        np.exp(exponent, out=exponent)
    y += dtype(1)
    exponent *= y
    return exponent


def argument_tail32(a: np.ndarray, out: np.ndarray, work: np.ndarray) -> np.ndarray:
    """a Q(a) into `out`, for a float32 array 0 <= a <= TAIL_END32 (NaN stays NaN), using `work` (of
    a's size) and nothing else: 23 NumPy passes without a temporary (exact GELU's work)."""
    numerator, denominator = _RATIONAL32
    np.multiply(a, numerator[-1], out=out)
    for c in numerator[-2::-1]:
        out += c
        out *= a
    np.add(a, denominator[-1], out=work)
    for c in denominator[-2::-1]:
        work *= a
        work += c
    out /= work
    np.square(a, out=work)
    work *= np.float32(-0.5)
    out *= np.exp(work, out=work)
    return out


_RATIONAL32 = tuple(tuple(np.float32(c) for c in part) for part in _GELU_RATIONAL32)


def _horner(y: np.ndarray, coefficients) -> np.ndarray:
    """The polynomial without its constant term: (((c_n y + c_n-1) y + ...) + c_1) y."""
    p = y * coefficients[-1]
    for c in coefficients[-2:0:-1]:
        p += c
        p *= y
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
