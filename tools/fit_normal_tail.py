"""The coefficients of nnctl/special.py: Chebyshev series of the normal tail, fitted with mpmath,
and the rational function of float32's exact GELU.

    python tools/fit_normal_tail.py          # prints the three tuples to paste into special.py

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

Exact GELU in float32 needs a Q(a) = exp(-a^2 / 2) F(a), F(a) = a Q(a) exp(a^2 / 2), and F is a
smooth rise from 0 to 1 / sqrt(2 pi) (a times Mills' ratio, over sqrt(2 pi)): a rational
function of low degree fits it: N(a) / D(a), N of degree 5 without a constant term, D monic of
degree 5, all coefficients positive (no cancellation, no pole for a >= 0). The fit minimizes the largest
relative error on [0, A32] (linearized least squares on 6,000 points, reweighted by the error,
as Lawson's algorithm does): 6e-9, a twentieth of a float32 ulp.
"""
from __future__ import annotations

import mpmath as mp
import numpy as np
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


def rational_coefficients(degree: int = 5, end: float = A32):
    """N's coefficients of a^1..a^degree and D's of a^0..a^(degree - 1) (D is monic), for
    a Q(a) exp(a^2 / 2) ~ N(a) / D(a) on [0, end]; and the largest relative error."""
    def exact(a):
        a = mp.mpf(a)
        return a * mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2)

    a = np.unique(np.concatenate([np.linspace(0, end, 4000)[1:],
                                  (1 - np.cos(np.linspace(0, np.pi / 2, 2000)[1:])) * end]))
    f = np.array([float(exact(v)) for v in a])
    s = a / end  # fitted in s = a / end (well conditioned), converted to a at the end
    powers = [s ** k for k in range(degree + 1)]
    weights, previous, best = np.ones_like(s), np.ones_like(s), None
    for step in range(300):
        # minimize the relative residual (N - f D) / (f D_previous), D = s^degree + ...
        scale = np.sqrt(weights) / (f * previous)
        system = np.stack(powers[1:] + [-f * p for p in powers[:-1]], 1) * scale[:, None]
        solution = np.linalg.lstsq(system, f * powers[-1] * scale, rcond=None)[0]
        numerator = sum(c * p for c, p in zip(solution[:degree], powers[1:]))
        denominator = powers[-1] + sum(c * p for c, p in zip(solution[degree:], powers))
        error = numerator / denominator / f - 1
        if best is None or np.abs(error).max() < best[0]:
            best = (np.abs(error).max(), solution)
        if step < 20:
            previous = denominator
        else:
            weights = weights * np.sqrt(np.abs(error))
            weights = np.maximum(weights / weights.sum(), 1e-300)
    worst, solution = best
    numerator = [c / end ** (k + 1) * end ** degree for k, c in enumerate(solution[:degree])]
    denominator = [c / end ** k * end ** degree for k, c in enumerate(solution[degree:])]
    return numerator, denominator, worst


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
    numerator, denominator, worst = rational_coefficients()
    print(f"# rational: largest relative error {worst:.1e}")
    print("_GELU_RATIONAL32 = (" + repr(tuple(float(c) for c in numerator)) + ",\n    "
          + repr(tuple(float(c) for c in denominator)) + ")")


if __name__ == "__main__":
    main()
