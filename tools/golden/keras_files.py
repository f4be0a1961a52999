"""Golden Keras files: small models saved by Keras 3 as .keras, .h5 and .json, with Keras'
summary text, summary facts and predictions on fixed inputs.

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/keras_files.py

Writes tests/golden/keras/NAME.keras, NAME.h5 (Keras 3's legacy HDF5 writer), NAME.json
(model.to_json()) and NAME.expected.json ({"summary": text, "facts": ..., "inputs": {name:
rows}, "outputs": [rows per output]}). Also NAME.keras2.h5 for a few models: the layout and
config format of a tf.keras 2 whole-model .h5 (model_config with batch_input_shape and no
`module` keys; model_weights/LAYER/LAYER/kernel:0 listed by weight_names), written with h5py
here because TensorFlow is not installed; Keras 3 loading it back with equal predictions is
checked before it is kept. NAME.weights.h5 (Keras 3's model.save_weights) and
NAME.tf2_weights.h5 (tf.keras 2's model.save_weights("x.h5") layout) for WEIGHTS_ONLY; only
NAME.weights.h5 for NESTED_WEIGHTS.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
os.environ.pop("COLUMNS", None)

import h5py  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from summaries import facts, summary_text  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "golden", "keras")
BATCH = 4


def seq_mlp():
    return keras.Sequential([keras.Input((3,)),
                             L.Dense(3, activation="relu", kernel_initializer="he_normal", name="layer1"),
                             L.Dense(2, activation="relu", kernel_initializer="he_normal", name="layer2"),
                             L.Dense(2, activation="sigmoid", name="layer3")], name="my_Sequential")


def seq_batchnorm():
    return keras.Sequential([keras.Input((5,)), L.Dense(8, activation="tanh"),
                             L.BatchNormalization(), L.Dropout(0.3),
                             L.Dense(4, activation="softmax", use_bias=False)])


def seq_layernorm():
    return keras.Sequential([keras.Input((6,)), L.Dense(6), L.LayerNormalization(epsilon=1e-5),
                             L.Activation("gelu"), L.Dense(3, activation="elu")], name="ln")


def seq_reshape():
    return keras.Sequential([keras.Input((4, 3)), L.Flatten(), L.Dense(8, activation="swish"),
                             L.Reshape((2, 4)), L.Dense(2, activation="softplus"), L.Flatten()])


def seq_frozen():
    model = keras.Sequential([keras.Input((4,)), L.Dense(5, activation="selu", name="frozen"),
                              L.BatchNormalization(center=False, name="bn"),
                              L.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=3))],
                             name="frozen_parts")
    model.get_layer("frozen").trainable = False
    return model


def seq_float64():
    return keras.Sequential([keras.Input((3,), dtype="float64"),
                             L.Dense(4, activation="tanh", dtype="float64"),
                             L.Dense(2, dtype="float64")], name="double")


def func_article():
    inp = keras.Input((3,), name="input")
    a = L.Dense(3, activation="relu", kernel_initializer="he_normal", name="layer1")(inp)
    b = L.Dense(2, activation="relu", kernel_initializer="he_normal", name="layer2")(a)
    c = L.Concatenate(name="cat")([a, b])
    out = L.Dense(2, activation="sigmoid", name="layer3")(c)
    return keras.Model(inp, out, name="my_model")


def func_two_in_out():
    x = keras.Input((4,), name="x")
    y = keras.Input((4,), name="y")
    a = L.Dense(4, name="a")(x)
    b = L.Dense(4, name="b")(y)
    s = L.Add(name="sum")([a, b])
    d = L.Subtract(name="diff")([a, b])
    m = L.Multiply(name="prod")([s, d])
    head1 = L.Dense(2, activation="softmax", name="head1")(m)
    head2 = L.Dense(1, name="head2")(L.Concatenate(name="both")([s, d]))
    return keras.Model([x, y], [head1, head2], name="two_heads")


def func_merges():
    x = keras.Input((6,), name="features")
    a = L.Dense(5, activation="relu", name="a")(x)
    b = L.Dense(5, activation="tanh", name="b")(x)
    c = L.Dense(5, name="c")(x)
    avg = L.Average(name="avg")([a, b, c])
    mx = L.Maximum(name="max")([a, b])
    mn = L.Minimum(name="min")([b, c])
    out = L.Dense(3, name="out")(L.Concatenate(name="cat")([avg, mx, mn]))
    return keras.Model(x, out, name="merges")


def nested_sequential():
    inner = keras.Sequential([keras.Input((4,)), L.Dense(4, activation="relu", name="inner_a"),
                              L.Dense(3, name="inner_b")], name="block")
    return keras.Sequential([keras.Input((5,)), L.Dense(4, name="pre"), inner,
                             L.Dense(2, name="post")], name="outer")


def nested_functional():
    inner = keras.Sequential([keras.Input((3,)), L.Dense(3, activation="relu", name="block_a"),
                              L.BatchNormalization(name="block_bn")], name="block")
    x = keras.Input((3,), name="x")
    h = inner(L.Dense(3, name="pre")(x))
    out = L.Dense(2, name="post")(L.Add(name="skip")([h, x]))
    return keras.Model(x, out, name="residual")


def sequential_of_branches():
    # a Sequential holding a Functional block with a branch (and a Sequential inside that):
    # flattened, no longer a chain of layers
    inner = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu", name="inner_a"),
                              L.Dense(3, name="inner_b")], name="inner")
    x = keras.Input((4,), name="block_in")
    block = keras.Model(x, L.Add(name="skip")([inner(x), L.Dense(3, name="side")(x)]),
                        name="block")
    return keras.Sequential([keras.Input((4,)), block, L.Dense(2, name="post")], name="outer")


def conv2d_net():
    return keras.Sequential([keras.Input((8, 8, 2)),
                             L.Conv2D(4, 3, padding="same", activation="relu"),
                             L.MaxPooling2D(), L.BatchNormalization(),
                             L.DepthwiseConv2D(3, depth_multiplier=2),
                             L.SeparableConv2D(3, 1, activation="tanh"),
                             L.GlobalAveragePooling2D(), L.Dense(2, activation="softmax")],
                            name="convnet")


def conv1d_net():
    x = keras.Input((10, 3), name="signal")
    h = L.Conv1D(4, 3, strides=1, padding="causal", name="conv")(x)
    h = L.LeakyReLU(negative_slope=0.2, name="leaky")(h)
    h = L.AveragePooling1D(2, name="pool")(h)
    h = L.Conv1DTranspose(2, 3, strides=2, name="up")(h)
    h = L.PReLU(name="prelu")(h)
    out = L.Dense(1, name="out")(L.Flatten(name="flat")(h))
    return keras.Model(x, out, name="conv1d")


def text_lstm():
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    h = L.Embedding(20, 4, name="embed")(tokens)
    h = L.LSTM(5, return_sequences=True, name="lstm")(h)
    h = L.GRU(3, name="gru")(h)
    return keras.Model(tokens, L.Dense(2, activation="softmax", name="out")(h), name="text")


def bidirectional_rnn():
    return keras.Sequential([keras.Input((5, 3)),
                             L.Bidirectional(L.LSTM(4, return_sequences=True)),
                             L.SimpleRNN(3), L.Dense(2)], name="bidi")


def masked_gru():
    # Sequential (the Functional ones, with Keras' NotEqual mask operation: func_masked*)
    return keras.Sequential([keras.Input((7,), dtype="int32"),
                             L.Embedding(20, 3, mask_zero=True, name="embed"),
                             L.GRU(4, return_sequences=True, name="gru"),
                             L.SimpleRNN(2, name="rnn"), L.Dense(1, activation="sigmoid")],
                            name="masked")


def func_masked():
    # a keras.io text model, functional: Keras 3.15 records Embedding's mask as a NotEqual
    # operation (`not_equal`) that each masked layer is called with as mask=
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    h = L.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    a = L.GRU(3, name="gru")(L.LSTM(3, return_sequences=True, name="lstm")(h))
    b = L.Bidirectional(L.LSTM(2), name="bidi")(h)
    out = L.Dense(2, activation="softmax", name="out")(L.Concatenate(name="cat")([a, b]))
    return keras.Model(tokens, out, name="masked_text")


def func_masked_two():
    # two masked Embeddings: not_equal and not_equal_1
    left = keras.Input((4,), dtype="int32", name="left")
    right = keras.Input((5,), dtype="int32", name="right")
    a = L.SimpleRNN(3, name="left_rnn")(L.Embedding(20, 3, mask_zero=True, name="left_embed")(left))
    b = L.Dense(3, name="proj")(L.Embedding(20, 2, mask_zero=True, name="right_embed")(right))
    b = L.GRU(2, name="right_gru")(b)
    return keras.Model([left, right], L.Concatenate(name="cat")([a, b]), name="masked_pair")


def text_spatial_dropout():
    # a keras.io-style text classifier trained with SpatialDropout1D and GaussianNoise (the
    # identity at inference); the mask passes SpatialDropout1D (Keras: not_equal as mask=)
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    h = L.SpatialDropout1D(0.2, name="drop_words")(L.Embedding(20, 4, mask_zero=True,
                                                               name="embed")(tokens))
    h = L.GaussianNoise(0.1, name="noise")(L.LSTM(3, name="lstm")(h))
    return keras.Model(tokens, L.Dense(2, activation="softmax", name="out")(h),
                       name="text_dropout")


def image_noise():
    return keras.Sequential([keras.Input((6, 6, 2)), L.GaussianNoise(0.2),
                             L.Conv2D(3, 3, activation="relu"), L.SpatialDropout2D(0.3),
                             L.GaussianDropout(0.1), L.Flatten(), L.AlphaDropout(0.1),
                             L.ActivityRegularization(l1=0.01), L.Dense(2)], name="noisy")


def masking_seq():
    # padded time series: Masking (steps all 0.0 are skipped) before recurrent layers
    return keras.Sequential([keras.Input((6, 3)), L.Masking(),
                             L.LSTM(4, return_sequences=True), L.Dense(3, activation="relu"),
                             L.GRU(2), L.Dense(1)], name="padded_series")


def masking_func():
    # Functional: Keras records each Masking's mask as Any(NotEqual(x, mask_value), axis=-1)
    # (not_equal/any, not_equal_1/any_1) and calls the recurrent layers with mask= it
    x, y = keras.Input((5, 3), name="x"), keras.Input((4, 2), name="y")
    a = L.LSTM(3, name="lstm")(L.Masking(mask_value=-1.0, name="pad_x")(x))
    b = L.Dense(3, name="proj")(L.Masking(name="pad_y")(y))
    b = L.Bidirectional(L.GRU(2), name="bidi")(b)
    return keras.Model([x, y], L.Dense(2, name="out")(L.Concatenate(name="cat")([a, b])),
                       name="two_series")


def tensor_operations():
    # `a + b`, `a * b`, keras.ops.maximum, ...: Keras records operations (Add of
    # keras.src.ops.numpy), listed in its summary as the merge layers are
    x = keras.Input((4,), name="x")
    a, b = L.Dense(4, name="a")(x), L.Dense(4, activation="tanh", name="b")(x)
    both = keras.ops.concatenate([a - b, a * b, keras.ops.maximum(a, b),
                                  keras.ops.minimum(a, b)], axis=-1)
    return keras.Model(x, L.Dense(2, name="out")(both) + L.Dense(2, name="skip")(a + b),
                       name="operations")


def compiled_adam():
    # compiled (as a trained model's file is): Keras' load_model compiles it again and its
    # summary counts the optimizer's variables (Optimizer params), amsgrad's third slot too
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"),
                              L.BatchNormalization(), L.Dense(1)], name="compiled")
    model.compile(optimizer=keras.optimizers.Adam(amsgrad=True), loss="mse")
    return model


def compiled_rmsprop():
    x = keras.Input((3,), name="x")
    model = keras.Model(x, [L.Dense(2, name="a")(x), L.Dense(1, name="b")(x)], name="two_losses")
    model.compile(optimizer=keras.optimizers.RMSprop(momentum=0.9, centered=True),
                  loss=["mse", "mae"])
    return model


def compiled_schedule():
    # a learning-rate schedule: no learning_rate variable
    model = keras.Sequential([keras.Input((2,)), L.Dense(3), L.Dense(1)], name="scheduled")
    model.compile(optimizer=keras.optimizers.Nadam(
        keras.optimizers.schedules.ExponentialDecay(0.01, 100, 0.9)), loss="mse")
    return model


def seq_built_by_call():
    # no Input: built by its first call, as fit builds it, with that batch's size (8), which
    # Keras' summary shows (8, 4)
    model = keras.Sequential([L.Dense(4, activation="relu"), L.Dropout(0.2), L.Dense(1)],
                             name="built_by_fit")
    model(np.zeros((8, 3), "float32"))
    return model


def func_fixed_batch():
    x = keras.Input((3,), batch_size=4, name="fixed")
    return keras.Model(x, L.Dense(2, name="out")(L.Dense(3, name="hidden")(x)),
                       name="fixed_batch")


def image_augmentation():
    # keras.io's image classifiers: an augmentation block (a Sequential inside the model),
    # random while training, the identity at inference (not RandomBrightness: Keras 3.15
    # cannot save it as .h5)
    augment = keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1),
                                L.RandomZoom(0.1), L.RandomTranslation(0.1, 0.2),
                                L.RandomContrast(0.2)], name="augment")
    x = keras.Input((6, 6, 3), name="image")
    h = L.Conv2D(2, 3, activation="relu", name="conv")(augment(L.Rescaling(1 / 255.0)(x)))
    return keras.Model(x, L.Dense(2, name="out")(L.GlobalAveragePooling2D(name="pool")(h)),
                       name="augmented")


def time_distributed():
    # a video-style model (a convolution on every frame) and a tagger's per-step Dense
    frames = keras.Input((3, 6, 6, 1), name="frames")
    h = L.TimeDistributed(L.Conv2D(2, 3, activation="relu"), name="per_frame")(frames)
    h = L.TimeDistributed(L.Flatten(), name="flat")(h)
    h = L.LSTM(4, return_sequences=True, name="lstm")(h)
    tags = L.TimeDistributed(L.Dense(3, activation="softmax"), name="tags")(h)
    return keras.Model(frames, tags, name="per_step")


def masked_tagger():
    # a sequence tagger: Keras calls TimeDistributed with the mask (mask=not_equal), which
    # its Dense does not use; the tags of padded steps are computed all the same
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    h = L.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    h = L.Bidirectional(L.LSTM(3, return_sequences=True), name="bilstm")(h)
    return keras.Model(tokens, L.TimeDistributed(L.Dense(2, activation="softmax"),
                                                 name="tags")(h), name="tagger")


def separable_1d():
    return keras.Sequential([keras.Input((11, 2)), L.Conv1D(4, 4, strides=2, padding="same"),
                             L.Conv1D(4, 3, groups=2), L.DepthwiseConv1D(2, depth_multiplier=2),
                             L.SeparableConv1D(2, 2, padding="same", activation="relu"),
                             L.GlobalMaxPooling1D(), L.Dense(1)], name="separable_1d")


def spatial_3d():
    return keras.Sequential([keras.Input((3, 4, 2, 1)), L.ZeroPadding3D(((1, 0), (0, 1), 1)),
                             L.Conv3D(2, 2, name="conv"), L.Cropping3D(((1, 0), (1, 1), 0)),
                             L.UpSampling3D((2, 1, 2)), L.Flatten(), L.Dense(2)],
                            name="spatial_3d")


def lstm_states():
    x = keras.Input((5, 3), name="seq")
    out, h, c = L.LSTM(4, return_state=True, name="enc")(x)
    merged = L.Concatenate(name="cat")([out, c])
    return keras.Model(x, [L.Dense(2, name="head")(merged), h], name="states")


def shared_dense():
    # one Dense on two inputs, and one applied three times in a row (shared layers)
    a = keras.Input((3,), name="a")
    b = keras.Input((3,), name="b")
    shared = L.Dense(3, activation="tanh", name="shared")
    step = L.Dense(3, name="step")
    x = L.Concatenate(name="cat")([shared(a), shared(b)])
    y = step(step(step(shared(L.Add(name="sum")([a, b])))))
    return keras.Model([a, b], [L.Dense(2, name="head")(x), y], name="shared_dense")


def shared_text():
    # a siamese text model: one Embedding and one LSTM read two token inputs
    left = keras.Input((5,), dtype="int32", name="left")
    right = keras.Input((5,), dtype="int32", name="right")
    embed, encode = L.Embedding(20, 4, name="embed"), L.LSTM(3, name="encode")
    distance = L.Subtract(name="distance")([encode(embed(left)), encode(embed(right))])
    return keras.Model([left, right], L.Dense(1, activation="sigmoid", name="score")(distance),
                       name="siamese")


def shared_encoder():
    # a nested model called on two inputs (a shared model)
    encoder = keras.Sequential([keras.Input((4,)), L.Dense(3, activation="relu",
                                                           name="features")], name="encoder")
    first, second = keras.Input((4,), name="first"), keras.Input((4,), name="second")
    both = L.Concatenate(name="both")([encoder(first), encoder(second)])
    return keras.Model([first, second], L.Dense(1, name="same")(both), name="pair")


def func_input_order():
    # `layers` lists input 'deep' before 'short' (by depth); the model's inputs are
    # `input_layers`' [short, deep]
    short, deep = keras.Input((2,), name="short"), keras.Input((3,), name="deep")
    x = L.Dense(2, name="outer")(L.Dense(2, name="inner")(deep))
    return keras.Model([short, deep], L.Concatenate(name="cat")([short, x]), name="order")


def func_dict_io():
    # inputs and outputs given as dicts: Keras' model.inputs/outputs are sorted by key
    text, extra = keras.Input((3,), name="text"), keras.Input((2,), name="extra")
    h = L.Concatenate(name="cat")([text, extra])
    return keras.Model({"text": text, "extra": extra},
                       {"score": L.Dense(1, name="score")(h), "aux": L.Dense(2, name="aux_head")(h)},
                       name="dicts")


def spatial_2d():
    # padding, cropping, resampling and pooling layers of images, read from Keras' files
    return keras.Sequential([keras.Input((5, 6, 2)), L.ZeroPadding2D(((1, 0), (0, 1))),
                             L.Conv2DTranspose(3, 3, strides=2, padding="same"),
                             L.Cropping2D(((1, 2), (0, 1))), L.AveragePooling2D(2),
                             L.UpSampling2D((1, 2)), L.Permute((3, 1, 2)),
                             L.GlobalMaxPooling2D()], name="spatial_2d")


def sequence_1d():
    return keras.Sequential([keras.Input((8, 3)), L.ZeroPadding1D((2, 1)), L.Cropping1D((1, 0)),
                             L.UpSampling1D(2), L.MaxPooling1D(3), L.GlobalAveragePooling1D(),
                             L.RepeatVector(3), L.GlobalMaxPooling1D()], name="sequence_1d")


def volume_3d():
    x = keras.Input((4, 4, 4, 1), name="volume")
    h = L.Conv3D(2, 2, padding="same", activation="relu", name="conv")(x)
    a = L.GlobalMaxPooling3D(name="max")(L.MaxPooling3D(2, name="max_pool")(h))
    b = L.GlobalAveragePooling3D(name="mean")(L.AveragePooling3D(2, name="mean_pool")(h))
    return keras.Model(x, L.Dense(2, name="out")(L.Concatenate(name="cat")([a, b])),
                       name="volume_3d")


def activation_layers():
    return keras.Sequential([keras.Input((6,)), L.Rescaling(0.5, offset=0.1),
                             L.Normalization(mean=[0.1] * 6, variance=[2.0] * 6),
                             L.Dense(6), L.ReLU(max_value=1.5), L.Dense(6), L.ELU(alpha=0.5),
                             L.Dense(4), L.Softmax()], name="activations")


MODELS = {f.__name__: f for f in (seq_mlp, seq_batchnorm, seq_layernorm, seq_reshape, seq_frozen,
                                  seq_float64, func_article, func_two_in_out, func_merges,
                                  nested_sequential, nested_functional, sequential_of_branches,
                                  conv2d_net, conv1d_net,
                                  text_lstm, bidirectional_rnn, activation_layers, lstm_states,
                                  masked_gru, func_masked, func_masked_two, shared_dense,
                                  text_spatial_dropout, image_noise, masking_seq,
                                  masking_func, tensor_operations, compiled_adam,
                                  compiled_rmsprop, compiled_schedule, seq_built_by_call,
                                  func_fixed_batch, image_augmentation, time_distributed,
                                  masked_tagger, separable_1d, spatial_3d,
                                  shared_text,
                                  shared_encoder, func_input_order, func_dict_io,
                                  spatial_2d, sequence_1d, volume_3d)}
ONLY = sys.argv[1:]   # model names to (re)make; default: all
KERAS2 = ("seq_mlp", "seq_batchnorm", "func_article", "conv2d_net", "text_lstm", "conv1d_net")
WEIGHTS_ONLY = ("seq_batchnorm", "func_two_in_out")
# Keras 3's save_weights only: a nested model's layers in its own group (layers/sequential/layers/)
NESTED_WEIGHTS = ("nested_functional",)
# Keras 3.15 writes these as .h5 but cannot load them back (Unknown layer: 'NotEqual')
H5_NOT_RELOADED = ("func_masked", "func_masked_two", "text_spatial_dropout", "masking_func",
                   "tensor_operations", "compiled_adam", "compiled_rmsprop", "compiled_schedule",
                   "masked_tagger")
# compiled models: their summary is that of the model Keras loads from the .keras file (its
# optimizer built: `Optimizer params`)
COMPILED = ("compiled_adam", "compiled_rmsprop", "compiled_schedule")
# inputs whose last steps are padding (every feature the value Masking compares with), by
# position in model.inputs
PADDED = {"masking_seq": [0.0], "masking_func": [-1.0, 0.0]}


def randomize(model, rng):
    """Weights far from their initial values (BatchNormalization's moving statistics too)."""
    values = []
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in w.path:
            values.append(rng.uniform(0.5, 2.0, shape))
        else:
            values.append(rng.normal(0, 0.7, shape))
    model.set_weights([v.astype(w.dtype) for v, w in zip(values, model.weights)])


def inputs_of(model, rng):
    # integer inputs: token ids, a third of them 0 (masked by Embedding(mask_zero=True))
    return {t.name: (rng.integers(-10, 20, (BATCH, *t.shape[1:])).clip(0) if "int" in str(t.dtype)
                     else rng.normal(0, 1.5, (BATCH, *t.shape[1:]))).astype(t.dtype)
            for t in model.inputs}


def pad_steps(inputs, values, rng):
    """Sample i of each input loses its last i % steps steps to padding (`values`, one per
    input), so some are not padded and some only partly."""
    for (name, x), value in zip(inputs.items(), values):
        for i in range(len(x)):
            cut = i % x.shape[1]
            if cut:
                x[i, -cut:] = value
    return inputs


def predictions(model, inputs):
    args = list(inputs.values())
    if not isinstance(model, keras.Sequential) and isinstance(model.input, dict):   # a dict: by key
        args = [{key: inputs[t.name] for key, t in model.input.items()}]
    outputs = model.predict(args if len(args) > 1 else args[0], verbose=0)
    if isinstance(outputs, dict):   # in the order of model.outputs: by key
        return [outputs[key] for key in sorted(outputs)]
    return outputs if isinstance(outputs, list) else [outputs]


def keras2_config(config):
    """A Keras 3 config in tf.keras 2's format."""
    if isinstance(config, list):
        return [keras2_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    out = {}
    for key, value in config.items():
        if key in ("module", "registered_name", "build_config", "compile_config",
                   "quantization_config", "optional", "ragged", "input_axes", "output_axes"):
            continue
        if key == "dtype" and isinstance(value, dict):
            value = value["config"]["name"]
        if key == "batch_shape":
            key = "batch_input_shape"
        if key == "inbound_nodes":
            value = [[[*t["config"]["keras_history"], {}] for t in _tensors(node["args"])]
                     for node in value]
        if key in ("input_layers", "output_layers") and value and isinstance(value[0], str):
            value = [value]
        out[key] = keras2_config(value)
    return out


def _tensors(args):
    if isinstance(args, dict):
        yield args
    elif isinstance(args, list):
        for a in args:
            yield from _tensors(a)


def tf_keras2_arguments(model, config):
    """What tf.keras 2 writes where Keras 3 differs: LeakyReLU's `alpha`, a built
    BatchNormalization's axis as a list of positive axes, LSTM/GRU's `implementation`."""
    ranks = {layer.name: len(layer.get_build_config()["input_shape"]) for layer in model.layers
             if layer.get_build_config()}
    for entry in config["config"]["layers"]:
        layer = entry["config"]
        if entry["class_name"] == "LeakyReLU":
            layer["alpha"] = layer.pop("negative_slope")
        if entry["class_name"] == "BatchNormalization":
            layer["axis"] = [layer["axis"] % ranks[layer["name"]]]
        if entry["class_name"] in ("LSTM", "GRU"):
            layer["implementation"] = 2
    return config


def write_keras2_h5(model, path, weights_only=False):
    """tf.keras 2's model.save("x.h5") (or, weights_only, its model.save_weights("x.h5"))."""
    config = tf_keras2_arguments(model, keras2_config(json.loads(model.to_json())))
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        if weights_only:
            group = f
        else:
            f.attrs["model_config"] = json.dumps(config)
            group = f.create_group("model_weights")
        group.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        group.attrs["backend"] = "tensorflow"
        group.attrs["keras_version"] = "2.15.0"
        for layer in model.layers:
            g = group.create_group(layer.name)
            names = [f"{layer.name}/{w.path.split('/')[-1]}:0" for w in layer.weights]
            g.attrs["weight_names"] = [n.encode() for n in names]
            for name, w in zip(names, layer.weights):
                g.create_dataset(name, data=np.asarray(w.numpy()))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, make in MODELS.items():
        if ONLY and name not in ONLY:
            continue
        keras.utils.clear_session()
        rng = np.random.default_rng(sum(map(ord, name)))
        model = make()
        randomize(model, rng)
        inputs = inputs_of(model, rng)
        if name in PADDED:
            inputs = pad_steps(inputs, PADDED[name], rng)
        outputs = predictions(model, inputs)
        base = os.path.join(OUT, name)
        model.save(base + ".keras")
        model.save(base + ".h5")
        with open(base + ".json", "w") as f:
            f.write(model.to_json())
        expected = {"summary": summary_text(model), "facts": facts(model),
                    "inputs": {k: v.tolist() for k, v in inputs.items()},
                    "outputs": [np.asarray(o).tolist() for o in outputs]}
        if name in COMPILED:
            expected["summary"] = summary_text(keras.saving.load_model(base + ".keras"))
        with open(base + ".expected.json", "w") as f:
            json.dump(expected, f, indent=1)
        for path in (base + ".keras", base + ".h5")[:1 if name in H5_NOT_RELOADED else 2]:
            again = predictions(keras.saving.load_model(path), inputs)
            assert all(np.array_equal(a, b) for a, b in zip(again, outputs)), path
        if name in KERAS2:
            write_keras2_h5(model, base + ".keras2.h5")
            again = predictions(keras.saving.load_model(base + ".keras2.h5"), inputs)
            assert all(np.array_equal(a, b) for a, b in zip(again, outputs)), name
        if name in WEIGHTS_ONLY or name in NESTED_WEIGHTS:
            model.save_weights(base + ".weights.h5")
            written = [base + ".weights.h5"]
            if name in WEIGHTS_ONLY:
                write_keras2_h5(model, base + ".tf2_weights.h5", weights_only=True)
                written.append(base + ".tf2_weights.h5")
            for path in written:
                fresh = keras.models.model_from_json(model.to_json())
                fresh.load_weights(path)
                again = predictions(fresh, inputs)
                assert all(np.array_equal(a, b) for a, b in zip(again, outputs)), path
        print("wrote", name)


if __name__ == "__main__":
    main()
