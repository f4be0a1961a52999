"""The backward pass agrees with central finite differences, in float64, for every layer type
and every activation; gradients from several consumers add up."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from conftest import CONFIGS, SPECS
from nnctl import activations
from nnctl.backprop import backward, run, value
from nnctl.layers import LAYERS
from nnctl.layers.merging import unbroadcast
from nnctl.model import build_model
from nnctl.spec import parse_spec, read_spec
from nnctl.yamlpos import Located, load_yaml

EPS = 1e-6          # central differences: truncation ~EPS^2, rounding ~1e-16/EPS
RTOL, ATOL = 1e-6, 1e-7


def model_from(text: str):
    return build_model(parse_spec(load_yaml(textwrap.dedent(text), "<test>")))


def float64(spec):
    spec.dtype = "float64"
    return spec


def random_weights(model, rng):
    """Weights far from the initializers' special values (zero biases, unit gammas)."""
    weights = {}
    for key, (_, w) in model.weight_specs().items():
        if w.name in ("moving_variance", "variance"):
            weights[key] = rng.uniform(0.5, 2.0, w.shape)
        else:
            weights[key] = rng.standard_normal(w.shape)
    return weights


def random_inputs(model, rng, batch=3, scale=1.5):
    """Normal values; token ids (integer inputs) from 0 to 4, zeros (padding) included."""
    return {name: (rng.integers(0, 5, (batch, *model.nodes[name].shape))
                   if np.dtype(model.nodes[name].dtype).kind == "i" else
                   scale * rng.standard_normal((batch, *model.nodes[name].shape)))
            for name in model.input_names}


def finite_difference(f, array):
    """d f / d array by central differences, element by element (array is changed in place
    and restored)."""
    grad = np.zeros_like(array)
    flat, out = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + EPS
        up = f()
        flat[i] = keep - EPS
        down = f()
        flat[i] = keep
        out[i] = (up - down) / (2 * EPS)
    return grad


def check_gradients(model, seed=0, batch=3, scale=1.5):
    """Backprop of L = sum_o <R_o, y_o> (random R) against finite differences of L."""
    assert model.dtype == "float64"
    rng = np.random.default_rng(seed)
    weights = random_weights(model, rng)
    inputs = random_inputs(model, rng, batch, scale)
    trace = run(model, inputs, weights)
    directions = {o: rng.standard_normal(value(model, trace, o).shape) for o in model.outputs}

    def loss():
        outs = model.forward(inputs, weights)
        return sum(float(np.sum(outs[o] * directions[o])) for o in model.outputs)

    grads = backward(model, trace, weights, directions)
    assert set(grads.weights) == set(weights)
    for name in model.input_names:
        if np.dtype(model.nodes[name].dtype).kind == "i":
            continue  # token ids: no gradient
        want = finite_difference(loss, inputs[name])
        np.testing.assert_allclose(grads.nodes[name], want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"input {name}")
    for key in weights:
        want = finite_difference(loss, weights[key])
        np.testing.assert_allclose(grads.weights[key], want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"weight {key}")
    return grads


# --- every activation, in a Dense layer and as an Activation layer -----------------------------

# Activations whose arguments have no default get these.
REQUIRED_ARGS = {"threshold": {"threshold": 0.2, "default_value": -0.5}}


def activation_spec(name):
    definition = activations.ACTIVATIONS.get(name)
    required = [a for a, d in definition.params.items() if d is activations.REQUIRED]
    if required:
        assert name in REQUIRED_ARGS, f"give {name} its required arguments {required}"
        return {"type": name, **REQUIRED_ARGS[name]}
    return name


def flow(value):
    import json
    return json.dumps(value)


@pytest.mark.parametrize("name", activations.names())
def test_dense_with_every_activation(name):
    model = model_from(f"""
        dtype: float64
        input: [5]
        layers:
          - {{type: Dense, units: 4, activation: {flow(activation_spec(name))}}}
    """)
    check_gradients(model, seed=1, scale=0.8)


@pytest.mark.parametrize("name", activations.names())
def test_activation_layer_with_every_activation(name):
    model = model_from(f"""
        dtype: float64
        input: [2, 4]
        layers:
          - {{type: Activation, activation: {flow(activation_spec(name))}}}
    """)
    check_gradients(model, seed=2)


# --- every layer type ---------------------------------------------------------------------------

LAYER_CASES = {
    "activation_layers": """
        input: [3, 4]
        layers:
          - {type: ReLU, max_value: 1.2, negative_slope: 0.1, threshold: 0.3}
          - {type: Dense, units: 4}
          - {type: LeakyReLU}
          - {type: ELU, alpha: 0.7}
          - {type: PReLU}
          - {type: PReLU, shared_axes: [1]}
          - {type: Softmax, axis: 1}
          - {type: Softmax, axis: [1, 2]}""",
    "spatial_2d": """
        input: [5, 4, 2]
        layers:
          - {type: ZeroPadding2D, padding: [[1, 0], [2, 1]]}
          - {type: Cropping2D, cropping: [[1, 2], [0, 1]]}
          - {type: UpSampling2D, size: [2, 3]}
          - {type: ZeroPadding2D, data_format: channels_first}
          - {type: Cropping2D, cropping: 1, data_format: channels_first}
          - {type: UpSampling2D, data_format: channels_first}
          - {type: Permute, dims: [3, 1, 2]}""",
    "upsampling_kernels": """
        input: [3, 2, 2]
        layers:
          - {type: UpSampling2D, size: [2, 3], interpolation: bilinear}
          - {type: UpSampling2D, size: [1, 2], interpolation: bicubic, data_format: channels_first}
          - {type: UpSampling2D, size: [2, 1], interpolation: lanczos3}""",
    "spatial_1d": """
        input: [5, 3]
        layers:
          - {type: ZeroPadding1D, padding: [2, 1]}
          - {type: Cropping1D, cropping: [1, 3]}
          - {type: UpSampling1D, size: 3}
          - {type: Flatten}
          - {type: RepeatVector, n: 2}""",
    "preprocessing": """
        input: [3, 2]
        layers:
          - {type: Rescaling, scale: [2.0, -0.5], offset: 0.3}
          - {type: Normalization}
          - {type: Normalization, axis: null, invert: true}
          - {type: Normalization, axis: [1, 2], mean: [1.0, 2.0], variance: [4.0, 0.5]}""",
    "dense": """
        input: [5]
        layers: [{type: Dense, units: 3, activation: tanh}]""",
    "dense_no_bias_rank3": """
        input: [2, 5]
        layers: [{type: Dense, units: 3, use_bias: false, activation: softmax}]""",
    "activation": """
        input: [4]
        layers: [{type: Dense, units: 3}, {type: Activation, activation: elu}]""",
    "dropout": """
        input: [4]
        layers: [{type: Dropout, rate: 0.5}, {type: Dense, units: 2}]""",
    "training_only": """
        input: [4, 3, 2]
        layers:
          - {type: RandomFlip}
          - {type: RandomRotation, factor: 0.2}
          - {type: RandomZoom, height_factor: [-0.1, 0.2], width_factor: 0.1}
          - {type: RandomTranslation, height_factor: 0.1, width_factor: 0.1}
          - {type: RandomContrast, factor: 0.3}
          - {type: RandomBrightness, factor: 0.2, value_range: [0, 1]}
          - {type: SpatialDropout2D, rate: 0.3}
          - {type: Reshape, target_shape: [4, 6]}
          - {type: SpatialDropout1D, rate: 0.2}
          - {type: GaussianNoise, stddev: 0.1}
          - {type: GaussianDropout, rate: 0.1}
          - {type: AlphaDropout, rate: 0.1}
          - {type: ActivityRegularization, l1: 0.01}
          - {type: Reshape, target_shape: [2, 2, 3, 2]}
          - {type: SpatialDropout3D, rate: 0.5}
          - {type: Flatten}
          - {type: Dense, units: 2}""",
    "spatial_3d": """
        input: [3, 2, 4, 1]
        layers:
          - {type: ZeroPadding3D, padding: [[1, 0], 1, [0, 2]]}
          - {type: Cropping3D, cropping: [[1, 1], [0, 1], 1]}
          - {type: UpSampling3D, size: [1, 2, 1]}
          - {type: ZeroPadding3D, padding: 1, data_format: channels_first}""",
    "separable_1d": """
        input: [7, 2]
        layers:
          - {type: DepthwiseConv1D, kernel_size: 3, depth_multiplier: 2, padding: same}
          - {type: SeparableConv1D, filters: 3, kernel_size: 2, strides: 2, activation: tanh}""",
    "time_distributed": """
        input: [3, 4, 4, 1]
        layers:
          - {type: TimeDistributed, layer: {type: Conv2D, filters: 2, kernel_size: 3}}
          - {type: TimeDistributed, layer: {type: Flatten}}
          - {type: TimeDistributed, layer: {type: Dense, units: 2, activation: tanh}}""",
    "masking": """
        input: [4, 3]
        layers: [{type: Masking, mask_value: 0.5}, {type: SimpleRNN, units: 2}]""",
    "flatten": """
        input: [2, 3]
        layers: [{type: Flatten}, {type: Dense, units: 2}]""",
    "flatten_channels_first": """
        input: [2, 3, 2]
        layers: [{type: Flatten, data_format: channels_first}, {type: Dense, units: 2}]""",
    "reshape": """
        input: [6]
        layers: [{type: Reshape, target_shape: [2, 3]}, {type: Dense, units: 2},
                 {type: Reshape, target_shape: [-1]}]""",
    "merges": """
        inputs: {x: [4]}
        layers:
          - {name: a, type: Dense, units: 3, inputs: x}
          - {name: b, type: Dense, units: 3, inputs: x}
          - {name: c, type: Dense, units: 3, activation: tanh, inputs: x}
          - {name: added, type: Add, inputs: [a, b, c]}
          - {name: diff, type: Subtract, inputs: [a, b]}
          - {name: prod, type: Multiply, inputs: [added, diff, c]}
          - {name: mean, type: Average, inputs: [prod, c, a]}
          - {name: hi, type: Maximum, inputs: [mean, a, b]}
          - {name: lo, type: Minimum, inputs: [hi, b, c]}
          - {name: cat, type: Concatenate, inputs: [lo, a]}
          - {name: out, type: Dense, units: 2}""",
    "concatenate_axis1": """
        inputs: {p: [2, 3], q: [1, 3]}
        layers:
          - {name: cat, type: Concatenate, axis: 1, inputs: [p, q]}
          - {name: out, type: Dense, units: 2}""",
    "broadcast_merges": """
        inputs: {seq: [4, 3], ctx: [3]}
        layers:
          - {name: row, type: Reshape, target_shape: [1, 3], inputs: ctx}
          - {name: mixed, type: Add, inputs: [seq, row]}
          - {name: scaled, type: Multiply, inputs: [mixed, row]}
          - {name: top, type: Maximum, inputs: [scaled, row]}
          - {name: gap, type: Subtract, inputs: [row, top]}""",
    "batch_normalization": """
        input: [4]
        layers: [{type: BatchNormalization}, {type: Dense, units: 2}]""",
    "batch_normalization_axis1_options": """
        input: [3, 4]
        layers:
          - {type: BatchNormalization, axis: 1, epsilon: 0.01}
          - {type: BatchNormalization, center: false}
          - {type: BatchNormalization, scale: false}""",
    "layer_normalization": """
        input: [5]
        layers: [{type: LayerNormalization}, {type: Dense, units: 2}]""",
    "layer_normalization_axes_options": """
        input: [3, 4]
        layers:
          - {type: LayerNormalization, axis: [1, 2]}
          - {type: LayerNormalization, axis: 1, center: false, epsilon: 0.01}
          - {type: LayerNormalization, scale: false}""",
    "simple_rnn": """
        input: [4, 3]
        layers:
          - {type: SimpleRNN, units: 3, return_sequences: true, go_backwards: true}
          - {type: SimpleRNN, units: 2, activation: relu}""",
    "lstm": """
        input: [4, 3]
        layers:
          - {type: LSTM, units: 3, return_sequences: true}
          - {type: LSTM, units: 2, go_backwards: true, recurrent_activation: hard_sigmoid}""",
    "gru": """
        input: [4, 3]
        layers:
          - {type: GRU, units: 3, return_sequences: true}
          - {type: GRU, units: 2, reset_after: false, go_backwards: true}
          - {type: Dense, units: 2}""",
    "recurrent_states": """
        inputs: {x: [4, 2]}
        layers:
          - {name: enc, type: LSTM, units: 3, return_sequences: true, return_state: true}
          - {name: dec, type: GRU, units: 2, return_state: true, inputs: "enc[0]"}
          - {name: cat, type: Concatenate, inputs: ["enc[1]", "enc[2]", "dec[1]"]}
          - {name: bi, type: Bidirectional, layer: {type: LSTM, units: 2, return_state: true},
             inputs: "enc[0]"}
        outputs: [cat, "dec[0]", "bi[0]", "bi[3]"]""",
    "bidirectional": """
        input: [4, 2]
        layers:
          - {type: Bidirectional, merge_mode: mul,
             layer: {type: SimpleRNN, units: 2, return_sequences: true}}
          - {type: Bidirectional, merge_mode: ave,
             layer: {type: GRU, units: 2, return_sequences: true}}
          - {type: Bidirectional, merge_mode: sum,
             layer: {type: LSTM, units: 2, return_sequences: true}}
          - {type: Bidirectional, layer: {type: GRU, units: 2, reset_after: false}}""",
    "bidirectional_separate_outputs": """
        inputs: {x: [3, 2]}
        layers:
          - {name: bi, type: Bidirectional, merge_mode: null,
             layer: {type: LSTM, units: 2, return_sequences: true}}
          - {name: cat, type: Concatenate, inputs: ["bi[0]", "bi[1]"]}""",
    "embedding_masked": """
        input: {shape: [5], dtype: int32}
        layers:
          - {type: Embedding, input_dim: 5, output_dim: 3, mask_zero: true}
          - {type: LSTM, units: 3, return_sequences: true}
          - {type: Dense, units: 2, activation: tanh}
          - {type: Bidirectional, layer: {type: GRU, units: 2, return_sequences: true},
             merge_mode: concat}
          - {type: SimpleRNN, units: 2, go_backwards: true}""",
    "recurrent_no_bias_masked_states": """
        inputs: {ids: {shape: [4], dtype: int32}}
        layers:
          - {name: embed, type: Embedding, input_dim: 5, output_dim: 2, mask_zero: true}
          - {name: rnn, type: SimpleRNN, units: 2, use_bias: false, return_sequences: true,
             return_state: true}
          - {name: lstm, type: LSTM, units: 2, use_bias: false, go_backwards: true,
             return_state: true, inputs: "rnn[0]"}
          - {name: gru, type: GRU, units: 2, use_bias: false, inputs: "rnn[0]"}
          - {name: bi, type: Bidirectional, inputs: embed,
             layer: {type: GRU, units: 2, return_state: true, reset_after: false, use_bias: false}}
        outputs: ["rnn[0]", "rnn[1]", "lstm[0]", "lstm[2]", gru, "bi[0]", "bi[2]"]""",
    "masked_products": """
        inputs: {a: {shape: [4], dtype: int32}, b: {shape: [4], dtype: int32}, f: [4, 2]}
        layers:
          - {name: ea, type: Embedding, input_dim: 5, output_dim: 2, mask_zero: true, inputs: a}
          - {name: eb, type: Embedding, input_dim: 5, output_dim: 2, mask_zero: true, inputs: b}
          - {name: prod, type: Multiply, inputs: [ea, eb]}
          - {name: prod_mixed, type: Multiply, inputs: [f, ea]}
          - {name: high, type: Maximum, inputs: [ea, eb]}
          - {name: low, type: Minimum, inputs: [eb, f, ea]}
        outputs: [prod, prod_mixed, high, low]""",
    "masked_average": """
        inputs: {ids: {shape: [5], dtype: int32}}
        layers:
          - {name: embed, type: Embedding, input_dim: 5, output_dim: 2, mask_zero: true}
          - {name: rnn, type: SimpleRNN, units: 2, return_sequences: true}
          - {name: mean, type: GlobalAveragePooling1D, keepdims: true}
          - {name: direct, type: GlobalAveragePooling1D, inputs: embed}
        outputs: [mean, direct]""",
    "masked_concatenate_steps": """
        inputs: {ids: {shape: [3], dtype: int32}, f: [2, 2]}
        layers:
          - {name: embed, type: Embedding, input_dim: 5, output_dim: 2, mask_zero: true,
             inputs: ids}
          - {name: steps, type: Concatenate, axis: 1, inputs: [f, embed]}
          - {name: rnn, type: GRU, units: 2, return_sequences: true}""",
    # convolution and pooling (nnctl/layers/convolution.py, pooling.py)
    "conv2d_same_groups": """
        input: [5, 4, 4]
        layers:
          - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, groups: 2, activation: tanh}
          - {type: Conv2D, filters: 2, kernel_size: [2, 1], strides: [2, 1]}""",
    "conv2d_dilated_channels_first": """
        input: [2, 6, 5]
        layers:
          - {type: Conv2D, filters: 3, kernel_size: 2, dilation_rate: [2, 1], data_format: channels_first,
             activation: softmax}""",
    "conv1d_causal": """
        input: [7, 2]
        layers:
          - {type: Conv1D, filters: 3, kernel_size: 3, padding: causal, dilation_rate: 2}
          - {type: Conv1D, filters: 2, kernel_size: 2, strides: 2, use_bias: false}""",
    "conv3d": """
        input: [3, 4, 3, 2]
        layers:
          - {type: Conv3D, filters: 2, kernel_size: [2, 2, 1], strides: [1, 2, 1], padding: same}""",
    "depthwise": """
        input: [5, 5, 2]
        layers:
          - {type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2, strides: 2, padding: same,
             activation: elu}""",
    "separable_channels_first": """
        input: [2, 5, 4]
        layers:
          - {type: SeparableConv2D, filters: 3, kernel_size: 2, depth_multiplier: 2,
             data_format: channels_first}""",
    "conv2d_transpose": """
        input: [3, 2, 2]
        layers:
          - {type: Conv2DTranspose, filters: 2, kernel_size: 3, strides: 2, padding: same,
             output_padding: 1, activation: tanh}
          - {type: Conv2DTranspose, filters: 2, kernel_size: [2, 3], strides: [1, 2]}""",
    "conv1d_transpose_channels_first": """
        input: [2, 4]
        layers:
          - {type: Conv1DTranspose, filters: 3, kernel_size: 3, dilation_rate: 2,
             data_format: channels_first, padding: same}""",
    "max_pooling": """
        input: [5, 5, 2]
        layers:
          - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
          - {type: MaxPooling2D, pool_size: [2, 1], strides: 1}""",
    "average_pooling_same": """
        input: [2, 5, 4]
        layers:
          - {type: AveragePooling2D, pool_size: 2, padding: same, data_format: channels_first}
          - {type: Reshape, target_shape: [6, 2]}
          - {type: AveragePooling1D, pool_size: 3, strides: 2, padding: same}
          - {type: MaxPooling1D, pool_size: 2, strides: 1}""",
    "pooling_1d_3d": """
        input: [4, 3, 4, 2]
        layers:
          - {type: MaxPooling3D, pool_size: [2, 1, 2], padding: same}
          - {type: AveragePooling3D, pool_size: [1, 3, 2], strides: 1}""",
    "global_pooling": """
        inputs: {x: [3, 4, 6]}
        layers:
          - {name: gmax, type: GlobalMaxPooling2D, inputs: x}
          - {name: gavg, type: GlobalAveragePooling2D, keepdims: true, data_format: channels_first,
             inputs: x}
          - {name: flat, type: Flatten}
          - {name: both, type: Concatenate, inputs: [gmax, flat]}
          - {name: seq, type: Reshape, target_shape: [3, 2], inputs: gmax}
          - {name: g1, type: GlobalMaxPooling1D, keepdims: true}
          - {name: g1avg, type: GlobalAveragePooling1D, data_format: channels_first, inputs: seq}
          - {name: vol, type: Reshape, target_shape: [3, 1, 1, 3], inputs: both}
          - {name: g3, type: GlobalMaxPooling3D, inputs: vol}
          - {name: g3avg, type: GlobalAveragePooling3D, data_format: channels_first, inputs: vol}
        outputs: [g1, g1avg, g3, g3avg]""",
}


def case_model(text):
    return model_from("dtype: float64\n" + textwrap.dedent(text).strip() + "\n")


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_gradients(case):
    check_gradients(case_model(LAYER_CASES[case]), seed=3)


def test_every_layer_type_has_a_gradient_case():
    covered = {node.type_name for text in LAYER_CASES.values()
               for node in case_model(text).layers}
    assert set(LAYERS.names()) <= covered


SPEC_FILES = [CONFIGS / "residual_mlp.yaml", CONFIGS / "two_input.yaml",
              CONFIGS / "batchnorm_mlp.yaml", SPECS / "diamond.yaml",
              SPECS / "two_outputs.yaml", SPECS / "normalization_axes.yaml",
              SPECS / "rank3_dense.yaml"]


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_whole_networks(path):
    """Skip connections, fan-out, several inputs and outputs: the gradients add up."""
    check_gradients(build_model(float64(read_spec(str(path)))), seed=4, batch=2)


# --- details ------------------------------------------------------------------------------------

def test_ties_go_to_the_first_input():
    model = model_from("""
        dtype: float64
        inputs: {a: [2], b: [2]}
        layers:
          - {name: hi, type: Maximum, inputs: [a, b]}
    """)
    x = {"a": np.array([[1.0, 2.0]]), "b": np.array([[1.0, 3.0]])}
    grads = backward(model, run(model, x, {}), {}, {"hi": np.ones((1, 2))})
    np.testing.assert_array_equal(grads.nodes["a"], [[1.0, 0.0]])
    np.testing.assert_array_equal(grads.nodes["b"], [[0.0, 1.0]])


def test_unbroadcast_sums_broadcast_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (2, 3, 4)), g)


def test_float32_model_gives_float32_gradients():
    model = model_from("""
        input: [3]
        layers: [{type: Dense, units: 2, activation: relu}, {type: LayerNormalization}]
    """)
    weights = model.init_weights(0)
    x = {"input_layer": np.ones((4, 3), np.float32)}
    trace = run(model, x, weights)
    out = model.outputs[0]
    grads = backward(model, trace, weights, {out: np.ones_like(trace.values[out])})
    assert all(g.dtype == np.float32 for g in grads.weights.values())
    assert grads.nodes["input_layer"].dtype == np.float32


def test_a_shared_layers_gradients_add_up_over_its_calls():
    """One Dense on two inputs and a Dense applied twice in a row: each weight's gradient is
    the sum over the calls (finite differences of the whole model)."""
    spec = parse_spec(Located({
        "name": "shared", "dtype": "float64", "inputs": {"a": [3], "b": [3]},
        "layers": [{"name": "shared", "type": "Dense", "units": 3, "activation": "tanh",
                    "inputs": "a"},
                   {"call": "shared", "inputs": "b"},
                   {"call": "shared", "inputs": "shared[1][0]"},
                   {"name": "sum", "type": "Add", "inputs": ["shared", "shared[2][0]"]}]},
        {}, "shared.yaml"))
    model = build_model(spec)
    grads = check_gradients(model, seed=2)
    assert set(grads.weights) == {"shared/kernel", "shared/bias"}
