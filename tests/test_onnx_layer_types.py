"""The layer types of issue 14 exported to ONNX give the NumPy engine's numbers in float32 and
float64 (ONNX Runtime lacks float64 kernels for some operators: the export avoids them), for
a batch of any size, with input sizes known only at run time where the layer allows it."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from nnctl.model import build_model  # noqa: E402
from nnctl.onnx.export import to_onnx  # noqa: E402
from nnctl.spec import parse_spec  # noqa: E402
from nnctl.yamlpos import load_yaml  # noqa: E402

EVERY_LAYER = """
    input: [4, 3, 2]
    layers:
      - {type: Rescaling, scale: [0.5, 2.0], offset: 0.1}
      - {type: Normalization}
      - {type: Normalization, axis: null, mean: 0.2, variance: 1.5, invert: true}
      - {type: ZeroPadding2D, padding: [[1, 0], [0, 2]]}
      - {type: Cropping2D, cropping: [1, 0], data_format: channels_first}
      - {type: UpSampling2D}
      - {type: UpSampling2D, size: [1, 2], interpolation: bilinear}
      - {type: UpSampling2D, size: [2, 1], interpolation: bicubic, data_format: channels_first}
      - {type: PReLU, shared_axes: [1]}
      - {type: ReLU, max_value: 2, negative_slope: 0.1, threshold: 0.2}
      - {type: LeakyReLU}
      - {type: ELU, alpha: 0.5}
      - {type: Softmax, axis: [1, 2]}
      - {type: Softmax}
      - {type: Permute, dims: [3, 1, 2]}
      - {type: Flatten}
      - {type: RepeatVector, n: 2}
      - {type: UpSampling1D}
      - {type: Cropping1D, cropping: [1, 0]}
      - {type: ZeroPadding1D, data_format: channels_first}
"""


def model_of(text, dtype):
    return build_model(parse_spec(load_yaml(f"dtype: {dtype}\n" + textwrap.dedent(text),
                                            "<test>")))


def random_weights(model, rng):
    return {k: (rng.uniform(0.5, 2.0, w.shape) if w.name == "variance"
                else rng.normal(size=w.shape)).astype(node.dtype)
            for k, (node, w) in model.weight_specs().items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_new_layer_type_in_onnx_runtime(dtype):
    model = model_of(EVERY_LAYER, dtype)
    rng = np.random.default_rng(5)
    weights = random_weights(model, rng)
    session = ort.InferenceSession(to_onnx(model, weights).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        x = rng.normal(0, 2, (batch, 4, 3, 2)).astype(dtype)
        (got,) = session.run(None, {"input_layer": x})
        want = model.forward({"input_layer": x}, weights)[model.outputs[0]]
        assert got.dtype == want.dtype and got.shape == want.shape
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=0)
        np.testing.assert_allclose(got, want, **tol)


def test_unknown_sizes_at_run_time():
    """Padding, cropping, nearest upsampling and the activation layers on a sequence whose
    length is known only at run time."""
    model = model_of("""
        input: [null, 3]
        layers:
          - {type: ZeroPadding1D, padding: [2, 1]}
          - {type: Cropping1D, cropping: [1, 2]}
          - {type: UpSampling1D, size: 3}
          - {type: PReLU, shared_axes: [1]}
          - {type: Softmax}
    """, "float32")
    rng = np.random.default_rng(6)
    weights = random_weights(model, rng)
    session = ort.InferenceSession(to_onnx(model, weights).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    for steps in (2, 7):
        x = rng.normal(size=(2, steps, 3)).astype(np.float32)
        (got,) = session.run(None, {"input_layer": x})
        want = model.forward({"input_layer": x}, weights)[model.outputs[0]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_normalization_of_a_flat_row_far_from_zero_is_finite(dtype):
    """Keras' variance mean(x^2) - mean(x)^2 rounds to a negative number on a flat row far
    from 0 (1000.1, 64 times), whose square root is NaN: clamped at 0 the outputs are finite,
    and the decomposed ONNX form (float64 models) computes the same numbers."""
    model = model_of("input: [64]\nlayers:\n  - {type: LayerNormalization}\n", dtype)
    weights = model.init_weights(0)
    rows = np.full((3, 64), 1000.1, dtype)
    rows[2] += np.linspace(-1, 1, 64, dtype=dtype)
    mean = rows.mean(axis=1, keepdims=True)
    assert ((np.square(rows).mean(axis=1, keepdims=True) - np.square(mean)) < 0).any()
    out = model.forward({"input_layer": rows}, weights)[model.outputs[0]]
    assert np.isfinite(out).all()
    session = ort.InferenceSession(to_onnx(model, weights).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input_layer": rows})
    assert np.isfinite(got).all()
    if dtype == "float64":
        np.testing.assert_allclose(got, out, rtol=1e-9, atol=1e-8)
