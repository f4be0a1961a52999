"""Golden data for nnctl.special: the normal tail Q(a) = erfc(a / sqrt 2) / 2 in 50 digits.

    python3 tools/golden/normal_tail.py      # needs mpmath; writes tests/golden/normal_tail.json

math.erfc cannot be the yardstick in the tails: a / sqrt 2 is rounded before erfc sees it,
which moves Q(a) by up to a^2 float64 ulps (600 at a = 25). The points are float64 numbers
(exact in JSON), dense where values are usual and out to Q's underflow; the values are
correctly rounded to float64.
"""
from __future__ import annotations

import json
from pathlib import Path

import mpmath as mp
import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "golden" / "normal_tail.json"


def main() -> None:
    mp.mp.dps = 50
    points = np.unique(np.concatenate([
        np.linspace(0, 6, 601), np.linspace(6, 38.4, 325), np.logspace(-12, 0, 49),
        np.float32(np.linspace(0, 13.5, 271)).astype(np.float64)]))  # float32 inputs too
    values = [float(mp.erfc(mp.mpf(float(a)) / mp.sqrt(2)) / 2) for a in points]
    OUT.write_text(json.dumps({"about": __doc__.splitlines()[0], "a": points.tolist(),
                               "q": values}) + "\n")


if __name__ == "__main__":
    main()
