"""The coefficients of nnctl/special.py: Chebyshev series of the normal tail, fitted with mpmath.

    python tools/fit_normal_tail.py          # prints the two tuples to paste into special.py

For a >= 0, with z = a / sqrt(2), t = 2 / (2 + z) and y = 2 t - 1 = (2 sqrt 2 - a) / (2 sqrt 2 + a)
(y runs over (-1, 1] as a runs over [0, inf)):

    Q(a) = P(Z > a) = erfc(z) / 2 = t exp(-z^2 + f(y)) / 2,   f(y) = log(erfc(z) / t) + z^2

f is smooth on [-1, 1] (it tends to -log(2 sqrt(pi)) as a grows: erfc's asymptote), so its
Chebyshev series converges fast (the idea of Numerical Recipes' erfc, refitted here). The
coefficients are computed from 60-digit values at Chebyshev nodes; the series is cut where its
terms fall below the dtype's precision: 28 terms on [-1, 1] for float64 (evaluated by
Clenshaw's recurrence); for float32, 10 terms on [Y32, 1], the y of a = A32 = 14.5, beyond which
Q is 0 in float32 (turned into a plain polynomial in y, evaluated by Horner's rule; the 1/4 of
Q = (1 + y)/4 exp(...) is folded into its constant term).
"""
from __future__ import annotations

import mpmath as mp
from numpy.polynomial import Chebyshev, Polynomial

mp.mp.dps = 60
NODES = 160
A32 = 14.5
Y32 = (2 * 2 ** 0.5 - A32) / (2 * 2 ** 0.5 + A32)


def f(y):
    t = (mp.mpf(y) + 1) / 2
    if t == 0:
        return -mp.log(2 * mp.sqrt(mp.pi))
    z = 2 / t - 2
    return mp.log(mp.erfc(z) / t) + z * z


def chebyshev_coefficients(count: int, low=-1.0) -> list:
    """The series of f on [low, 1], in u = (2 y - low - 1) / (1 - low)."""
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES)]
    values = [f(low + (1 - mp.mpf(low)) * (u + 1) / 2) for u in nodes]
    coefficients = []
    for j in range(count):
        total = sum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / NODES)
                    for k, v in enumerate(values))
        coefficients.append(total * 2 / NODES / (2 if j == 0 else 1))
    return coefficients


def main() -> None:
    series = chebyshev_coefficients(40)
    short = chebyshev_coefficients(14, Y32)
    print("# next terms (truncation error):",
          ", ".join(mp.nstr(abs(c), 2) for c in (series[28], short[10])))
    print("_CHEBYSHEV64 = (" + ", ".join(repr(float(c)) for c in series[:28]) + ")")
    power = Chebyshev([float(c) for c in short[:10]], domain=[Y32, 1]).convert(
        kind=Polynomial, domain=[-1, 1]).coef
    power[0] -= float(mp.log(4))
    print("_POLYNOMIAL32 = (" + ", ".join(repr(float(c)) for c in power) + ")")


if __name__ == "__main__":
    main()
