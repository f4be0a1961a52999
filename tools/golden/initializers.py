"""Golden data for nnctl.initializers, from Keras 3 itself.

Run with the reference environment (not needed by the tests):

    KERAS_BACKEND=numpy /opt/keras-ref/bin/python tools/golden/initializers.py

Writes tests/golden/initializers.json:
  names         every name keras.initializers.get() accepts -> Keras class name, the
                constructor's arguments with their defaults, and the default get_config();
  fans          compute_fans for scalar, 1-D ... 5-D shapes;
  deterministic exact values of zeros, ones, constant and identity (square, tall, wide);
  seeded        exact values of seeded random initializers under the NumPy backend (Keras
                samples with np.random.default_rng([seed, 0]), which nnctl reproduces).
"""
from __future__ import annotations

import inspect
import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "numpy")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src import initializers as keras_initializers  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "golden" / "initializers.json"

FAN_SHAPES = [(), (1,), (7,), (9, 1), (1, 9), (3, 4), (784, 10), (5, 3, 2), (3, 3, 16, 32),
              (1, 1, 8, 4), (5, 5, 3, 64), (2, 3, 3, 4, 6), (0, 4), (3, 0, 2, 2)]

DETERMINISTIC = [
    ("Zeros", {}, (2, 3)),
    ("Ones", {}, (3,)),
    ("Constant", {"value": 2.5}, (2, 2)),
    ("Constant", {"value": -0.1}, (3, 1)),
    ("Identity", {}, (3, 3)),
    ("Identity", {"gain": 0.5}, (4, 2)),
    ("Identity", {"gain": 2.0}, (2, 5)),
]

SEEDED = [
    ("RandomNormal", {}, (9, 1), 7),
    ("RandomNormal", {"mean": 1.0, "stddev": 2.0}, (3, 4), 0),
    ("RandomUniform", {}, (9, 1), 7),
    ("RandomUniform", {"minval": 2.0, "maxval": 5.0}, (4, 3), 1),
    ("TruncatedNormal", {}, (9, 1), 7),
    # 60 values need a second batch of draws (about 4.6% of each batch is rejected).
    ("TruncatedNormal", {"mean": 0.5, "stddev": 3.0}, (60,), 11),
    ("VarianceScaling", {}, (3, 4), 5),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}, (3, 4), 5),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "untruncated_normal"},
     (2, 2, 3, 4), 5),
    ("VarianceScaling", {"distribution": "normal"}, (4, 2), 9),
    ("GlorotNormal", {}, (9, 1), 7),
    ("GlorotUniform", {}, (9, 1), 7),
    ("HeNormal", {}, (9, 1), 7),
    ("HeUniform", {}, (9, 1), 7),
    ("LecunNormal", {}, (3, 3, 2, 2), 3),
    ("LecunUniform", {}, (3, 3, 2, 2), 3),
    ("HeNormal", {}, (9, 1), 0),
    ("Orthogonal", {}, (4, 4), 7),
    ("Orthogonal", {"gain": 2.0}, (6, 3), 1),
    ("Orthogonal", {}, (3, 6), 2),
    ("Orthogonal", {}, (2, 2, 3, 5), 4),
]


def floats(array) -> list:
    return np.asarray(array, dtype=np.float64).ravel().tolist()


def params(cls) -> dict:
    """{argument: default} of the constructor (Keras' get_config() omits some, e.g. gain)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind in kinds}


def main() -> None:
    names = {}
    for key, cls in sorted(keras_initializers.ALL_OBJECTS_DICT.items()):
        try:
            config = cls().get_config()
        except Exception as exc:  # the abstract base, or an initializer needing arguments
            config = {"error": f"{type(exc).__name__}: {exc}"}
        names[key] = {"class_name": cls.__name__, "config": config, "params": params(cls)}

    fans = [{"shape": list(s), "fans": list(compute_fans(s))} for s in FAN_SHAPES]

    deterministic = []
    for class_name, args, shape in DETERMINISTIC:
        for dtype in ("float32", "float64"):
            init = getattr(keras.initializers, class_name)(**args)
            values = np.asarray(init(shape=shape, dtype=dtype))
            deterministic.append({"class_name": class_name, "args": args, "shape": list(shape),
                                  "dtype": dtype, "values": floats(values)})

    seeded = []
    for class_name, args, shape, seed in SEEDED:
        for dtype in ("float32", "float64"):
            init = getattr(keras.initializers, class_name)(**args, seed=seed)
            values = np.asarray(init(shape=shape, dtype=dtype))
            # NOTE: under the NumPy backend ops.qr converts its input to floatx, so Keras'
            # Orthogonal gives float32 values even for dtype float64; keras_dtype records it.
            seeded.append({"class_name": class_name, "args": args, "shape": list(shape),
                           "seed": seed, "dtype": dtype, "keras_dtype": values.dtype.name,
                           "config": init.get_config(), "values": floats(values)})

    data = {"keras_version": keras.__version__, "backend": keras.backend.backend(),
            "numpy_version": np.__version__, "names": names, "fans": fans,
            "deterministic": deterministic, "seeded": seeded}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(names)} names, {len(seeded)} seeded samples)", file=sys.stderr)


if __name__ == "__main__":
    main()
