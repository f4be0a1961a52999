"""The NumPy forward pass equals Keras 3's, for every config and test architecture."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import CONFIGS, SPECS, SPEC_FILES, forward_golden as golden
from nnctl.model import load_model



def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_forward_equals_keras(path):
    g = golden(path.stem)
    model = load_model(str(path))
    weights = model.check_weights(g["weights"])
    out = model.forward(g["inputs"], weights)
    assert list(out) == list(g["outputs"])
    for name, want in g["outputs"].items():
        assert out[name].dtype == np.dtype(model.dtype)
        # NOTE: Keras 3 on its numpy/jax backends computes float64 layers in float32 (its type
        # promotion maps float64 to float32), so a float64 golden is checked at float32 rtol.
        np.testing.assert_allclose(out[name], want, **tolerance(want.dtype))


def test_normalization_is_keras_arithmetic():
    # BatchNormalization and LayerNormalization fold their statistics as Keras'
    # batch_normalization does, and LayerNormalization's variance is Keras' mean(x^2) -
    # mean(x)^2: the outputs are Keras' well inside the rtol 1e-5 above (centred variance
    # and (x - mean) * inv: 5e-6 off, which this fails)
    g = golden("normalization_axes")
    model = load_model(str(SPECS / "normalization_axes.yaml"))
    out = model.forward(g["inputs"], model.check_weights(g["weights"]))
    for name, want in g["outputs"].items():
        np.testing.assert_allclose(out[name], want, rtol=1e-6, atol=1e-7)


def test_weights_are_checked_by_name_and_shape():
    from nnctl.errors import WeightsError

    g = golden("article_sequential")
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    weights = dict(g["weights"])
    weights["layer2/kernel"] = np.zeros((3, 3), np.float32)
    with pytest.raises(WeightsError, match=r"layer 'layer2': weight 'kernel' has shape "
                                           r"\(3, 3\), expected \(3, 2\)"):
        model.check_weights(weights)
    del weights["layer2/kernel"]
    with pytest.raises(WeightsError, match="weight 'kernel' is missing"):
        model.check_weights(weights)
    weights = dict(g["weights"], **{"layer9/kernel": np.zeros(2)})
    with pytest.raises(WeightsError, match="unexpected weight 'layer9/kernel'"):
        model.check_weights(weights)


def test_init_weights_depend_only_on_seed_and_name():
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    a = model.init_weights(seed=3)
    b = model.init_weights(seed=3)
    c = model.init_weights(seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["layer1/kernel"], c["layer1/kernel"])
    # a model with one more layer leaves the others' weights unchanged
    bigger = load_model(str(CONFIGS / "article_sequential.yaml"))
    assert np.array_equal(bigger.init_weights(seed=3)["layer2/kernel"], a["layer2/kernel"])


def test_tap_intermediate_outputs():
    g = golden("diamond")
    model = load_model(str(SPECS / "diamond.yaml"))
    weights = model.check_weights(g["weights"])
    out = model.forward(g["inputs"], weights, outputs=["left1", "out"])
    x = g["inputs"]["x"]
    want = np.maximum(x @ weights["left1/kernel"] + weights["left1/bias"], 0)
    np.testing.assert_allclose(out["left1"], want, rtol=1e-6)
    np.testing.assert_allclose(out["out"], g["outputs"]["out"], rtol=1e-5, atol=1e-6)
