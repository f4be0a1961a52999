"""The Python API: the article's three ways give one network; specs round-trip; numbers match.

Keras facts come from tests/golden (tools/golden/api_models.py, forward.py, summaries.py).
"""
from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest

import nnctl
from conftest import CONFIGS, GOLDEN, ROOT, SPECS, run_nnctl
from nnctl.errors import DataError, SpecError, WeightsError
from nnctl.model import build_model, load_model as engine_load
from nnctl.spec import parse_spec, read_spec
from nnctl.yamlpos import Located

EXAMPLES = ROOT / "examples"
SPEC_FILES = sorted(CONFIGS.glob("*.yaml")) + sorted(SPECS.glob("*.yaml"))
IDS = [p.stem for p in SPEC_FILES]
L = nnctl.layers


def example(stem) -> dict:
    return runpy.run_path(str(EXAMPLES / f"{stem}.py"), run_name="example")


def facts(engine) -> tuple:
    """What makes two built networks the same: names, types, wiring, shapes, configs."""
    return (engine.name, engine.functional, engine.dtype, engine.input_shapes(),
            engine.outputs,
            [(n.name, n.type_name, n.inbound, n.shape, n.dtype,
              [(w.name, w.shape, w.trainable) for w in n.weights],
              n.layer.get_config() if n.layer else None) for n in engine.layers])


def build_mapping(mapping):
    return build_model(parse_spec(Located(mapping, {}, "test")))


# --- the article's three models ----------------------------------------------------------------

def run_example(stem) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}   # this checkout's nnctl
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{stem}.py")], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def layer_rows(text) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("│ layer")]


def totals(text) -> list[str]:
    return [line for line in text.splitlines() if "params:" in line]


def test_sequential_example_prints_keras_summary():
    golden = (GOLDEN / "summaries" / "article_sequential.txt").read_text()
    assert run_example("article_sequential") == golden


def test_functional_example_has_the_same_rows():
    golden = (GOLDEN / "summaries" / "article_sequential.txt").read_text()
    text = run_example("article_functional")
    assert text.startswith('Model: "my_model"\n')
    assert layer_rows(text) == layer_rows(golden)
    assert len(layer_rows(golden)) == 3
    assert totals(text) == totals(golden)
    assert " Total params: 26 (104.00 B)" in totals(text)
    inputs = [line for line in text.splitlines() if "(InputLayer)" in line]
    assert len(inputs) == 1 and "(None, 3)" in inputs[0]


def test_subclass_example_prints_keras_subclass_summary():
    """Keras shows a subclassed model as a stack of its layers, with the batch size of the
    call that built it: (1, 3), no input row."""
    golden = (GOLDEN / "summaries" / "article_sequential.txt").read_text()
    text = run_example("article_subclass")
    want = re.sub(r"\(None, (\d)\)", r"(1, \1)   ", golden.replace("my_Sequential", "my_model"))
    assert text == want


@pytest.mark.parametrize("stem", ["article_sequential", "two_input"])
def test_summary_print_fn_gets_the_keras_text_once(stem):
    model = nnctl.from_spec(CONFIGS / f"{stem}.yaml")
    calls = []
    model.summary(print_fn=calls.append)
    assert len(calls) == 1
    assert calls[0] == (GOLDEN / "summaries" / f"{stem}.txt").read_text()  # Keras' newline
    calls.clear()
    model.summary(show_trainable=True, print_fn=calls.append)
    assert calls[0] == (GOLDEN / "summaries" / f"{stem}.trainable.txt").read_text()


class FakeTerminal:
    """A stdout that says it is a terminal (rich asks isatty)."""

    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_summary_on_stdout_is_plain_when_piped_and_styled_on_a_terminal(capsys, monkeypatch):
    golden = (GOLDEN / "summaries" / "two_input.txt").read_text()
    model = nnctl.from_spec(CONFIGS / "two_input.yaml")
    model.summary()
    assert capsys.readouterr().out == golden          # captured stdout is not a terminal
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "80")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    model.summary()
    assert "\x1b[" in terminal.text
    assert re.sub(r"\x1b\[[0-9;]*m", "", terminal.text) == golden
    monkeypatch.setenv("NO_COLOR", "1")              # no escape codes at all, bold included
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    model.summary()
    assert terminal.text == golden


def graph(model) -> list[tuple]:
    """Layers with their type, units, activation, shape, params and what they are called on
    (the model input, whatever its name, as '<input>')."""
    engine = model.engine
    inputs = set(engine.input_names)
    return [(n.name, n.type_name, n.layer.units, n.layer.activation.name, n.shape, n.params,
             ["<input>" if i in inputs else i for i in n.inbound])
            for n in engine.layers if n.layer is not None]


def test_three_ways_build_the_same_graph():
    sequential = example("article_sequential")["model"]
    functional = example("article_functional")["model"]
    subclass = example("article_subclass")
    want = graph(sequential)
    assert [row[0] for row in want] == ["layer1", "layer2", "layer3"]
    assert graph(functional) == want
    assert graph(subclass["model"]) == want
    assert graph(subclass["MyModel"]()) == want      # traced from layer1's input_shape
    assert sequential.count_params() == functional.count_params() == 26


def test_subclass_keeps_the_article_initializers():
    seq = example("article_sequential")["model"].to_spec()
    sub = example("article_subclass")["model"].to_spec()
    assert [ls["kernel_initializer"] for ls in sub["layers"]] == ["he_normal"] * 3
    assert [ls["kernel_initializer"] for ls in seq["layers"]] == ["he_normal"] * 3
    fun = example("article_functional")["model"].to_spec()
    assert all("kernel_initializer" not in ls for ls in fun["layers"])   # Keras' default


def test_subclass_output_equals_the_sequential_one_on_the_same_weights():
    sequential = example("article_sequential")["model"]
    subclass = example("article_subclass")["model"]
    x = np.random.default_rng(1).normal(size=(9, 3)).astype(np.float32)
    subclass.set_weights(sequential.get_weights())
    np.testing.assert_array_equal(subclass.predict(x), sequential.predict(x))


# --- Keras' names, shapes and weight order for models written in Python -----------------------

KERAS_MODELS = json.loads((GOLDEN / "api" / "models.json").read_text())


@pytest.mark.parametrize("scenario", sorted(KERAS_MODELS))
def test_python_models_equal_keras(scenario):
    want = KERAS_MODELS[scenario]
    scope = {"Input": nnctl.Input, "Model": nnctl.Model, "Sequential": nnctl.Sequential,
             "layers": nnctl.layers}
    nnctl.utils.clear_session()     # Keras' golden starts each scenario with clear_session()
    exec(want["code"], scope)
    model = scope["model"]
    assert model.name == want["name"]
    rows = [{"name": n.name, "type": n.type_name, "output_shape": [None, *n.shape],
             "params": n.params} for n in model.engine.layers]
    assert rows == want["layers"]
    assert [layer.name for layer in model.layers] == [r["name"] for r in want["layers"]]
    # Keras' weight paths are LAYER/WEIGHT, under the model's name for Sequential models
    prefix = want["name"] + "/"
    keras_order = [p[len(prefix):] if p.startswith(prefix) else p for p in want["weights"]]
    assert [w.path for w in model.weights] == want["weights"]
    assert list(model.weight_dict()) == keras_order


# --- YAML -> Python -> YAML ----------------------------------------------------------------------

@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_round_trips(path, tmp_path):
    model = nnctl.from_spec(path)
    original = engine_load(str(path))
    mapping = model.to_spec()
    assert facts(build_mapping(mapping)) == facts(original)
    assert facts(model.engine) == facts(original)
    # a fixed point: the same mapping again from the model it gives
    assert nnctl.Model.from_spec(mapping).to_spec() == mapping
    # and through YAML text
    (tmp_path / "again.yaml").write_text(model.to_yaml())
    assert facts(engine_load(str(tmp_path / "again.yaml"))) == facts(original)


def test_round_trip_keeps_a_spec_in_its_own_words():
    path = SPECS / "default_names.yaml"
    mapping = nnctl.from_spec(path).to_spec()
    assert mapping["layers"] == read_spec(str(path)).doc.value["layers"]
    assert mapping["name"] == "sequential"      # the default name, written out
    mapping = nnctl.from_spec(CONFIGS / "two_input.yaml").to_spec()
    assert mapping["inputs"] == {"record": [6], "patch": [4, 4]}
    assert mapping["outputs"] == ["score"]


def test_python_model_round_trips_through_yaml(tmp_path):
    inputs = nnctl.Input(shape=(4,), name="x")
    he = nnctl.initializers.get({"type": "he_uniform", "seed": 3})   # an object: its config
    a = L.Dense(5, activation={"type": "leaky_relu", "negative_slope": 0.2},
                kernel_initializer=he)(inputs)
    b = L.Dense(5, activation="tanh", name="side")(inputs)
    out = L.Dense(2)(L.Concatenate()([a, b]) * L.Dense(10)(inputs))
    model = nnctl.Model(inputs, out, name="mixed", seed=4)
    (tmp_path / "m.yaml").write_text(model.to_yaml())
    again = nnctl.from_spec(tmp_path / "m.yaml")
    assert facts(again.engine) == facts(model.engine)
    assert again.seed == 4
    x = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


# --- numbers -----------------------------------------------------------------------------------

def sample_inputs(engine, n, seed=0) -> dict:
    """Normal values; token ids (an integer input) below the smallest Embedding's input_dim."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shape in engine.input_shapes().items():
        dtype = engine.nodes[name].dtype
        if np.dtype(dtype).kind == "i":
            high = min(n.layer.input_dim for n in engine.nodes.values()
                       if hasattr(n.layer, "input_dim"))
            feeds[name] = rng.integers(0, high, (n, *shape)).astype(dtype)
        else:
            feeds[name] = rng.normal(size=(n, *shape)).astype(engine.dtype)
    return feeds


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_predict_equals_the_engine_forward(path):
    model = nnctl.from_spec(path)
    engine = engine_load(str(path))
    feeds = sample_inputs(engine, 10)
    want = engine.forward(feeds, engine.init_weights(0))
    whole = model(feeds)                          # one batch: the engine's very numbers
    batched = model.predict(feeds, batch_size=3)  # batches of 3: BLAS may round differently
    whole, batched = [r if isinstance(r, list) else [r] for r in (whole, batched)]
    assert len(whole) == len(batched) == len(engine.outputs)
    for name, one, many in zip(engine.outputs, whole, batched):
        assert one.dtype == many.dtype == want[name].dtype
        np.testing.assert_array_equal(one, want[name])
        np.testing.assert_allclose(many, want[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stem", sorted(p.stem for p in (GOLDEN / "forward").glob("*.npz")))
def test_set_weights_in_keras_order_gives_keras_outputs(stem):
    """The golden's weights are stored in Keras' model.weights order: get_weights' order."""
    path = CONFIGS / f"{stem}.yaml"
    path = path if path.exists() else SPECS / f"{stem}.yaml"
    golden = np.load(GOLDEN / "forward" / f"{stem}.npz")
    weights = [golden[k] for k in golden.files if k.startswith("weights/")]
    model = nnctl.from_spec(path)
    model.set_weights(weights)
    inputs = {k[len("inputs/"):]: golden[k] for k in golden.files if k.startswith("inputs/")}
    outputs = [golden[k] for k in golden.files if k.startswith("outputs/")]
    got = model.predict(inputs)
    got = got if isinstance(got, list) else [got]
    for array, want in zip(got, outputs):
        # NOTE: Keras 3 (numpy backend) computes float64 models in float32, and its golden
        # outputs are float32: checked at float32's tolerance, as in test_forward_engine.
        tol = dict(rtol=1e-5, atol=1e-6) if want.dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(array, want, **tol)


def test_call_and_predict_take_lists_and_dicts():
    model = nnctl.from_spec(CONFIGS / "two_input.yaml")
    feeds = sample_inputs(model.engine, 4)
    by_list = model([feeds["record"], feeds["patch"]])
    by_dict = model.predict(feeds, batch_size=1)
    np.testing.assert_allclose(by_list, by_dict, rtol=1e-6)
    two = nnctl.from_spec(SPECS / "two_outputs.yaml")
    a, b = two(np.ones((2, 5)))
    assert a.shape == (2, 3) and b.shape == (2, 1)


def test_weights_are_seeded_and_settable():
    model = nnctl.from_spec(CONFIGS / "article_sequential.yaml")
    engine = model.engine
    assert all(np.array_equal(model.weight_dict()[k], v)
               for k, v in engine.init_weights(0).items())
    seeded = nnctl.Model.from_spec(CONFIGS / "article_sequential.yaml", seed=7)
    assert seeded.to_spec()["seed"] == 7
    assert all(np.array_equal(seeded.weight_dict()[k], v)
               for k, v in engine.init_weights(7).items())
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(3, 3), (3,), (3, 2), (2,), (2, 2), (2,)]
    new = [np.full(s, i, np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), new))
    with pytest.raises(WeightsError, match="has 6 weight arrays .* got 5"):
        model.set_weights(new[:5])
    with pytest.raises(WeightsError, match=r"layer 'layer2': weight 'kernel' has shape \(2, 3\), "
                                           r"expected \(3, 2\)"):
        model.set_weights(new[:2] + [np.zeros((2, 3))] + new[3:])


def test_save_and_load_model_file(tmp_path):
    model = nnctl.from_spec(CONFIGS / "residual_mlp.yaml", seed=3)
    x = np.random.default_rng(2).normal(size=(6, 16)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    loaded = nnctl.load_model(tmp_path / "m.npz")
    assert all(np.array_equal(loaded.weight_dict()[k], v)
               for k, v in model.weight_dict().items())
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    result = run_nnctl("forward", tmp_path / "m.npz", tmp_path / "x.csv")
    assert result.code == 0, result.err
    cli = np.loadtxt(result.out.splitlines(), delimiter=",", dtype=np.float32, ndmin=2)
    np.testing.assert_array_equal(cli, model.predict(np.loadtxt(tmp_path / "x.csv",
                                                                delimiter=",", ndmin=2)))


def test_save_and_save_weights_refuse_alike_and_write_npz_alike(tmp_path):
    """save() and save_weights() share one writer: the file exists (overwrite=False) and the
    wrong ending are refused the same way; both `.npz` files hold the spec and the weights."""
    model = nnctl.from_spec(CONFIGS / "residual_mlp.yaml", seed=3)
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"keep")
    for write in (model.save, model.save_weights):
        with pytest.raises(FileExistsError, match=r"taken.npz exists \(overwrite=False\)"):
            write(taken, overwrite=False)
    assert taken.read_bytes() == b"keep"
    with pytest.raises(ValueError, match=r"add a `.keras` extension .* Received: filepath=.*m.h5"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"must end in `.weights.h5` .* Received: filepath="):
        model.save_weights(tmp_path / "m.keras")
    model.save(tmp_path / "model.npz")
    model.save_weights(tmp_path / "weights.npz")
    for name in ("model.npz", "weights.npz"):
        loaded = nnctl.load_model(tmp_path / name)
        assert loaded.to_spec() == model.to_spec()
        assert all(np.array_equal(loaded.weight_dict()[k], v)
                   for k, v in model.weight_dict().items())


def test_layers_and_models_list_trainable_weights_alike():
    """Layer and Model share Keras' views of `weights` (KerasViews)."""
    norm = L.BatchNormalization(name="norm")
    model = nnctl.Sequential([nnctl.Input((3,)), L.Dense(2, name="d"), norm], name="s")
    norm.trainable = False
    assert [v.path for v in norm.trainable_weights] == []
    assert [v.path for v in norm.non_trainable_weights] == [
        "norm/gamma", "norm/beta", "norm/moving_mean", "norm/moving_variance"]
    assert [v.path for v in model.trainable_weights] == ["s/d/kernel", "s/d/bias"]
    assert [v.path for v in model.non_trainable_weights] == [
        "s/" + v.path for v in norm.non_trainable_weights]
    for owner in (model, norm):
        assert [v.path for v in owner.variables] == [v.path for v in owner.weights]


def test_layers_and_models_give_input_and_output_shapes_alike():
    a, b = nnctl.Input((3,), name="a"), nnctl.Input((2,), name="b")
    join = L.Concatenate(name="join")
    dense = L.Dense(4, name="d")
    model = nnctl.Model([a, b], dense(join([a, b])))
    assert model.input_shape == join.input_shape == [(None, 3), (None, 2)]
    assert join.output_shape == dense.input_shape == (None, 5)
    assert model.output_shape == dense.output_shape == (None, 4)


def test_predict_equals_nnctl_forward_on_the_same_weights(tmp_path):
    model = example("article_sequential")["model"]
    model.set_weights(model.engine.init_weights(0))    # what the CLI draws with --seed 0
    x = np.random.default_rng(5).normal(size=(11, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "net.yaml").write_text(model.to_yaml())
    result = run_nnctl("forward", tmp_path / "net.yaml", tmp_path / "x.npy", "--seed", "0")
    assert result.code == 0, result.err
    cli = np.loadtxt(result.out.splitlines(), delimiter=",", dtype=np.float32, ndmin=2)
    np.testing.assert_array_equal(cli, model.predict(x))


# --- building: Sequential, deferred shapes, subclassing ------------------------------------------

def test_sequential_from_an_input_or_deferred():
    nnctl.utils.clear_session()
    with_input = nnctl.Sequential([nnctl.Input(shape=(3,)), L.Dense(2)], name="a")
    assert with_input.to_spec() == {"name": "a", "input": [3],
                                    "layers": [{"type": "Dense", "units": 2}]}
    deferred = nnctl.Sequential([L.Dense(2), L.Dense(1)])
    assert not deferred.built
    with pytest.raises(SpecError, match="not built"):
        deferred.to_spec()
    out = deferred(np.ones((4, 7)))
    assert out.shape == (4, 1) and deferred.to_spec()["input"] == [7]
    built = nnctl.Sequential([L.Dense(2)])
    built.build((None, 5))
    assert built.engine.input_shapes() == {"input_layer": (5,)}
    built.add(L.Dense(4))
    assert [n.shape for n in built.engine.layers] == [(2,), (4,)]
    assert built.pop().units == 4 and len(built.layers) == 1


def test_subclass_traced_with_arithmetic_and_several_inputs():
    nnctl.utils.clear_session()
    class Residual(nnctl.Model):
        def __init__(self):
            super().__init__(name="res")
            self.inner = L.Dense(4, activation="relu")
            self.project = L.Dense(4)
            self.out = L.Dense(1)

        def call(self, features):
            return self.out(self.inner(features) + self.project(features))

    model = Residual()
    model.build((None, 4))
    spec = model.to_spec()
    assert spec["inputs"] == {"features": [4]}
    assert [ls["type"] for ls in spec["layers"]] == ["Dense", "Dense", "Add", "Dense"]
    assert model.engine.nodes["add"].inbound == ["dense", "dense_1"]

    class TwoIn(nnctl.Model):
        def __init__(self):
            super().__init__()
            self.cat = L.Concatenate()
            self.head = L.Dense(2)

        def call(self, inputs):
            return self.head(self.cat([inputs["a"], inputs["b"]]))

    two = TwoIn()
    y = two({"a": np.ones((3, 2)), "b": np.ones((3, 5))})
    assert y.shape == (3, 2) and two.name == "two_in"
    assert two.engine.input_shapes() == {"a": (2,), "b": (5,)}


def test_float64_models():
    inputs = nnctl.Input(shape=(3,), dtype="float64")
    model = nnctl.Model(inputs, L.Dense(2)(inputs))
    assert model.to_spec()["dtype"] == "float64"
    assert model.predict(np.ones((2, 3))).dtype == np.float64


# --- mistakes: clear errors, early ---------------------------------------------------------------

def test_layer_arguments_are_checked_when_made():
    with pytest.raises(SpecError, match=r"unknown argument 'activaton' for Dense "
                                        r"\(did you mean 'activation'\?\)"):
        L.Dense(3, activaton="relu")
    with pytest.raises(SpecError, match="`units` must be a positive integer, got 0"):
        L.Dense(0)
    with pytest.raises(SpecError, match="unknown activation 'relux'"):
        L.Dense(3, activation="relux")
    with pytest.raises(TypeError, match=r"Dense\(\) takes 5 positional arguments"):
        L.Dense(3, None, True, "zeros", "zeros", 1)


def test_shapes_are_checked_when_layers_are_called():
    a, b = nnctl.Input(shape=(3,)), nnctl.Input(shape=(4,))
    with pytest.raises(SpecError, match=r"incompatible shapes \(None, 3\) and \(None, 4\)"):
        L.Add()([a, b])
    with pytest.raises(SpecError, match="takes one tensor"):
        L.Dense(2)([a, b])
    with pytest.raises(TypeError, match="a mix of symbolic tensors and arrays"):
        L.Concatenate()([a, np.ones((1, 3))])


def test_graph_mistakes():
    x = nnctl.Input(shape=(3,))
    dense = L.Dense(3)
    assert nnctl.Model(x, dense(dense(x))).count_params() == 12   # a shared layer
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 3\).*called on "
                                         r"\(None, 5\)"):
        dense(nnctl.Input(shape=(5,)))
    other = nnctl.Input(shape=(3,), name="other")
    with pytest.raises(SpecError, match="depend on an input .*other.* not in `inputs`"):
        nnctl.Model(x, L.Add()([x, other]))
    with pytest.raises(TypeError, match="needs `inputs` and `outputs`"):
        nnctl.Model()

    class NoShape(nnctl.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    with pytest.raises(SpecError, match="the input shape is not known yet"):
        NoShape().to_spec()


def test_a_layer_called_on_arrays_checks_them_as_on_tensors():
    """A built layer called on arrays of another width drew new weights for them (Keras says
    the input is incompatible); a 1-D array or a list of numbers ended in an IndexError."""
    dense = L.Dense(2, name="d")
    dense(np.ones((1, 3)))
    kernel = dense.kernel.numpy().copy()
    with pytest.raises(ValueError, match=r"^Input of layer 'd' is incompatible with the layer: it "
                                         r"was built for inputs of shape \(None, 3\) \(its "
                                         r"weights fit those\), but was called on \(None, 4\)$"):
        dense(np.ones((1, 4)))
    np.testing.assert_array_equal(dense.kernel.numpy(), kernel)
    assert dense(np.ones((2, 5, 3))).shape == (2, 5, 2)     # same weights, more axes: fine
    one_axis = (r"^layer 'e': an input is a batch of samples, \(batch, \.\.\.\): got an "
                r"array of shape \(3,\); for one sample add the batch axis \(x\[None\]\)")
    with pytest.raises(ValueError, match=one_axis + "$"):
        L.Dense(2, name="e")(np.ones(3))
    with pytest.raises(ValueError, match=one_axis + r"; a list given to a layer is the list "
                                                    r"of its inputs: np.array\(\.\.\.\) makes "
                                                    r"one array of it$"):
        L.Dense(2, name="e")([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"^layer 'f': .* got an array of shape \(\)$"):
        L.Dense(2, name="f")(3.0)
    with pytest.raises(ValueError, match=r"^layer 'g': .* got an array of shape \(2,\); for "
                                         r"one sample add the batch axis \(x\[None\]\)$"):
        L.Concatenate(name="g")([np.ones(2), np.ones(2)])


def test_an_element_wise_layer_computes_on_a_vector_as_keras():
    """ReLU()(np.array([-1., 2.])): Keras computes it (a batch of numbers), as nnctl did until
    the check for a batch axis refused every 1-D array; a layer that needs samples of an axis
    or more (Dense, Concatenate) still says to add the batch axis. Keras' numbers."""
    np.testing.assert_array_equal(L.ReLU()(np.array([-1.0, 2.0])), [0.0, 2.0])
    np.testing.assert_allclose(L.Activation("sigmoid")(np.array([0.0, 1.0])),
                               [0.5, 0.7310586], rtol=1e-6)
    np.testing.assert_allclose(L.LeakyReLU()(np.array([-1.0, 2.0])), [-0.3, 2.0], rtol=1e-6)
    np.testing.assert_array_equal(L.Add()([np.array([1.0, 2.0]), np.array([3.0, 4.0])]),
                                  [4.0, 6.0])


@pytest.mark.parametrize("argument, value, hint", [
    ("activation", lambda x: x, "give an activation's name ('relu') or a function of "
     "nnctl.activations; for a function of your own, write a custom layer"),
    ("kernel_initializer", np.ones, "give an initializer's name ('he_normal'), an object of "
     "nnctl.initializers, or a mapping such as {'type': 'he_normal', 'seed': 1}"),
    ("kernel_regularizer", object(), "give a number, a name, or a list or mapping of them"),
])
def test_an_argument_a_spec_cannot_hold_says_what_to_give(argument, value, hint):
    """A Python function as a Dense's activation was told to give "a mapping such as
    {'type': 'he_normal', 'seed': 1}" (an initializer's)."""
    with pytest.raises(TypeError) as refused:
        L.Dense(2, name="h", **{argument: value})
    assert str(refused.value).startswith(f"layer 'h': `{argument}`: {value!r} cannot be "
                                         f"written in a spec; {hint}")


def test_a_layer_given_as_an_activation_is_refused_with_what_to_do():
    """Dense(activation=ReLU()) said "activation 'relu' has no argument 'name'"."""
    with pytest.raises(TypeError, match=r"^layer 'd': `activation`: a layer \('r'\) cannot be "
                                        r"an activation in nnctl: give an activation's name "
                                        r"\('relu'\) or a function of nnctl.activations, or put "
                                        r"the layer after this one in the model$"):
        L.Dense(2, activation=L.ReLU(name="r"), name="d")


def test_an_activation_function_on_a_models_tensor_adds_its_layer():
    """keras.activations.relu(x) in a functional model or a subclass's call(), as Keras
    allows (nnctl.ops did it): it was refused, 'a symbolic tensor has no values'."""
    inputs = nnctl.Input(shape=(3,))
    hidden = L.Dense(4)(inputs)
    model = nnctl.Model(inputs, nnctl.activations.leaky_relu(hidden, negative_slope=0.1))
    assert [layer.get_config().get("activation") for layer in model.layers[2:]] == [
        {"type": "leaky_relu", "negative_slope": 0.1}]
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    z = model.layers[1](x)
    np.testing.assert_allclose(model.predict(x), np.where(z > 0, z, 0.1 * z), rtol=1e-6)

    class Net(nnctl.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(3)

        def call(self, x):
            return nnctl.activations.softmax(self.dense(x))

    net = Net()
    out = net(x)
    np.testing.assert_allclose(out.sum(axis=-1), [1.0], rtol=1e-6)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "gelu"])
def test_an_ops_function_is_an_activation_as_in_keras(name):
    """Dense(3, activation=keras.ops.relu) (tf.nn.relu translated) was refused: "cannot be
    written in a spec"; nnctl.activations' functions were taken."""
    dense = L.Dense(3, activation=getattr(nnctl.ops, name))
    assert dense.get_config()["activation"] == name
    assert nnctl.activations.get(getattr(nnctl.ops, name)).name == name


def test_a_custom_layer_is_the_way_to_an_activation_of_your_own():
    class Swish(L.Layer):
        def call(self, x):
            return nnctl.ops.multiply(x, nnctl.ops.sigmoid(x))

    inputs = nnctl.Input(shape=(3,))
    model = nnctl.Model(inputs, Swish()(L.Dense(3)(inputs)))
    x = np.ones((2, 3), np.float32)
    z = model.layers[1](x)
    np.testing.assert_allclose(model.predict(x), z / (1 + np.exp(-z)), rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: L.InputLayer(shape=(3,)), lambda: L.InputLayer(shape=3),
    lambda: L.InputLayer((3,), 8),                       # Keras' order: shape, batch_size
    lambda: L.InputLayer(input_shape=(3,)),              # tf.keras' name, taken by Keras 3
    lambda: L.InputLayer(batch_input_shape=(None, 3)),
    lambda: L.InputLayer(batch_shape=(8, 3)),
], ids=["shape", "int", "positional", "input_shape", "batch_input_shape", "batch_shape"])
def test_input_layer_takes_keras_arguments(make):
    """`InputLayer(input_shape=(3,))`, as tf.keras tutorials write it, was a TypeError, and
    `InputLayer((3,), 8)` named the input 8."""
    model = nnctl.Sequential([make(), L.Dense(2)])
    assert (model.input_shape, model.output_shape, model.count_params()) == ((None, 3),
                                                                             (None, 2), 8)
    assert model.inputs[0].name.startswith("input_layer")


def test_input_layer_mistakes():
    with pytest.raises(TypeError, match=r"^Unrecognized keyword arguments passed to "
                                        r"InputLayer: \{'shap': \(3,\)\}$"):
        L.InputLayer(shap=(3,))
    with pytest.raises(ValueError, match="cannot pass both `shape` and `batch_shape`"):
        L.InputLayer(shape=(3,), batch_shape=(None, 3))
    with pytest.raises(SpecError, match=r"^InputLayer: `name` cannot contain the character '/'"):
        L.InputLayer(shape=(3,), name="a/b")
    with pytest.raises(SpecError, match=r"^InputLayer: shape dimensions must be positive"):
        L.InputLayer(shape=(0,))


def test_time_distributed_of_a_model_says_so():
    """TimeDistributed(a Sequential) was "`layer` is the layer to apply to every step, e.g.
    `layer: {type: Dense, units: 8}`" (a spec's wording for the model's Keras config), or
    'not built' for a Sequential without an input: nnctl wraps its own layers only."""
    for inner in (nnctl.Sequential([nnctl.Input((4,)), L.Dense(3)], name="inner"),
                  nnctl.Sequential([L.Dense(3)], name="inner2")):
        with pytest.raises(TypeError, match=r"`layer`: nnctl wraps one of its own layers "
                                            r"\(Dense, Conv2D, LSTM, \.\.\.\), not a model "
                                            r"\('inner2?'\)"):
            L.TimeDistributed(inner)
    assert L.TimeDistributed(L.Dense(2)).layer["units"] == 2   # the wrapped layer's entry


def test_an_initializer_class_is_taken_as_keras_takes_it():
    """Keras' initializers.get makes an instance of a class given: Dense(kernel_initializer=
    HeNormal) was a TypeError ('get_config() missing 1 required positional argument')."""
    model = nnctl.Sequential([nnctl.Input((3,)), L.Dense(2, kernel_initializer=
                                                         nnctl.initializers.HeNormal,
                                                         bias_initializer=nnctl.initializers.Ones)])
    assert model.layers[0].get_config()["kernel_initializer"]["type"] == "he_normal"
    np.testing.assert_array_equal(model.get_weights()[1], [1, 1])


def test_keras_saving_and_the_training_modules(tmp_path):
    """keras.saving.load_model, Keras 3's way to open a .keras file, was an AttributeError;
    keras.optimizers, a plain one that did not say why."""
    model = nnctl.from_spec(CONFIGS / "article_functional.yaml")
    nnctl.saving.save_model(model, tmp_path / "m.keras")
    again = nnctl.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.predict(np.ones((1, 3))), model.predict(np.ones((1, 3))))
    for name in ("optimizers", "losses", "metrics", "callbacks"):
        with pytest.raises(AttributeError, match=rf"^module 'nnctl' has no attribute '{name}': "
                                                 r"nnctl does not train models .* train it "
                                                 r"with Keras$"):
            getattr(nnctl, name)


FORGOT_SUPER = (r"^In layer '{}', you forgot to call `super\(\).__init__\(\)` as the first "
                r"statement in the `__init__\(\)` method. Go add it!$")


def test_a_subclass_that_forgot_super_init_is_refused_as_keras_refuses_it():
    """Keras 3 makes such a model, then raises this when it is called: a script that nnctl
    ran would fail in Keras (the error was "'NoSuper' object has no attribute 'name'")."""
    class NoSuper(nnctl.Model):
        def __init__(self):
            self.dense = L.Dense(2, input_shape=(3,))

        def call(self, x):
            return self.dense(x)

    model = NoSuper()
    with pytest.raises(RuntimeError, match=FORGOT_SUPER.format("NoSuper")):
        model(np.ones((1, 3)))
    with pytest.raises(AttributeError, match=r"^'NoSuper' object has no attribute 'nope'$"):
        model.nope


def test_a_custom_layer_that_forgot_super_init_is_refused_too():
    """It was "'tuple' object has no attribute 'append'" when called on a model's tensor."""
    class Block(L.Layer):
        def __init__(self):
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    inputs = nnctl.Input(shape=(3,))
    for argument in (inputs, np.ones((1, 3))):
        with pytest.raises(RuntimeError, match=FORGOT_SUPER.format("Block")):
            Block()(argument)


def test_data_mistakes():
    model = nnctl.from_spec(CONFIGS / "article_functional.yaml")
    with pytest.raises(DataError, match=r"input 'input': expected an array of shape "
                                        r"\(None, 3\), got \(2, 4\)"):
        model.predict(np.ones((2, 4)))
    two = nnctl.from_spec(CONFIGS / "two_input.yaml")
    with pytest.raises(DataError, match="has 2 inputs"):
        two.predict(np.ones((2, 6)))


def test_import_nnctl_stays_light():
    code = ("import sys, nnctl; print(sorted(m for m in sys.modules "
            "if m.startswith('nnctl.') or m in ('numpy', 'yaml', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_errors_are_the_builtins_a_keras_user_catches(tmp_path):
    """Bad specs and values are ValueErrors, a missing file an OSError, as in Keras."""
    import nnctl
    from nnctl.errors import FileError, SpecError

    for name in ("nope.yaml", "nope.keras", "nope.h5"):
        with pytest.raises(OSError) as missing:
            nnctl.load_model(str(tmp_path / name))
        assert isinstance(missing.value, FileError) and "no such file" in str(missing.value)
    model = nnctl.Sequential([nnctl.Input((2,)), L.Dense(1)])
    with pytest.raises(FileError, match="nope.weights.h5: no such file"):
        model.load_weights(str(tmp_path / "nope.weights.h5"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3]\nlayers:\n  - {type: Dense, units: -1}\n")
    with pytest.raises(ValueError) as invalid:
        nnctl.load_model(str(bad))
    assert isinstance(invalid.value, SpecError) and "bad.yaml:3:" in str(invalid.value)


# --- Keras' habits that nnctl refuses, clearly -------------------------------------------------

@pytest.mark.parametrize("method", ["compile", "fit", "evaluate", "train_on_batch",
                                    "test_on_batch"])
def test_training_is_refused_pointing_to_a_keras_file(method):
    model = nnctl.Sequential([nnctl.Input((2,)), L.Dense(1)], name="net")
    with pytest.raises(NotImplementedError, match=rf"^{method}\(\): nnctl does not train .*"
                                                  r"model.save\('net.keras'\)"):
        getattr(model, method)(np.ones((1, 2)), np.ones((1, 1)))


def test_a_custom_layer_that_is_not_traceable_is_refused_by_name():
    class NumpyLayer(L.Layer):
        def call(self, inputs):
            return np.tanh(inputs)

    x = nnctl.Input((3,))
    with pytest.raises(TypeError, match=r"custom layer NumpyLayer \('numpy_layer.*'\) cannot "
                                        r"be traced"):
        NumpyLayer()(x)
    assert NumpyLayer()(np.zeros((1, 3))).shape == (1, 3)   # on arrays it just runs


def test_a_custom_layer_with_its_own_weights_is_refused_saying_so():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    with pytest.raises(TypeError, match=r"^custom layer Scale \('scale.*'\) cannot be traced: "
                                        r"nnctl does not run its build\(\), and a custom "
                                        r"layer's own weights \(add_weight\) are not supported"):
        Scale()(nnctl.Input((3,)))


def test_a_subclassed_model_that_is_not_traceable_is_refused_by_name():
    class NumpyModel(nnctl.Model):
        def call(self, inputs):
            return np.tanh(inputs)

    with pytest.raises(TypeError, match=r"^model NumpyModel \('numpy_model.*'\) cannot be "
                                        r"traced: its call\(\) does something other than "
                                        r"calling nnctl layers and nnctl.ops \(TypeError: "):
        NumpyModel().build((None, 3))


def test_layers_held_as_attributes_are_found_once_in_the_order_they_were_set():
    """A custom layer's sublayers and a subclassed model's layers: one tracking rule."""
    class Block(L.Layer):
        def __init__(self):
            super().__init__(name="block")
            self.first = L.Dense(2, name="first")
            self.pair = [L.Dense(2, name="second"), self.first]

        def call(self, x):
            return self.pair[0](self.first(x))

    class Net(nnctl.Model):
        def __init__(self):
            super().__init__(name="net")
            self.block = Block()
            self.head = L.Dense(1, name="head")
            self.again = (self.head, self.block, self)

        def call(self, x):
            return self.head(self.block(x))

    net = Net()
    net.build((None, 3))
    assert [layer.name for layer in net.layers] == ["block", "head"]
    assert [w.path for w in net.block.weights] == [
        "first/kernel", "first/bias", "second/kernel", "second/bias"]


def test_a_shared_layer_is_one_layer_with_one_set_of_weights():
    a, b = nnctl.Input((3,), name="a"), nnctl.Input((3,), name="b")
    shared = L.Dense(2, name="shared")
    model = nnctl.Model([a, b], L.Add(name="sum")([shared(a), shared(b)]), name="m")
    spec = model.to_spec()
    assert spec["layers"][1] == {"call": "shared", "inputs": "b"}   # docs/spec.md
    assert spec["layers"][2]["inputs"] == ["shared", "shared[1][0]"]
    assert model.count_params() == 8 and len(model.get_weights()) == 2
    assert [layer.name for layer in model.layers] == ["a", "b", "shared", "sum"]
    x, y = np.ones((2, 3), "float32"), np.arange(6, dtype="float32").reshape(2, 3)
    kernel, bias = shared.get_weights()
    want = x @ kernel + bias + y @ kernel + bias
    np.testing.assert_allclose(model.predict([x, y]), want, rtol=1e-6)
    again = nnctl.Model.from_spec(nnctl.Model.from_spec(spec).to_spec())
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again.predict([x, y]), want, rtol=1e-6)


def test_models_made_alike_draw_new_weights_unless_seeded():
    def make():
        return nnctl.Sequential([nnctl.Input((4,)), L.Dense(3)])

    assert not np.array_equal(make().get_weights()[0], make().get_weights()[0])
    nnctl.utils.set_random_seed(3)
    first = make().get_weights()[0]
    nnctl.utils.set_random_seed(3)
    assert np.array_equal(first, make().get_weights()[0])


@pytest.mark.parametrize("size", [0, -1, 2.5, "8"])
def test_input_batch_size_must_be_positive_integer(size):
    """Input(batch_size=...) is the summary's first axis (tests/api_scripts/fixed_batch_size.py):
    a value that is no batch size is refused where it is given."""
    with pytest.raises(nnctl.errors.SpecError, match="`batch_size` must be a positive integer"):
        nnctl.Input((3,), batch_size=size)


@pytest.mark.parametrize("name", ["compiled_adam", "compiled_rmsprop", "compiled_schedule"])
def test_load_model_of_a_compiled_keras_file_summarizes_as_keras(name):
    """load_model of a compiled model's .keras: Keras compiles it again, and its summary adds
    ' Optimizer params: N' and counts N in the total, as `nnctl summary` has since 07cbe79;
    the Python API's summary lacked them. compile=False: none, as in Keras."""
    keras_dir = ROOT / "tests" / "golden" / "keras"
    want = json.loads((keras_dir / f"{name}.expected.json").read_text())["summary"]
    printed = []
    nnctl.saving.load_model(keras_dir / f"{name}.keras").summary(
        print_fn=lambda text, **kwargs: printed.append(text))
    assert "".join(printed) == want
    printed.clear()
    nnctl.saving.load_model(keras_dir / f"{name}.keras", compile=False).summary(
        print_fn=lambda text, **kwargs: printed.append(text))
    assert "Optimizer params" not in "".join(printed)
