"""The layer types of issue 14 as a user meets them: the Python API, `nnctl list layers`,
`summary --macs`, default names, LeakyReLU's deprecated `alpha`."""
from __future__ import annotations

import inspect
import json
import textwrap

import numpy as np
import pytest

import nnctl
from nnctl.layers import catalog
from nnctl.model import build_model
from nnctl.spec import parse_spec
from nnctl.summary import summarize
from nnctl.yamlpos import load_yaml

NEW_TYPES = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ZeroPadding1D", "ZeroPadding2D",
             "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D", "Permute",
             "RepeatVector", "Rescaling", "Normalization"]


def model_of(text):
    return build_model(parse_spec(load_yaml(textwrap.dedent(text), "<test>")))


def test_listed_with_keras_defaults():
    rows = {row["name"]: row for row in catalog()}
    assert set(NEW_TYPES) <= set(rows)
    assert rows["LeakyReLU"]["params"]["negative_slope"] == 0.3
    assert rows["ZeroPadding2D"]["params"]["padding"] == (1, 1)
    assert rows["Cropping2D"]["params"]["cropping"] == ((0, 0), (0, 0))
    assert rows["PReLU"]["params"]["alpha_initializer"] == "Zeros"
    assert rows["Permute"]["params"]["dims"] == "(required)"


# Keras arguments of registered types that nnctl does not take, or takes with another default
KERAS_ONLY = {
    ("Dense", "lora_rank"), ("Dense", "lora_alpha"), ("Dense", "quantization_config"),
    ("Embedding", "lora_rank"), ("Embedding", "lora_alpha"),
    ("Embedding", "quantization_config"),   # training and quantization: refused as unknown
    ("BatchNormalization", "renorm"), ("BatchNormalization", "renorm_clipping"),
    ("BatchNormalization", "renorm_momentum"), ("BatchNormalization", "synchronized"),
    ("LSTM", "use_cudnn"), ("GRU", "use_cudnn"),   # accepted, default None: nnctl has no GPU
}
NNCTL_ONLY = {("Embedding", "activity_regularizer"), ("Embedding", "input_length"),
              ("SimpleRNN", "use_cudnn"),   # read from older Keras files, inert
              ("RandomContrast", "data_format"), ("RandomBrightness", "data_format")}  # in
              # Keras' configs (its base class takes it), not its signature


def keras_form(value):
    """A default as tools/golden/layer_signatures.py writes Keras' (tuples as lists)."""
    if value is inspect.Parameter.empty:
        return "<required>"
    return [keras_form(v) for v in value] if isinstance(value, tuple) else value


def test_arguments_and_defaults_are_keras():
    """Every registered type takes Keras 3's arguments with Keras 3's defaults (golden
    tests/golden/layer_signatures.json): AveragePooling2D's pool_size has none, as in Keras."""
    from conftest import GOLDEN
    from nnctl.layers import LAYERS

    keras = json.loads((GOLDEN / "layer_signatures.json").read_text())
    for type_name in LAYERS.names():
        mine = {k: keras_form(v) for k, v in LAYERS.get(type_name).arguments().items()}
        # `dtype`, which a few Keras classes (SpatialDropout1D) list in their own signature,
        # is every nnctl layer's (Layer.__init__, with name and trainable)
        theirs = {k: v for k, v in keras[type_name].items() if k != "dtype"}
        assert {k for k in theirs if k not in mine} == \
            {k for t, k in KERAS_ONLY if t == type_name and k not in mine}, type_name
        assert {k for k in mine if k not in theirs} == \
            {k for t, k in NNCTL_ONLY if t == type_name}, type_name
        differ = {k: (mine[k], theirs[k]) for k in mine.keys() & theirs.keys()
                  if mine[k] != theirs[k] and (type_name, k) not in KERAS_ONLY}
        assert differ == {}, type_name


def test_average_pooling_needs_pool_size(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("input: [4, 4, 1]\nlayers:\n  - {type: AveragePooling2D}\n")
    with pytest.raises(nnctl.errors.SpecError) as info:
        nnctl.model.load_model(str(path))
    assert str(info.value) == (f"{path}:3:5: layer 'average_pooling2d': AveragePooling2D "
                               "needs `pool_size`")
    assert nnctl.layers.MaxPooling2D()(np.ones((1, 4, 4, 1))).shape == (1, 2, 2, 1)


def test_python_api():
    x = nnctl.Input(shape=(6, 4))
    y = nnctl.layers.ZeroPadding1D(2)(x)
    y = nnctl.layers.LeakyReLU()(y)
    y = nnctl.layers.PReLU(shared_axes=[1])(y)
    y = nnctl.layers.Permute((2, 1))(y)
    y = nnctl.layers.Softmax(axis=1)(y)
    model = nnctl.Model(x, y)
    assert [layer.name for layer in model.layers[1:]] == [
        "zero_padding1d", "leaky_re_lu", "p_re_lu", "permute", "softmax"]
    assert model.outputs[0].shape == (None, 4, 10)
    assert model(np.ones((2, 6, 4), dtype=np.float32)).shape == (2, 4, 10)


def test_macs_per_sample():
    model = model_of("""
        input: [3, 2, 1]
        layers:
          - {type: Rescaling, scale: 2}
          - {type: Normalization}
          - {type: PReLU}
          - {type: ReLU}
          - {type: Softmax}
          - {type: ZeroPadding2D, padding: 0}
          - {type: UpSampling2D, size: [2, 3], interpolation: bilinear}
          - {type: UpSampling2D, size: [1, 1]}
    """)
    macs = {row.name: row.macs for row in summarize(model).rows}
    assert macs == {"rescaling": 6, "normalization": 6, "p_re_lu": 6, "re_lu": 0,
                    "softmax": 0, "zero_padding2d": 0,
                    # rows resampled: 6x2 values from 3 rows each; then columns: 6x6 from 2
                    "up_sampling2d": 6 * 2 * 3 + 6 * 6 * 2, "up_sampling2d_1": 0}


@pytest.mark.parametrize("given,slope", [({}, 0.3), ({"alpha": 0.1}, 0.1),
                                         ({"alpha": 0.1, "negative_slope": 0.5}, 0.1)])
def test_leaky_relu_reads_the_deprecated_alpha(given, slope):
    """Keras 3 still takes `alpha`, the name before negative_slope, and prefers it."""
    args = "".join(f", {k}: {v}" for k, v in given.items())
    layer = model_of(f"input: [3]\nlayers:\n  - {{type: LeakyReLU{args}}}\n") \
        .nodes["leaky_re_lu"].layer
    assert layer.negative_slope == slope
    assert layer.get_config() == {"type": "LeakyReLU", "name": "leaky_re_lu",
                                  **({"negative_slope": slope} if slope != 0.3 else {})}


def test_spatial_dropout_takes_the_rank_keras_takes(tmp_path):
    """SpatialDropout1D/2D/3D (the identity at inference) refuse what Keras' InputSpec
    refuses: an image to SpatialDropout1D is one line at the layer."""
    path = tmp_path / "net.yaml"
    path.write_text("input: [4, 4, 1]\nlayers:\n  - {type: SpatialDropout1D, rate: 0.2}\n")
    with pytest.raises(nnctl.errors.SpecError) as info:
        build_model(parse_spec(load_yaml(path.read_text(), str(path))))
    assert "SpatialDropout1D takes inputs of 2 axes after the batch, got shape (4, 4, 1)" in \
        str(info.value)
