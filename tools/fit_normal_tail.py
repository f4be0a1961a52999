"""The coefficients of nnctl/special.py: Chebyshev series of the normal tail, fitted with mpmath.

    python tools/fit_normal_tail.py          # prints the two tuples to paste into special.py

For a >= 0, with z = a / sqrt(2), t = 2 / (2 + z) and y = 2 t - 1 = (2 sqrt 2 - a) / (2 sqrt 2 + a)
(y runs over (-1, 1] as a runs over [0, inf)):

    Q(a) = P(Z > a) = erfc(z) / 2 = t exp(-z^2 + f(y)) / 2,   f(y) = log(erfc(z) / t) + z^2

f is smooth on [-1, 1] (it tends to -log(2 sqrt(pi)) as a grows: erfc's asymptote), so its
Chebyshev series converges fast (the idea of Numerical Recipes' erfc, refitted here). The
coefficients are computed from 60-digit values at Chebyshev nodes; the series is cut where its
terms fall below the dtype's precision: 28 terms for float64 (evaluated by Clenshaw's
recurrence) and 12 for float32 (turned into a plain polynomial in y, evaluated by Horner's
rule; the 1/4 of Q = (1 + y)/4 exp(...) is folded into its constant term).
"""
from __future__ import annotations

import mpmath as mp
from numpy.polynomial import chebyshev

mp.mp.dps = 60
NODES = 160


def f(y):
    t = (mp.mpf(y) + 1) / 2
    if t == 0:
        return -mp.log(2 * mp.sqrt(mp.pi))
    z = 2 / t - 2
    return mp.log(mp.erfc(z) / t) + z * z


def chebyshev_coefficients(count: int) -> list:
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES)]
    values = [f(y) for y in nodes]
    coefficients = []
    for j in range(count):
        total = sum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / NODES)
                    for k, v in enumerate(values))
        coefficients.append(total * 2 / NODES / (2 if j == 0 else 1))
    return coefficients


def main() -> None:
    series = chebyshev_coefficients(40)
    print("# next terms (truncation error):",
          ", ".join(mp.nstr(abs(c), 2) for c in (series[28], series[12])))
    print("_CHEBYSHEV64 = (" + ", ".join(repr(float(c)) for c in series[:28]) + ")")
    power = chebyshev.cheb2poly([float(c) for c in series[:12]])
    power[0] -= float(mp.log(4))
    print("_POLYNOMIAL32 = (" + ", ".join(repr(float(c)) for c in power) + ")")


if __name__ == "__main__":
    main()
