"""ONNX export and the ONNX Runtime engine give the NumPy engine's numbers.

For every config and test architecture (with the Keras golden weights and inputs), and for
every activation with its arguments on inputs from 0 to 1e30: the exported model passes
onnx.checker's full check, and ONNX Runtime's outputs equal the NumPy engine's (and Keras'
goldens, rtol 1e-4).
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import CONFIGS, SPECS, SPEC_FILES, forward_golden as golden  # noqa: E402
from nnctl import activations  # noqa: E402
from nnctl.errors import NnctlError, ResourceError, SpecError  # noqa: E402
from nnctl.forward import NumpyRunner  # noqa: E402
from nnctl.model import build_model, load_model  # noqa: E402
from nnctl.onnx.export import ACTIVATIONS, MIN_OPSET, to_onnx  # noqa: E402
from nnctl.onnx.runtime import OnnxRuntimeRunner  # noqa: E402
from nnctl.spec import parse_spec  # noqa: E402
from nnctl.yamlpos import Located  # noqa: E402



def tolerance(dtype):
    # float32: matrix products summed in another order (MLAS vs OpenBLAS) differ by an ulp or
    # two of the largest terms, which shows as a relative difference on outputs close to 0
    # (a softmax probability of 1e-20): rtol 1e-5 with an absolute floor, as for the Keras
    # goldens. float64 leaves room for nothing but rounding.
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-11, atol=1e-13)


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def model_from(spec: dict):
    return build_model(parse_spec(Located(spec, {}, "test.yaml")))


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_exported_model_equals_numpy_engine(path):
    g = golden(path.stem)
    model = load_model(str(path))
    weights = model.check_weights(g["weights"])
    proto = to_onnx(model, weights)
    onnx.checker.check_model(proto, full_check=True)

    graph = proto.graph
    assert [i.name for i in graph.input] == model.input_names
    assert [o.name for o in graph.output] == model.outputs
    element = {np.float32: onnx.TensorProto.FLOAT, np.float64: onnx.TensorProto.DOUBLE,
               np.int32: onnx.TensorProto.INT32, np.int64: onnx.TensorProto.INT64}
    dtypes = [model.nodes[n].dtype for n in model.input_names] + [model.dtype] * len(graph.output)
    for value, dtype in zip(list(graph.input) + list(graph.output), dtypes):
        tensor = value.type.tensor_type
        assert tensor.elem_type == element[np.dtype(dtype).type]   # token ids stay integers
        assert tensor.shape.dim[0].dim_param == "batch"
    for value, name in zip(graph.input, model.input_names):
        assert [d.dim_value for d in value.type.tensor_type.shape.dim[1:]] == \
            list(model.nodes[name].shape)
    meta = {p.key: p.value for p in proto.metadata_props}
    from nnctl import __version__

    assert meta == {"name": model.name, "nnctl_version": __version__}
    assert graph.name == model.name and proto.producer_name == "nnctl"
    dense = {k for k, (node, _) in model.weight_specs().items() if node.type_name == "Dense"}
    assert {i.name for i in graph.initializer} >= dense   # Keras' LAYER/WEIGHT names

    inputs = {k: v.astype(model.nodes[k].dtype) for k, v in g["inputs"].items()}
    got = session(proto).run(None, inputs)
    want = model.forward(inputs, weights)
    assert len(got) == len(want)
    assert list(want) == list(g["outputs"])
    for y, (name, ref) in zip(got, want.items()):
        assert y.dtype == ref.dtype and y.shape == ref.shape, name
        np.testing.assert_allclose(y, ref, **tolerance(model.dtype))
        # and Keras' own outputs (the golden), directly: rtol 1e-4 for ONNX Runtime
        np.testing.assert_allclose(y, g["outputs"][name], rtol=1e-4, atol=1e-6)


def test_batch_axis_is_dynamic():
    g = golden("two_input")
    model = load_model(str(CONFIGS / "two_input.yaml"))
    weights = model.check_weights(g["weights"])
    runner = session(to_onnx(model, weights))
    for n in (1, 3, 300):
        inputs = {k: np.resize(v, (n,) + v.shape[1:]) for k, v in g["inputs"].items()}
        (y,) = runner.run(None, inputs)
        np.testing.assert_allclose(y, model.forward(inputs, weights)["score"], rtol=1e-5,
                                   atol=1e-6)


# --- activations --------------------------------------------------------------------------

# Every activation with its defaults, and the arguments that change the formula.
ACTIVATION_CASES = [{"type": n} for n in activations.names() if n != "threshold"] + [
    {"type": "relu", "negative_slope": 0.1},
    {"type": "relu", "max_value": 3.0},
    {"type": "relu", "threshold": 0.5},
    {"type": "relu", "negative_slope": 0.2, "max_value": 4.0, "threshold": 1.0},
    {"type": "leaky_relu", "negative_slope": 0.1},
    {"type": "elu", "alpha": 0.5},
    {"type": "celu", "alpha": 2.0},
    {"type": "gelu", "approximate": True},
    {"type": "threshold", "threshold": 0.3, "default_value": -2.0},
    {"type": "softmax", "axis": 1},
    {"type": "log_softmax", "axis": -2},
    {"type": "glu", "axis": 1},
    {"type": "sparsemax", "axis": 1},
    {"type": "squareplus", "b": 0},
    {"type": "hard_shrink", "threshold": 0},
    {"type": "soft_shrink", "threshold": 1.5},
]

# Values around every kink and threshold above, tiny ones (cancellation), huge ones (overflow
# in a square or an exponential) and non-finite ones, laid out as samples of shape (4, 6).
EDGES = [0.0, -0.0, 1e-8, -1e-8, 1e-3, -1e-3, 0.2, -0.2, 0.19999, 0.5, -0.5, 1, -1, 1.5, -1.5,
         3, -3, 6, -6, 18, -18, 50, -50, 88, -88, 100, -100, 1e4, -1e4, 3e7, -3e7, 1e30, -1e30,
         np.inf, -np.inf, np.nan]   # IEEE: inf and nan propagate in both engines alike


def activation_inputs(dtype):
    values = np.concatenate([np.linspace(-12, 12, 97), EDGES])
    values = np.resize(values, -(-len(values) // 24) * 24)
    return values.reshape(-1, 4, 6).astype(dtype)


def case_id(case):
    return "-".join(f"{v}" for k, v in case.items())


def test_every_activation_has_an_onnx_form():
    assert set(activations.names()) <= set(ACTIVATIONS)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=case_id)
def test_activation_equals_numpy_engine(case, dtype):
    model = model_from({"name": "act", "dtype": dtype, "input": [4, 6],
                        "layers": [{"type": "Activation", "activation": case, "name": "f"}]})
    proto = to_onnx(model, {})
    onnx.checker.check_model(proto, full_check=True)
    x = activation_inputs(dtype)
    with np.errstate(all="ignore"):
        want = model.forward({"input_layer": x}, {})["f"]
    if dtype == "float64" and case == {"type": "gelu"}:
        # NOTE: ONNX Runtime has no float64 Erf kernel: the engine says so, naming the layer.
        with pytest.raises(NnctlError, match=r"^layer 'f': onnxruntime has no float64 kernel "
                                             r"for Erf; use --engine numpy$"):
            OnnxRuntimeRunner(model, {})
        return
    (got,) = session(proto).run(None, {"input_layer": x})
    assert got.dtype == want.dtype and got.shape == want.shape
    if case["type"] in ("log_softmax", "sparsemax"):
        # NOTE: where inf or nan in a vector make its result not finite, the engines agree on
        # that, not on which entries are nan and which ±inf (ONNX Runtime's LogSoftmax,
        # ReduceMax and TopK have their own ways with them): finite results are compared.
        axis = case.get("axis", -1)
        finite = np.isfinite(want).all(axis=axis, keepdims=True)
        np.testing.assert_array_equal(np.isfinite(got).all(axis=axis, keepdims=True), finite)
        assert not finite.all()   # the inputs do hold such vectors
        got, want = np.where(finite, got, 0), np.where(finite, want, 0)
    np.testing.assert_allclose(got, want, equal_nan=True, **tolerance(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_graphs_as_written_equal_numpy_engine_near_the_float_range(dtype):
    """The exported graphs hold up unfused (another runtime, ONNX Runtime's fusions off) up to
    the largest floats: no intermediate overflows where the result is finite (exact GELU's
    x (1 + erf) did from half the float range)."""
    top = np.finfo(dtype).max
    x = np.resize(np.array([top, -top, top / 2 * 1.1, -top / 2 * 1.1, top / 4, -top / 4],
                           dtype), (1, 4, 6))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for case in ACTIVATION_CASES:
        if dtype == "float64" and case == {"type": "gelu"}:
            continue  # no float64 Erf kernel in ONNX Runtime (see above)
        model = model_from({"name": "act", "dtype": dtype, "input": [4, 6],
                            "layers": [{"type": "Activation", "activation": case, "name": "f"}]})
        with np.errstate(all="ignore"):
            want = model.forward({"input_layer": x}, {})["f"]
        (got,) = ort.InferenceSession(to_onnx(model, {}).SerializeToString(), options,
                                      providers=["CPUExecutionProvider"]).run(
                                          None, {"input_layer": x})
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=case_id(case),
                                   **tolerance(dtype))


def test_exact_gelu_is_one_kernel_in_onnx_runtime(tmp_path):
    """The export writes (x / 2) (1 + erf(x / sqrt 2)) in an order ONNX Runtime fuses into its
    Gelu kernel: one pass instead of five (benchmarks/run.py, gelu: about 1.1x relu then)."""
    import onnx
    import onnxruntime as ort

    model = model_from({"name": "g", "input": [6], "layers": [
        {"type": "Dense", "units": 4, "activation": "gelu"}, {"type": "Activation",
                                                              "activation": "gelu"}]})
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3  # not its warning about the file's portability
    ort.InferenceSession(to_onnx(model, model.init_weights(0)).SerializeToString(), options,
                         providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    assert ops.count("Gelu") == 2 and "Erf" not in ops, ops


@pytest.mark.parametrize("opset", [MIN_OPSET, 17, 18, 21])
@pytest.mark.parametrize("case", [{"type": "glu", "axis": 1}, {"type": "sparsemax", "axis": 1},
                                  {"type": "softmax", "axis": -2}], ids=case_id)
def test_opset_dependent_operators(case, opset):
    """Split and the reductions changed form at opset 18; LayerNormalization came at 17."""
    model = model_from({"name": "ops", "input": [4, 6], "layers": [
        {"type": "LayerNormalization", "axis": [-2, -1]},
        {"type": "LayerNormalization", "axis": 1},
        {"type": "Activation", "activation": case}]})
    weights = model.init_weights(seed=1)
    if opset > onnx.defs.onnx_opset_version():
        pytest.skip(f"onnx {onnx.__version__} knows opsets up to {onnx.defs.onnx_opset_version()}")
    proto = to_onnx(model, weights, opset=opset)
    assert proto.opset_import[0].version == opset
    onnx.checker.check_model(proto, full_check=True)
    x = np.random.default_rng(4).standard_normal((9, 4, 6)).astype(np.float32) * 3
    (got,) = session(proto).run(None, {"input_layer": x})
    want = model.forward({"input_layer": x}, weights)[model.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_layer_normalization_uses_the_operator_where_it_can():
    model = load_model(str(CONFIGS / "residual_mlp.yaml"))
    weights = model.init_weights(seed=0)
    ops = {n.op_type for n in to_onnx(model, weights, opset=17).graph.node}
    assert "LayerNormalization" in ops
    ops = {n.op_type for n in to_onnx(model, weights, opset=13).graph.node}
    assert "LayerNormalization" not in ops and "ReduceMean" in ops


def test_batch_normalization_is_folded_into_scale_and_shift():
    model = load_model(str(CONFIGS / "batchnorm_mlp.yaml"))
    proto = to_onnx(model, model.init_weights(seed=0))
    names = {i.name for i in proto.graph.initializer}
    assert {"batch_normalization/scale", "batch_normalization/shift"} <= names
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_merges_of_different_ranks_broadcast_samples(merge):
    """As Keras: a lower-rank input gets axes of 1 after the batch axis (not before it)."""
    model = model_from({"name": "ranks", "inputs": {"a": [4, 3], "b": [3], "c": [2, 1, 3]},
                        "layers": [{"name": "m", "type": merge, "inputs": ["a", "b", "c"]}]})
    proto = to_onnx(model, {})
    onnx.checker.check_model(proto, full_check=True)
    rng = np.random.default_rng(5)
    inputs = {n: rng.standard_normal((5, *model.nodes[n].shape)).astype(np.float32)
              for n in model.input_names}
    (got,) = session(proto).run(None, inputs)
    want = model.forward(inputs, {})["m"]
    assert got.shape == want.shape == (5, 2, 4, 3)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_an_input_among_the_outputs():
    model = model_from({"name": "io", "inputs": {"x": [3]}, "layers": [
        {"name": "d", "type": "Dense", "units": 2, "inputs": "x"},
        {"name": "drop", "type": "Dropout", "rate": 0.5}], "outputs": ["drop", "x"]})
    weights = model.init_weights(seed=0)
    proto = to_onnx(model, weights)
    onnx.checker.check_model(proto, full_check=True)
    shapes = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
              for o in proto.graph.output]
    assert shapes == [["batch", 2], ["batch", 3]]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = session(proto).run(None, {"x": x})
    want = model.forward({"x": x}, weights)
    np.testing.assert_allclose(got[0], want["drop"], rtol=1e-6)
    np.testing.assert_array_equal(got[1], x)


def test_layers_in_another_dtype_are_cast():
    model = model_from({"name": "mixed", "input": [3], "layers": [
        {"type": "Dense", "units": 4, "activation": "tanh", "dtype": "float64"},
        {"type": "Dense", "units": 2, "activation": "softmax"}]})
    weights = model.init_weights(seed=2)
    proto = to_onnx(model, weights)
    onnx.checker.check_model(proto, full_check=True)
    assert "Cast" in {n.op_type for n in proto.graph.node}
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    (got,) = session(proto).run(None, {"input_layer": x})
    np.testing.assert_allclose(got, model.forward({"input_layer": x}, weights)["dense_1"],
                               rtol=1e-5, atol=1e-6)


# --- the bytes the runtime engine writes without onnx ----------------------------------------

@pytest.mark.parametrize("opset", [13, 17, 18])
@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_runtime_bytes_are_the_onnx_helper_model(path, opset):
    from nnctl.onnx.export import to_proto
    from nnctl.onnx.graph import build_graph
    from nnctl.onnx.proto import serialize

    model = load_model(str(path))
    graph = build_graph(model, model.init_weights(seed=0), opset=opset)
    assert onnx.ModelProto.FromString(serialize(graph)) == to_proto(graph)


@pytest.mark.parametrize("case", [{"type": "glu"}, {"type": "sparsemax"}, {"type": "selu"}],
                         ids=case_id)
def test_runtime_bytes_of_activations(case):
    from nnctl.onnx.export import to_proto
    from nnctl.onnx.graph import build_graph
    from nnctl.onnx.proto import serialize

    model = model_from({"input": [2, 6], "layers": [
        {"type": "Flatten", "data_format": "channels_first"}, {"type": "Reshape",
                                                               "target_shape": [3, -1]},
        {"type": "Activation", "activation": case}]})
    for opset in (13, 18):
        graph = build_graph(model, {}, opset=opset)
        assert onnx.ModelProto.FromString(serialize(graph)) == to_proto(graph)


def test_ir_versions_are_onnx_helpers():
    from nnctl.onnx.proto import _IR_VERSION

    known = onnx.defs.onnx_opset_version()
    for opset, ir in _IR_VERSION.items():
        if opset <= known:
            assert ir == onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])


# --- what cannot be exported ---------------------------------------------------------------

def test_an_unexportable_layer_is_one_error_naming_the_layer(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [4]\nlayers:\n  - {type: Dense, units: 4}\n"
                    "  - {type: Activation, activation: {type: sparsemax, axis: 0}, "
                    "name: pick}\n")
    model = load_model(str(spec))
    with pytest.raises(SpecError) as caught:
        to_onnx(model, model.init_weights(0))
    text = str(caught.value)
    assert text == (f"{spec}:4:5: layer 'pick': sparsemax along axis 0 needs that axis' size, "
                    "which is only known at run time (no ONNX export)")


def test_an_activation_without_onnx_form_names_the_layer(monkeypatch):
    from nnctl.onnx import export

    monkeypatch.delitem(export.ACTIVATIONS, "mish")
    model = model_from({"input": [3], "layers": [
        {"type": "Dense", "units": 2, "activation": "mish", "name": "hidden"}]})
    with pytest.raises(SpecError, match=r"^test.yaml(:\d+:\d+)?: layer 'hidden': nnctl cannot "
                                        r"export the activation 'mish' to ONNX"):
        to_onnx(model, model.init_weights(0))


def test_opset_out_of_range():
    from nnctl.errors import ParameterError

    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    with pytest.raises(ParameterError, match=r"--opset 12: nnctl exports opsets 13 to \d+"):
        to_onnx(model, model.init_weights(0), opset=12)


# --- the runner: flat rows, taps, missing packages -----------------------------------------

@pytest.mark.parametrize("stem,taps", [
    ("two_input", None), ("two_outputs", None), ("three_inputs", ["da", "a", "abc"]),
    ("diamond", ["left1", "skip", "left1"]), ("rank3_dense", ["dense", "input_layer"]),
])
def test_runner_rows_equal_numpy_runner(stem, taps):
    path = CONFIGS / f"{stem}.yaml" if (CONFIGS / f"{stem}.yaml").exists() else \
        SPECS / f"{stem}.yaml"
    g = golden(stem)
    model = load_model(str(path))
    weights = model.check_weights(g["weights"])
    from nnctl.forward import input_widths

    width = sum(input_widths(model).values())
    rows = np.random.default_rng(3).standard_normal((257, width)).astype(model.dtype)
    want = NumpyRunner(model, weights, taps)(rows)
    got = OnnxRuntimeRunner(model, weights, taps)(rows)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, **tolerance(model.dtype))


def test_missing_onnxruntime_is_one_clear_error(monkeypatch):
    from nnctl import engines

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    model = load_model(str(CONFIGS / "article_sequential.yaml"))
    weights = model.init_weights(0)
    with pytest.raises(ResourceError) as caught:
        engines.make_runner("onnxruntime", model, weights)
    assert str(caught.value) == ("--engine onnxruntime needs the onnxruntime package, which is "
                                 "not installed: pip install 'nnctl[onnx]' (or pip install onnx "
                                 "onnxruntime)")
    # auto falls back to the reference engine, and says why
    runner, note = engines.auto_runner(model, weights, None, rows=10 ** 12)
    assert runner.name == "numpy"
    assert note.startswith("engine: numpy (onnxruntime is not installed: pip install")


def test_auto_takes_onnxruntime_for_large_work_only():
    from nnctl import engines

    model = load_model(str(SPECS / "mappings.yaml"))
    weights = model.init_weights(0)
    assert engines.macs_per_row(model) == 9 * 1000 + 1000 * 500 + 500 * 10
    # an MLP: counted by the values ONNX Runtime's fused kernels save (leaky relu is cheap,
    # GELU and softmax are not)
    per_row = engines.saved_values_per_row(model)
    assert per_row == 1000 + 500 * engines.COSTLY_VALUE + 10 * engines.COSTLY_VALUE
    runner, note = engines.auto_runner(model, weights, None, rows=10)
    assert runner.name == "numpy" and note is None
    runner, note = engines.auto_runner(model, weights, None, rows=None)
    assert runner.name == "numpy" and note is None
    rows = -(-engines.AUTO_MIN_SAVED_VALUES // per_row)
    runner, note = engines.auto_runner(model, weights, None, rows=rows - 1)
    assert runner.name == "numpy" and note is None
    runner, note = engines.auto_runner(model, weights, None, rows=rows)
    assert runner.name == "onnxruntime"
    macs = engines.macs_per_row(model)
    assert note == f"engine: onnxruntime ({rows:,} rows x {macs:,} multiply-adds)"


@pytest.mark.parametrize("activation, numpy_up_to", [("relu", 579_000), ("gelu", 62_000)])
def test_auto_pays_for_onnxruntime_on_an_mlp_by_its_activations(activation, numpy_up_to):
    """The MLP of benchmarks/run.py: ONNX Runtime (30-35 ms to start) runs its relu network
    faster only from about 550,000 rows, its exact-GELU one from about 50,000 (the idle 2-core
    machine, nnctl.engines)."""
    from nnctl import engines

    model = model_from({"name": "mlp", "input": [32], "layers": [
        {"type": "Dense", "units": 64, "activation": activation},
        {"type": "Dense", "units": 64, "activation": activation},
        {"type": "Dropout", "rate": 0.5}, {"type": "Dense", "units": 10}]})
    assert not engines.onnxruntime_pays(model, None, numpy_up_to)
    assert engines.onnxruntime_pays(model, None, numpy_up_to + 1_000)


@pytest.mark.parametrize("config, numpy_up_to", [("softmax_classifier", 273_000),
                                                  ("batchnorm_mlp", 276_000)])
def test_flatten_and_batch_normalization_are_part_of_an_mlp(config, numpy_up_to):
    """Counted by multiply-adds, as models of other layers are, auto took ONNX Runtime for the
    softmax classifier (784 inputs into Dense 128) from 1,800 rows, where numpy runs faster up
    to about 120,000, and for batchnorm_mlp from 71,000 (about 300,000): nnctl.engines."""
    from nnctl import engines

    model = load_model(str(CONFIGS / f"{config}.yaml"))
    assert engines.dense_only(model) and not engines.gemm_bound(model)
    assert not engines.onnxruntime_pays(model, None, numpy_up_to)
    assert engines.onnxruntime_pays(model, None, numpy_up_to + 5_000)


def test_auto_keeps_an_mlp_on_numpy_where_onnx_runtime_is_slower():
    """nnctl's ONNX forms of elu & co. are several operators (expm1 kept precise near 0):
    ONNX Runtime runs them slower than NumPy (elu MLP, 300,000 rows: 1.05 s against 0.31 s)."""
    from nnctl import engines

    def mlp(*activations):
        return model_from({"name": "mlp", "input": [32], "layers": [
            {"type": "Dense", "units": 64, "activation": a} for a in activations]})

    assert engines.saved_values_per_row(mlp("elu", "relu")) == 64 * engines.SLOWER_VALUE + 64
    assert not engines.onnxruntime_pays(mlp("elu", "relu"), None, 10 ** 9)
    assert not engines.onnxruntime_pays(mlp("relu", "selu"), None, 10 ** 9)
    model = model_from({"name": "mlp", "input": [32], "layers": [
        {"type": "Dense", "units": 64}, {"type": "ELU"}, {"type": "Dense", "units": 10}]})
    assert not engines.onnxruntime_pays(model, None, 10 ** 9)
    assert engines.onnxruntime_pays(mlp("relu", "relu"), None, 10 ** 9)
    assert set(engines.SAVES_MUCH + engines.SLOWER_ON_ONNXRUNTIME) <= set(activations.names())


def test_auto_pays_for_onnxruntime_on_a_recurrent_model_by_its_operators():
    """A recurrent layer on ONNX's own operator pays from AUTO_MIN_WORK_RECURRENT
    multiply-adds (the GRU regressor: from about 15,000 rows); one whose steps are written out
    (a mask, or an activation ONNX's operator lacks) never: ONNX Runtime loads thousands of
    nodes and runs them one by one, slower than NumPy (nnctl.engines.steps_written_out)."""
    from nnctl import engines

    gru = load_model(str(CONFIGS / "gru_timeseries.yaml"))
    rows = -(-engines.AUTO_MIN_WORK_RECURRENT // engines.macs_per_row(gru))
    assert not engines.steps_written_out(gru)
    assert not engines.onnxruntime_pays(gru, None, rows - 1)
    assert engines.onnxruntime_pays(gru, None, rows)
    masked = load_model(str(CONFIGS / "sentence_classifier.yaml"))
    assert engines.steps_written_out(masked)
    runner, note = engines.auto_runner(masked, masked.init_weights(0), None, rows=10 ** 9)
    assert runner.name == "numpy" and note is None
    gelu_cell = model_from({"name": "r", "input": [20, 3], "layers": [
        {"type": "LSTM", "units": 4, "activation": "gelu"}]})
    assert engines.steps_written_out(gelu_cell)
    assert not engines.onnxruntime_pays(gelu_cell, None, 10 ** 12)


def test_auto_stays_on_numpy_where_text_is_the_work():
    """A CSV through a small MLP is paced by parsing: onnxruntime's start-up would only add."""
    from nnctl import engines

    model = load_model(str(SPECS / "mappings.yaml"))   # 514,000 multiply-adds per row
    weights = model.init_weights(0)
    rows = 10 * -(-engines.AUTO_MIN_SAVED_VALUES // engines.saved_values_per_row(model))
    runner, _ = engines.auto_runner(model, weights, None, rows=rows, text_values=19)
    assert runner.name == "onnxruntime"   # 19 values of text cost less than the arithmetic
    runner, note = engines.auto_runner(model, weights, None, rows=rows, text_values=600)
    assert runner.name == "numpy" and note is None


@pytest.mark.parametrize("stem", ["shared_dense", "shared_text", "shared_encoder"])
def test_shared_layers_export_with_their_weights_once(stem):
    """A layer called several times (Keras' golden files): one set of initializers, and
    ONNX Runtime's outputs equal the NumPy engine's and Keras'."""
    import json

    from conftest import GOLDEN
    from nnctl.kerasfile import load_model as load_keras

    spec, weights = load_keras(GOLDEN / "keras" / f"{stem}.keras")
    model = model_from(spec)
    weights = model.check_weights(weights)
    proto = to_onnx(model, weights)
    onnx.checker.check_model(proto, full_check=True)
    from onnx import numpy_helper

    arrays = [numpy_helper.to_array(i) for i in proto.graph.initializer]
    contents = [(a.dtype.str, a.shape, a.tobytes()) for a in arrays if a.size > 1]
    assert len(contents) == len(set(contents))   # each weight once, though its layer runs twice
    expected = json.loads((GOLDEN / "keras" / f"{stem}.expected.json").read_text())
    inputs = {k: np.asarray(v, dtype=model.nodes[k].dtype)
              for k, v in expected["inputs"].items()}
    got = session(proto).run(None, inputs)
    for y, ref, keras_out in zip(got, model.forward(inputs, weights).values(),
                                 expected["outputs"]):
        np.testing.assert_allclose(y, ref, **tolerance(model.dtype))
        np.testing.assert_allclose(y, np.asarray(keras_out, dtype=y.dtype), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [MIN_OPSET, 18])
@pytest.mark.parametrize("stem", ["masking_seq", "masking_func"])
def test_masking_exports_its_zeroing_and_its_mask(stem, opset):
    """Masking (Keras' golden files, padded steps): the steps zeroed and the mask handed to
    the recurrent layers in ONNX too; ReduceMax's axes an attribute before opset 18, an input
    from it."""
    import json

    from conftest import GOLDEN
    from nnctl.kerasfile import load_model as load_keras

    spec, weights = load_keras(GOLDEN / "keras" / f"{stem}.keras")
    model = model_from(spec)
    weights = model.check_weights(weights)
    proto = to_onnx(model, weights, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    expected = json.loads((GOLDEN / "keras" / f"{stem}.expected.json").read_text())
    inputs = dict(zip(model.input_names, (np.asarray(v, np.float32)
                                          for v in expected["inputs"].values())))
    got = session(proto).run(None, inputs)
    assert len(got) == len(expected["outputs"])
    for y, keras_out in zip(got, expected["outputs"]):
        np.testing.assert_allclose(y, np.asarray(keras_out, dtype=y.dtype), rtol=1e-5, atol=1e-6)


def test_the_python_apis_model_export_writes_onnx(tmp_path, capsys):
    """Keras' model.export(path, format="onnx") was an AttributeError in nnctl; its default
    format (a TF SavedModel) and the others say what to do instead."""
    import nnctl

    inputs = nnctl.Input(shape=(3,), name="x")
    model = nnctl.Model(inputs, nnctl.layers.Dense(2, activation="relu")(inputs), name="m")
    model.export(tmp_path / "m.onnx", format="onnx", verbose=True, opset_version=17)
    assert capsys.readouterr().out == f"Saved artifact at '{tmp_path / 'm.onnx'}'.\n"
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    run = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(run.run(None, {"x": x})[0], model.predict(x), rtol=1e-6)
    assert onnx.load(tmp_path / "m.onnx").opset_import[0].version == 17
    with pytest.raises(NotImplementedError, match=r"^export\(format='tf_saved_model'\): nnctl "
                                                  r"exports ONNX \(format='onnx'\); for "
                                                  r"tf_saved_model, save the model with "
                                                  r"model.save\('m.keras'\) and export it with "
                                                  r"Keras$"):
        model.export(tmp_path / "saved")
    assert not (tmp_path / "saved").exists()


def test_time_distributed_exports_one_set_of_weights_for_every_step():
    """TimeDistributed (Keras' golden: a Conv2D on every frame, a Dense on every step): the
    steps folded into the batch around the wrapped layer; ONNX Runtime's outputs are Keras'."""
    import json

    from conftest import GOLDEN
    from nnctl.kerasfile import load_model as load_keras

    spec, weights = load_keras(GOLDEN / "keras" / "time_distributed.keras")
    model = model_from(spec)
    weights = model.check_weights(weights)
    proto = to_onnx(model, weights)
    onnx.checker.check_model(proto, full_check=True)
    expected = json.loads((GOLDEN / "keras" / "time_distributed.expected.json").read_text())
    (frames,) = expected["inputs"].values()
    (got,) = session(proto).run(None, {"frames": np.asarray(frames, np.float32)})
    np.testing.assert_allclose(got, np.asarray(expected["outputs"][0], np.float32), rtol=1e-5,
                               atol=1e-6)
