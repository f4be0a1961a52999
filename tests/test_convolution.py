"""Convolution and pooling layers: argument errors with their spec position, and the sample
shapes a forward run accepts.

Their outputs, summaries and ONNX exports are checked against Keras' goldens with every other
architecture (tests/specs/conv*.yaml, depthwise*.yaml, separable.yaml, configs/), their
backward passes against central differences in tests/test_backprop.py (LAYER_CASES)."""
from __future__ import annotations

import numpy as np
import pytest


# --- bad arguments: one line, the spec position of the argument, exit 1 --------------------------

BAD_ARGUMENTS = [
    # (layer, the message, the column the error points at)
    ("{type: Conv2D, filters: 4, kernel_size: 9}",
     "layer 'conv2d': kernel_size (9, 9) is larger than the input's height x width (6, 6) "
     "with padding 'valid'", 45),
    ("{type: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 4}",
     "layer 'conv2d': kernel_size (3, 3) (dilated to (9, 9)) is larger than the input's "
     "height x width (6, 6) with padding 'valid'", 45),
    ("{type: Conv2D, filters: 4, kernel_size: 3, groups: 3}",
     "layer 'conv2d': `groups` (3) must divide `filters` (4)", 56),
    ("{type: Conv2D, filters: 4, kernel_size: 1, groups: 4}",
     "layer 'conv2d': `groups` (4) must divide the input's 2 channels", 56),
    ("{type: Conv2D, filters: 4, kernel_size: 3, data_format: channels_middle}",
     "layer 'conv2d': `data_format` must be channels_last or channels_first, got "
     "'channels_middle'", 61),
    ("{type: Conv2D, filters: 0, kernel_size: 3}",
     "layer 'conv2d': `filters` must be a positive integer, got 0", 29),
    ("{type: Conv2D, filters: 4, kernel_size: [3, -1]}",
     "layer 'conv2d': `kernel_size` must be positive, got [3, -1]", 45),
    ("{type: Conv2D, filters: 4, kernel_size: 3, padding: causal}",
     "layer 'conv2d': `padding` must be one of valid, same, got 'causal'", 57),
    ("{type: Conv2D, filters: 2, kernel_size: 2, strides: 2, dilation_rate: 2}",
     "layer 'conv2d': strides > 1 together with dilation_rate > 1 is not supported (as in "
     "Keras), got strides=[2, 2] and dilation_rate=[2, 2]", 75),
    ("{type: Conv2DTranspose, filters: 2, kernel_size: 2, strides: 2, output_padding: 2}",
     "layer 'conv2d_transpose': `output_padding` [2, 2] must be less than `strides` [2, 2] "
     "on every axis", 85),
    ("{type: DepthwiseConv2D, kernel_size: 2, depth_multiplier: -1}",
     "layer 'depthwise_conv2d': `depth_multiplier` must be a positive integer, got -1", 63),
    ("{type: MaxPooling2D, pool_size: 0}",
     "layer 'max_pooling2d': `pool_size` must be positive, got 0", 37),
    ("{type: MaxPooling2D, pool_size: [2, 2, 2]}",
     "layer 'max_pooling2d': `pool_size` must be an integer or a list of 2 integers, got "
     "[2, 2, 2]", 37),
    ("{type: AveragePooling2D, pool_size: [7, 1]}",
     "layer 'average_pooling2d': pool_size (7, 1) is larger than the input's height x width "
     "(6, 6) with padding 'valid'", 41),
    ("{type: GlobalMaxPooling2D, keepdims: 1}",
     "layer 'global_max_pooling2d': `keepdims` must be true or false, got 1", 42),
    ("{type: Conv1D, filters: 2, kernel_size: 2}",
     "layer 'conv1d': Conv1D takes samples of shape (steps, channels), got input shape "
     "(6, 6, 2)", 5),
]


@pytest.mark.parametrize("layer, message, column", BAD_ARGUMENTS,
                         ids=[b[1].split(":")[1].strip()[:40] for b in BAD_ARGUMENTS])
def test_bad_arguments_are_one_line_at_their_position(nnctl, tmp_path, layer, message, column):
    spec = tmp_path / "net.yaml"
    spec.write_text(f"input: [6, 6, 2]\nlayers:\n  - {layer}\n")
    r = nnctl("validate", spec)
    assert (r.code, r.out) == (1, "")
    assert r.err == f"nnctl: error: {spec}:3:{column}: {message}\n"


@pytest.mark.parametrize("shape, layer, message", [
    # MNIST's images without their channels axis: the usual first convnet's mistake
    ("[28, 28]", "{type: Conv2D, filters: 8, kernel_size: 3}",
     "layer 'conv2d': Conv2D takes samples of shape (height, width, channels), got input shape "
     "(28, 28); add a channels axis first: a Reshape to (28, 28, 1)"),
    ("[28, 28]", "{type: MaxPooling2D, data_format: channels_first}",
     "layer 'max_pooling2d': MaxPooling2D takes samples of shape (channels, height, width), got "
     "input shape (28, 28); add a channels axis first: a Reshape to (1, 28, 28)"),
    ("[100]", "{type: Conv1D, filters: 8, kernel_size: 3}",
     "layer 'conv1d': Conv1D takes samples of shape (steps, channels), got input shape (100); "
     "add a channels axis first: a Reshape to (100, 1)"),
    ("[784]", "{type: Conv2D, filters: 8, kernel_size: 3}",
     "layer 'conv2d': Conv2D takes samples of shape (height, width, channels), got input shape "
     "(784); a Reshape layer before it can give that shape"),
])
def test_a_sample_short_of_axes_says_how_to_reshape_it(nnctl, tmp_path, shape, layer, message):
    spec = tmp_path / "net.yaml"
    spec.write_text(f"input: {shape}\nlayers:\n  - {layer}\n")
    r = nnctl("validate", spec)
    assert (r.code, r.out, r.err) == (1, "", f"nnctl: error: {spec}:3:5: {message}\n")


# --- data: flat rows, or samples of the input's shape ---------------------------------------------

@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Five 6x6 RGB images in every layout, and a model file that reads them."""
    from conftest import run_nnctl

    d = tmp_path_factory.mktemp("images")
    (d / "net.yaml").write_text("input: [6, 6, 3]\nlayers:\n"
                                "  - {type: Conv2D, filters: 2, kernel_size: 3}\n"
                                "  - {type: GlobalMaxPooling2D}\n")
    assert run_nnctl("build", d / "net.yaml", "--seed", "1", "-o", d / "net.npz").code == 0
    x = np.random.default_rng(0).standard_normal((5, 6, 6, 3)).astype(np.float32)
    np.save(d / "full.npy", x)
    np.save(d / "flat.npy", x.reshape(5, -1))
    np.savez(d / "full.npz", input_layer=x)
    np.save(d / "wrong.npy", x.reshape(5, 6, 3, 6))
    np.savez(d / "wrong.npz", input_layer=x.reshape(5, 3, 6, 6))
    (d / "rows.csv").write_text("\n".join(",".join(map(repr, row.tolist()))
                                          for row in x.reshape(5, -1)) + "\n")
    return d


@pytest.mark.parametrize("name", ["full.npy", "full.npz", "rows.csv"])
def test_samples_in_their_shape_or_flat_give_the_same_outputs(nnctl, images, name):
    want = nnctl("forward", images / "net.npz", images / "flat.npy")
    got = nnctl("forward", images / "net.npz", images / name)
    assert want.code == 0 and len(want.out.splitlines()) == 5
    assert (got.code, got.out, got.err) == (0, want.out, "")


def test_samples_in_their_shape_on_stdin(nnctl, images):
    want = nnctl("forward", images / "net.npz", images / "flat.npy")
    got = nnctl("forward", images / "net.npz", "-", input=(images / "full.npy").read_bytes())
    assert (got.code, got.out) == (0, want.out)


@pytest.mark.parametrize("name, what, shape", [("wrong.npy", "", "(6, 3, 6)"),
                                               ("wrong.npz", "array 'input_layer': ",
                                                "(3, 6, 6)")])
def test_samples_of_another_shape_are_refused(nnctl, images, name, what, shape):
    r = nnctl("forward", images / "net.npz", images / name)
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {images / name}: {what}samples have shape {shape}, the "
                     "model's input takes (6, 6, 3) (or flat rows of 108 values)\n")


# --- summary --macs ----------------------------------------------------------------------------

MACS = {
    # output pixels x filters x taps x in_channels / groups
    "mnist_convnet": {"conv2d": 26 * 26 * 32 * 9 * 1, "max_pooling2d": 0,
                      "conv2d_1": 11 * 11 * 64 * 9 * 32, "dense": 1600 * 10},
    "conv_basic": {"conv2d": 8 * 8 * 4 * 9 * 3, "conv2d_1": 2 * 1 * 6 * 6 * 2},
    # output pixels x channels x depth_multiplier x taps
    "depthwise": {"depthwise_conv2d": 4 * 4 * 3 * 2 * 9},
    # the depthwise one, then a 1x1 convolution of channels x depth_multiplier into filters
    "separable": {"separable_conv2d": 8 * 8 * 3 * 2 * 9 + 8 * 8 * 6 * 5},
    # input pixels x in_channels x taps x filters
    "conv_transpose1d": {"conv1d_transpose": 6 * 2 * 3 * 3},
}


@pytest.mark.parametrize("stem", MACS)
def test_summary_macs(nnctl, stem):
    import json

    from conftest import CONFIGS, SPECS

    path = CONFIGS / f"{stem}.yaml"
    r = nnctl("summary", "--macs", "--format", "json", path if path.exists() else
              SPECS / f"{stem}.yaml")
    assert r.code == 0, r.err
    got = {layer["name"]: layer["macs"] for layer in json.loads(r.out)["layers"]}
    assert {name: got[name] for name in MACS[stem]} == MACS[stem]


# --- sizes known only at run time ---------------------------------------------------------------

@pytest.mark.parametrize("layer, message", [
    ("Conv1D(2, 5)", "layer 'conv1d': kernel_size (5,) is larger than the input's steps (3,) "
                     "with padding 'valid'"),
    ("MaxPooling1D(4)", "layer 'max_pooling1d': pool_size (4,) is larger than the input's "
                        "steps (3,) with padding 'valid'"),
])
def test_a_sequence_shorter_than_the_window_is_one_clear_error(layer, message):
    """A free length (Input(shape=(None, 2))) is checked when the data comes: the message the
    spec would give, not NumPy's 'window shape cannot be larger than input array shape'."""
    import nnctl
    from nnctl import layers

    nnctl.backend.clear_session()
    model = nnctl.Sequential([nnctl.Input(shape=(None, 2)), eval(f"layers.{layer}")])
    assert model.predict(np.ones((1, 7, 2), np.float32)).shape[1] > 0
    with pytest.raises(ValueError) as info:
        model.predict(np.ones((1, 3, 2), np.float32))
    assert str(info.value) == message
