"""Bad arguments of the layer types of issue 14 (activation, padding, cropping, upsampling,
reshaping, preprocessing layers): one error naming the layer, at the argument's place in the
spec, as for Dense."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from nnctl.errors import SpecError
from nnctl.model import load_model

# (name, input shape, the layer's flow mapping, the argument the error points at (None: the
# layer), fragments of the message)
CASES = [
    ("negative_cropping", "[5, 3]", "{type: Cropping1D, cropping: -1}", 'cropping',
     ["layer 'cropping1d'", "`cropping` must be non-negative", "-1"]),
    ("cropping_everything", "[5, 3]", "{type: Cropping1D, cropping: [3, 2]}", 'cropping',
     ["cropping 3 + 2 values from an axis of 5 leaves nothing"]),
    ("negative_cropping_2d", "[5, 5, 1]", "{type: Cropping2D, cropping: [[1, -1], [0, 0]]}", 'cropping',
     ["`cropping` must be non-negative"]),
    ("unknown_data_format", "[5, 5, 1]", "{type: ZeroPadding2D, data_format: channels_middle}",
     'data_format', ["`data_format` must be channels_last or channels_first", "channels_middle"]),
    ("padding_three_values", "[5, 3]", "{type: ZeroPadding1D, padding: [1, 2, 3]}", 'padding',
     ["`padding` must be an integer or a list of 2 integers"]),
    ("padding_wrong_rank", "[5]", "{type: ZeroPadding1D}", None,
     ["ZeroPadding1D takes inputs of rank 3", "(None, 5)"]),
    ("unknown_interpolation", "[4, 4, 1]", "{type: UpSampling2D, interpolation: area}",
     "interpolation", ["`interpolation` must be one of nearest, bilinear, bicubic, lanczos3, "
                       "lanczos5, got 'area'"]),
    ("upsampling_zero", "[4, 2]", "{type: UpSampling1D, size: 0}", 'size',
     ["`size` must be a positive integer"]),
    ("relu_negative_max", "[3]", "{type: ReLU, max_value: -1}", 'max_value',
     ["`max_value` must be >= 0"]),
    ("leaky_negative_slope", "[3]", "{type: LeakyReLU, negative_slope: -0.1}", 'negative_slope',
     ["`negative_slope` must be >= 0"]),
    ("prelu_batch_axis", "[3, 2]", "{type: PReLU, shared_axes: [0]}", 'shared_axes',
     ["`shared_axes` must be an axis or a list of axes counted from 1"]),
    ("prelu_axis_too_far", "[3, 2]", "{type: PReLU, shared_axes: 3}", 'shared_axes',
     ["axis 3 of `shared_axes` is not an axis"]),
    ("glu_odd_units", "[4]", "{type: Dense, units: 3, activation: glu}", 'activation',
     ["layer 'dense': activation glu cannot take outputs of shape (None, 3): glu splits axis "
      "-1 in two halves, but it has 3 values (an odd number)"]),   # Keras: on building
    ("activation_axis", "[4, 3]", "{type: Conv1D, filters: 2, kernel_size: 1, activation: "
     "{type: softmax, axis: 3}}", 'activation',
     ["activation softmax cannot take outputs of shape (None, 4, 2): axis 3 is out of range"]),
    ("softmax_axis", "[3, 2]", "{type: Softmax, axis: 3}", 'axis',
     ["axis 3 is out of bounds for an input of rank 3"]),
    ("permute_bad_dims", "[3, 2]", "{type: Permute, dims: [1, 3]}", 'dims',
     ["`dims` must list the axes 1..n"]),
    ("permute_wrong_rank", "[3, 2, 2]", "{type: Permute, dims: [2, 1]}", 'dims',
     ["permutes 2 axes, but the input (None, 3, 2, 2) has 3 per sample"]),
    ("repeat_zero", "[3]", "{type: RepeatVector, n: 0}", 'n',
     ["`n` must be a positive integer"]),
    ("repeat_matrix", "[3, 2]", "{type: RepeatVector, n: 2}", None,
     ["RepeatVector takes vectors"]),
    ("rescaling_text", "[3]", "{type: Rescaling, scale: half}", 'scale',
     ["`scale` must be a number"]),
    ("rescaling_shape", "[3]", "{type: Rescaling, scale: [1, 2]}", 'scale',
     ["`scale` of shape (2,) does not broadcast over inputs of shape (None, 3)"]),
    ("time_distributed_conv_without_channels", "[4, 3]", "{type: TimeDistributed, layer: "
     "{type: Conv1D, filters: 2, kernel_size: 2}}", None,   # the Reshape goes before the wrapper
     ["Conv1D takes samples of shape (steps, channels), got input shape (3); add a channels "
      "axis to each step first: a Reshape to (-1, 3, 1) before 'time_distributed'"]),
    ("normalization_half", "[3]", "{type: Normalization, mean: [1, 2, 3]}", 'mean',
     ["give both `mean` and `variance`, or neither"]),
    ("normalization_shape", "[3]", "{type: Normalization, mean: [1, 2], variance: [1, 1]}", 'mean',
     ["`mean` of shape (2,) does not fit the normalized axes of size (3,)"]),
    ("normalization_negative", "[2]", "{type: Normalization, mean: [1, 2], variance: [1, -1]}",
     'variance', ["`variance` must not be negative"]),
]


@pytest.mark.parametrize("name,shape,layer,key,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_is_one_error_at_its_place(tmp_path, name, shape, layer, key, fragments):
    path = tmp_path / "net.yaml"
    line = f"  - {layer}"
    path.write_text(f"input: {shape}\nlayers:\n{line}\n")
    column = 5 if key is None else line.index(f" {key}: ") + len(key) + 4
    with pytest.raises(SpecError) as info:
        load_model(str(path))
    text = str(info.value)
    assert text.startswith(f"{path}:3:{column}: "), text
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_on_the_command_line(nnctl, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent("""\
        input: [28, 28, 1]
        layers:
          - {type: Rescaling, scale: 0.00392156862745098}
          - {type: Cropping2D, cropping: [[2, 2], [-4, 4]]}
        """))
    r = nnctl("summary", path)
    assert r.code == 1
    assert r.err == (f"nnctl: error: {path}:4:34: layer 'cropping2d': `cropping` must be "
                     "non-negative, got [-4, 4]\n")



def test_glu_as_a_layers_activation_is_written_as_computed(nnctl, tmp_path):
    """glu halves its axis, which Keras' layers leave out of their declared shape: Keras 3's
    summary of Activation('glu') over 6 values says (None, 6), its predict gives 3 values, and
    a layer after it fails there. nnctl shows Keras' shape, writes the 3 values it computes
    (it wrote a table of 6 columns: an internal error), and refuses a layer after it."""
    last = tmp_path / "last.yaml"
    last.write_text("name: g\ninput: [6]\nlayers:\n  - {type: Activation, activation: glu}\n")
    r = nnctl("summary", last, "--format", "json")
    assert r.code == 0 and json.loads(r.out)["layers"][-1]["output_shape"] == [None, 6]
    r = nnctl("forward", last, "--output-header", input="1,2,3,4,5,6\n-1,0,1,2,3,4\n")
    assert (r.code, r.err) == (0, ""), r.err
    header, *rows = r.out.splitlines()
    assert header == "activation_0,activation_1,activation_2"
    x = np.array([[1, 2, 3, 4, 5, 6], [-1, 0, 1, 2, 3, 4]], dtype=np.float32)
    want = x[:, :3] / (1 + np.exp(-x[:, 3:]))
    np.testing.assert_allclose(np.array([r.split(",") for r in rows], dtype=np.float32),
                               want, rtol=1e-6)
    after = tmp_path / "after.yaml"
    after.write_text("input: [6]\nlayers:\n  - {type: Dense, units: 6, activation: glu}\n"
                     "  - {type: Dense, units: 2}\n")
    r = nnctl("forward", after, input="1,2,3,4,5,6\n")
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"nnctl: error: {after}:4:5: layer 'dense_1': its input layer 'dense' "
                     "computes (None, 3) (glu halves it), where Keras declares (None, 6) and "
                     "builds the layers after it for that, so that Keras' own predict fails "
                     "here; glu can be the activation of an output layer only\n")
