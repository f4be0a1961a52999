"""Every activation on both engines: what ONNX Runtime saves (or costs) a value, against NumPy.

    python benchmarks/activations.py              # a 16,384 x 64 float32 batch, median of 9
    python benchmarks/activations.py --rows 4096 --repeat 5

For each activation, one Activation layer run on the same batch (N(0, 9) values) in this
process: the NumPy engine (nnctl.activations, sliced on every core where it pays) and ONNX
Runtime on nnctl's export of the layer (its optimizer on, as `--engine onnxruntime` runs it).
Wall time a value, and the difference: what `--engine auto` weighs for an MLP
(nnctl.engines: SAVES_MUCH, SLOWER_ON_ONNXRUNTIME). Lines are sorted by that difference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nnctl import activations  # noqa: E402
from nnctl.model import build_model  # noqa: E402
from nnctl.onnx.export import to_onnx  # noqa: E402
from nnctl.spec import parse_spec  # noqa: E402
from nnctl.yamlpos import Located  # noqa: E402

# the activation with no default for its arguments
ARGUMENTS = {"threshold": {"threshold": 0.3, "default_value": -1.0}}


def per_value(function, size: int, repeat: int) -> float:
    """Median wall time of function() over `repeat` rounds, in ns a value."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / size * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16384)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((args.rows, 64)).astype(np.float32) * 3
    print(f"{args.rows:,} x 64 float32, median of {args.repeat}, load average "
          f"{os.getloadavg()[0]:.2f}; ns a value, wall time")
    rows = []
    for name in activations.names():
        config = {"type": name, **ARGUMENTS.get(name, {})}
        model = build_model(parse_spec(Located({"name": "a", "input": [64], "layers": [
            {"type": "Activation", "activation": config}]}, {}, "benchmark.yaml")))
        numpy_engine = activations.get(config)
        session = ort.InferenceSession(to_onnx(model, {}).SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        rows.append((name, per_value(lambda: numpy_engine(x), x.size, args.repeat),
                     per_value(lambda: session.run(None, feed), x.size, args.repeat)))
    print(f"  {'activation':<15} {'numpy':>7} {'onnxruntime':>12} {'saved':>7}")
    for name, mine, theirs in sorted(rows, key=lambda r: r[1] - r[2]):
        print(f"  {name:<15} {mine:7.2f} {theirs:12.2f} {mine - theirs:7.2f}")


if __name__ == "__main__":
    main()
