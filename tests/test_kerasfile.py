"""Keras files (nnctl.kerasfile): goldens saved by Keras 3 (tools/golden/keras_files.py) read
with equal summaries and predictions; .keras files written by nnctl loaded by Keras (when a
Python with keras is at hand); `nnctl convert`; hostile Keras files refused in one line."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from rich.console import Console

from conftest import CONFIGS, GOLDEN, ROOT, run_nnctl
from nnctl import summary as summaries
from nnctl.kerasfile import keras_json_to_spec, keras_kind, load_model, load_weights_h5, \
    save_keras, spec_to_keras_json
from nnctl.model import build_model
from nnctl.render import print_summary_table
from nnctl.spec import parse_spec, read_spec
from nnctl.yamlpos import Located

KERAS = GOLDEN / "keras"
STEMS = sorted(p.name[:-len(".expected.json")] for p in KERAS.glob("*.expected.json"))
NESTED = {"nested_sequential", "nested_functional", "shared_encoder",
          "sequential_of_branches", "image_augmentation"}   # flattened: their own summary rows
# Keras operations between tensors (`a + b`): rows of Keras' summary, but not in its
# model.layers; nnctl reads them as the merge layers they compute
OPERATIONS = {"tensor_operations"}
# compiled: Keras' summary of the model it loads counts the optimizer (Optimizer params),
# which only the .keras archive holds (test_a_compiled_model_counts_its_optimizer_as_keras)
COMPILED = {"compiled_adam", "compiled_rmsprop", "compiled_schedule"}
WEIGHTS_FILES = sorted(KERAS.glob("*weights.h5"))   # model.save_weights: Keras 3, tf.keras 2
FILES = sorted(p for p in KERAS.iterdir()
               if not p.name.endswith(".expected.json") and p not in WEIGHTS_FILES)
WITH_WEIGHTS = [p for p in FILES if p.suffix in (".keras", ".h5")]


def expected(stem: str) -> dict:
    return json.loads((KERAS / f"{stem}.expected.json").read_text())


def stem_of(path) -> str:
    return path.name.split(".")[0]


def model_of(path):
    spec, weights = load_model(path)
    model = build_model(parse_spec(Located(spec, {}, str(path))))
    return model, weights


def piped_summary(model) -> str:
    data = summaries.summarize(model)
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=False, no_color=True,
                      highlight=False)
    print_summary_table(data, console, width=summaries.table_width(data, 80, False))
    return buffer.getvalue()


def test_there_are_enough_goldens():
    assert len(STEMS) >= 10
    for stem in STEMS:
        assert {p.name for p in KERAS.glob(f"{stem}.*")} >= {
            f"{stem}.keras", f"{stem}.h5", f"{stem}.json"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_summary_facts_equal_keras(path):
    want = expected(stem_of(path))["facts"]
    model, _ = model_of(path)
    assert model.name == want["name"]
    assert model.total_params == want["total_params"]
    assert model.trainable_params == want["trainable_params"]
    if stem_of(path) in NESTED | OPERATIONS:
        return
    batch = model.spec.batch_size   # a fixed batch size: Keras' shapes start with it
    rows = [{"name": n.name, "type": n.type_name, "output_shape": [batch, *n.shape],
             "params": n.params} for n in model.layers]
    assert rows == [{k: layer[k] for k in ("name", "type", "output_shape", "params")}
                    for layer in want["layers"]]


@pytest.mark.parametrize("stem", sorted(set(STEMS) - NESTED - COMPILED))
def test_summary_text_equals_keras(stem):
    for suffix in (".keras", ".h5", ".json"):
        model, _ = model_of(KERAS / f"{stem}{suffix}")
        assert piped_summary(model) == expected(stem)["summary"], suffix


@pytest.mark.parametrize("path", WITH_WEIGHTS, ids=[p.name for p in WITH_WEIGHTS])
def test_predictions_equal_keras(path):
    want = expected(stem_of(path))
    model, weights = model_of(path)
    if len(want["inputs"]) > 1:   # several inputs: in Keras' order (`input_layers`)
        assert model.input_names == list(want["inputs"])
    inputs = dict(zip(model.input_names, (np.asarray(v) for v in want["inputs"].values())))
    outputs = model.forward(inputs, model.check_weights(weights, str(path)))
    assert len(outputs) == len(want["outputs"])
    for got, keras_out in zip(outputs.values(), want["outputs"]):
        np.testing.assert_allclose(got, np.asarray(keras_out, dtype=got.dtype), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("path", WEIGHTS_FILES, ids=[p.name for p in WEIGHTS_FILES])
def test_weights_files_go_with_a_config(path):
    """`--weights x.weights.h5` for a model given as a .json config."""
    stem = stem_of(path)
    want = expected(stem)
    data = np.concatenate([np.asarray(v, np.float32).reshape(len(v), -1)
                           for v in want["inputs"].values()], axis=1)
    rows = "\n".join(",".join(map(repr, row)) for row in data.tolist()) + "\n"
    result = run_nnctl("forward", KERAS / f"{stem}.json", "--weights", path, input=rows)
    assert result.code == 0, result.err
    got = np.loadtxt(io.StringIO(result.out), delimiter=",", dtype=np.float32, ndmin=2)
    keras_out = np.concatenate([np.asarray(o, np.float32).reshape(len(o), -1)
                                for o in want["outputs"]], axis=1)
    np.testing.assert_allclose(got, keras_out, rtol=1e-5, atol=1e-6)
    alone = run_nnctl("summary", path)
    assert alone.code == 1 and "holds weights only" in alone.err, alone.err


def test_weights_written_by_nnctl_read_back(tmp_path):
    from nnctl.kerasfile import load_weights_h5, save_weights_h5

    spec, weights = load_model(KERAS / "func_two_in_out.keras")
    save_weights_h5(tmp_path / "w.weights.h5", spec, weights)
    again = load_weights_h5(tmp_path / "w.weights.h5", spec)
    assert again.keys() == weights.keys()
    for key in weights:
        np.testing.assert_array_equal(again[key], weights[key])
    with open(tmp_path / "w.weights.h5", "rb") as f:   # Keras 3's layout, byte for byte
        import h5py

        with h5py.File(f) as h5:
            assert h5["layers/dense/vars"].attrs["name"] == "a"
            assert h5["layers/dense_1/vars"].attrs["name"] == "b"
            assert h5["layers/dense/vars/0"].shape == (4, 4)


@pytest.mark.parametrize("source", ["nested_functional.keras", "nested_functional.h5"])
def test_a_flattened_nested_model_takes_the_weights_of_its_keras_file(source):
    """`nnctl convert nested.keras -o m.yaml`, then `--weights nested.keras`: the file keeps a
    nested model's layers in that model's group (layers/sequential/layers/dense; an .h5's
    model_weights/block), found by name, not where a flat model would have them."""
    spec, _ = load_model(KERAS / source, weights=False)
    model = build_model(parse_spec(Located(spec, {}, "m.yaml")))
    weights = load_weights_h5(KERAS / source, model)
    want = expected("nested_functional")
    (x,) = (np.asarray(v) for v in want["inputs"].values())
    (got,) = model.forward({model.input_names[0]: x}, model.check_weights(weights)).values()
    np.testing.assert_allclose(got, np.asarray(want["outputs"][0], np.float32), rtol=1e-5,
                               atol=1e-6)


def nested_functional_in_python():
    """tools/golden/keras_files.py's nested_functional, made with nnctl's Python API."""
    import nnctl as keras
    from nnctl import layers as L

    inner = keras.Sequential([keras.Input((3,)), L.Dense(3, activation="relu", name="block_a"),
                              L.BatchNormalization(name="block_bn")], name="block")
    x = keras.Input((3,), name="x")
    h = inner(L.Dense(3, name="pre")(x))
    out = L.Dense(2, name="post")(L.Add(name="skip")([h, x]))
    return keras.Model(x, out, name="residual")


def h5_datasets(path) -> dict:
    import h5py

    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def test_python_models_with_a_nested_model_load_and_save_keras_weights(tmp_path):
    """model.load_weights / save_weights("x.weights.h5") of a model using a Sequential as a
    layer: Keras' file read, and written back in Keras' layout (what Keras' load_weights
    finds), dataset for dataset."""
    golden = KERAS / "nested_functional.weights.h5"
    model = nested_functional_in_python()
    model.load_weights(golden)
    want = expected("nested_functional")
    (x,) = (np.asarray(v, np.float32) for v in want["inputs"].values())
    np.testing.assert_allclose(model.predict(x), np.asarray(want["outputs"][0], np.float32),
                               rtol=1e-5, atol=1e-6)
    model.save_weights(tmp_path / "again.weights.h5")
    keras_side, ours = h5_datasets(golden), h5_datasets(tmp_path / "again.weights.h5")
    assert ours.keys() == keras_side.keys()
    for key in keras_side:
        np.testing.assert_array_equal(ours[key], keras_side[key], err_msg=key)


def test_the_cli_reads_keras_files_by_content(tmp_path):
    renamed = tmp_path / "model.bin"
    shutil.copy(KERAS / "seq_mlp.keras", renamed)
    assert keras_kind(renamed) == "keras"
    result = run_nnctl("summary", renamed)
    assert result.code == 0, result.err
    assert result.out == expected("seq_mlp")["summary"]
    (inputs,) = expected("seq_mlp")["inputs"].values()
    rows = "\n".join(",".join(map(repr, row)) for row in inputs)
    forward = run_nnctl("forward", KERAS / "seq_mlp.h5", input=rows + "\n")
    assert forward.code == 0, forward.err
    got = np.loadtxt(io.StringIO(forward.out), delimiter=",", dtype=np.float32)
    np.testing.assert_allclose(got, expected("seq_mlp")["outputs"][0], rtol=1e-5)
    # a Keras file on stdin, and a .json config (no weights: drawn, with a note)
    piped = run_nnctl("summary", "-", input=(KERAS / "func_article.keras").read_bytes())
    assert piped.out == expected("func_article")["summary"], piped.err
    config = run_nnctl("summary", KERAS / "func_article.json")
    assert config.out == expected("func_article")["summary"], config.err


@pytest.mark.parametrize("stem", sorted(COMPILED))
def test_a_compiled_model_counts_its_optimizer_as_keras(stem):
    """A .keras archive of a compiled model: `nnctl summary` prints what Keras' summary of the
    model load_model gives (its optimizer rebuilt: ` Optimizer params: N`, counted in the
    total): Adam with amsgrad, RMSprop with momentum and centered, Nadam with a learning-rate
    schedule. The .json config (no compile_config) has no such line, as in Keras."""
    want = expected(stem)["summary"]
    assert " Optimizer params: " in want
    result = run_nnctl("summary", KERAS / f"{stem}.keras")
    assert (result.code, result.err, result.out) == (0, "", want)
    facts = json.loads(run_nnctl("summary", KERAS / f"{stem}.keras", "--format", "json").out)
    optimizer = int(want.split(" Optimizer params: ")[1].split()[0].replace(",", ""))
    assert facts["optimizer_params"] == optimizer
    assert facts["total_params"] == expected(stem)["facts"]["total_params"] + optimizer
    config = run_nnctl("summary", KERAS / f"{stem}.json")
    assert config.code == 0 and "Optimizer params" not in config.out
    assert config.out == piped_summary(model_of(KERAS / f"{stem}.keras")[0])


def test_time_distributed_weights_without_group_names(tmp_path):
    """Keras 3.3 writes no `name` on a weights file's `vars` groups: TimeDistributed's weights
    (`time_distributed/layer/vars`) are then found by Keras' attribute, `layer`, not by the
    wrapped layer's name (they were 'the file has 0 variables for it'). Keras' golden with
    its names taken out, as Keras 3.3 saves it."""
    import h5py

    with zipfile.ZipFile(KERAS / "time_distributed.keras") as source:
        members = {name: source.read(name) for name in source.namelist()}
    weights = io.BytesIO(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        groups = []
        f.visititems(lambda name, obj: groups.append(obj) if "name" in obj.attrs else None)
        for group in groups:
            del group.attrs["name"]
    members["model.weights.h5"] = weights.getvalue()
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    want = expected("time_distributed")
    model, weights = model_of(tmp_path / "old.keras")
    (frames,) = (np.asarray(v) for v in want["inputs"].values())
    (got,) = model.forward({"frames": frames}, model.check_weights(weights)).values()
    np.testing.assert_allclose(got, np.asarray(want["outputs"][0], np.float32), rtol=1e-5,
                               atol=1e-6)


def test_forward_reads_the_columns_in_keras_input_order():
    """A model whose `layers` list its inputs in another order than `input_layers`: the
    columns are the inputs in Keras' order (model.inputs), short's 2 then deep's 3."""
    want = expected("func_input_order")
    short, deep = (np.asarray(v) for v in want["inputs"].values())
    rows = "\n".join(",".join(map(repr, row)) for row in np.hstack([short, deep]).tolist())
    r = run_nnctl("forward", KERAS / "func_input_order.keras", input=rows + "\n")
    assert r.code == 0 and r.err == "", r.err
    got = np.loadtxt(io.StringIO(r.out), delimiter=",", dtype=np.float32)
    np.testing.assert_allclose(got, want["outputs"][0], rtol=1e-5, atol=1e-6)


def test_json_configs_round_trip():
    spec = read_spec(str(CONFIGS / "article_functional.yaml"))
    text = spec_to_keras_json(spec)
    again = keras_json_to_spec(text)
    assert piped_summary(build_model(parse_spec(Located(again, {}, "x")))) == \
        piped_summary(build_model(spec))


def test_h5py_is_imported_only_for_keras_files():
    code = ("import sys; from nnctl.spec import read_spec; from nnctl.model import build_model;"
            f"build_model(read_spec({str(CONFIGS / 'article_sequential.yaml')!r}));"
            "assert 'h5py' not in sys.modules;"
            "from nnctl.kerasfile import load_model;"
            f"load_model({str(KERAS / 'seq_mlp.keras')!r}); assert 'h5py' in sys.modules")
    env = {**os.environ, "NNCTL_HDF5_IN_PROCESS": "1"}   # not in a child process: visible
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_without_h5py_a_keras_file_is_one_line_with_the_install_hint(tmp_path):
    """h5py missing: a .keras or .h5 file is refused with `pip install h5py`, and nothing is
    written; a .json config needs no h5py."""
    def nnctl_without_h5py(*args):
        code = ("import runpy, sys; sys.modules['h5py'] = None; sys.argv[0] = 'nnctl'; "
                "runpy.run_module('nnctl', run_name='__main__')")
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                              text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})

    for args in (("summary", KERAS / "seq_mlp.h5"),
                 ("convert", CONFIGS / "article_sequential.yaml", "-o", "m.keras")):
        done = nnctl_without_h5py(*args)
        lines = done.stderr.splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert lines[0].startswith("nnctl: error: ") and "pip install h5py" in lines[0]
    assert not (tmp_path / "m.keras").exists()
    config = nnctl_without_h5py("summary", KERAS / "seq_mlp.json")
    assert config.returncode == 0 and config.stdout == expected("seq_mlp")["summary"], config.stderr


# --- nnctl convert ---------------------------------------------------------------------------

def test_convert_round_trips_yaml_keras_yaml_npz(tmp_path):
    spec = CONFIGS / "batchnorm_mlp.yaml"
    steps = [(spec, "a.keras"), ("a.keras", "b.yaml"), ("b.yaml", "c.npz")]
    for source, target in steps:
        result = run_nnctl("convert", source, "-o", target, "--seed", "4", cwd=tmp_path)
        assert result.code == 0, result.err
    summaries_json = [run_nnctl("summary", path, "--format", "json", cwd=tmp_path).out
                      for path in (spec, "a.keras", "b.yaml", "c.npz")]
    assert len(set(summaries_json)) == 1, summaries_json
    rows = np.random.default_rng(0).normal(size=(5, _input_width(spec))).astype(np.float32)
    text = "\n".join(",".join(map(repr, r.tolist())) for r in rows) + "\n"
    outputs = [run_nnctl("forward", path, "--seed", "4", input=text, cwd=tmp_path).out
               if path == spec else run_nnctl("forward", path, input=text, cwd=tmp_path).out
               for path in (spec, "a.keras", "c.npz")]
    assert outputs[0] and len(set(outputs)) == 1, outputs


def test_convert_keeps_shared_layers_keras_yaml_keras(tmp_path):
    """A Keras file with shared layers to a spec (`call:` entries) and back: the same summary
    and the same numbers as Keras' golden."""
    source = KERAS / "shared_text.keras"
    for args in ((source, "-o", "a.yaml"), ("a.yaml", "--weights", source, "-o", "b.keras")):
        result = run_nnctl("convert", *args, cwd=tmp_path)
        assert result.code == 0, result.err
    assert "{call: encode, inputs: 'embed[1][0]'}" in (tmp_path / "a.yaml").read_text()
    texts = [run_nnctl("summary", path, cwd=tmp_path).out for path in (source, "b.keras")]
    assert texts[0] == texts[1] == expected("shared_text")["summary"]
    model, weights = model_of(tmp_path / "b.keras")
    want = expected("shared_text")
    inputs = {k: np.asarray(v) for k, v in want["inputs"].items()}
    got = model.forward(inputs, model.check_weights(weights, "b.keras"))
    np.testing.assert_allclose(next(iter(got.values())), np.asarray(want["outputs"][0],
                               dtype=np.float32), rtol=1e-5, atol=1e-6)


def _input_width(spec) -> int:
    model = build_model(read_spec(str(spec)))
    (shape,) = model.input_shapes().values()
    return int(np.prod(shape))


def test_an_output_name_nnctl_cannot_write_is_refused_with_the_list(tmp_path):
    for command in ("build", "convert"):
        result = run_nnctl(command, CONFIGS / "article_sequential.yaml", "-o", "m.pt",
                           cwd=tmp_path)
        assert result.code == 2, result.err
        assert "'.pt' is not a model format" in result.err
        for extension in (".npz", ".keras", ".yaml", ".onnx"):
            assert extension in result.err
        assert not (tmp_path / "m.pt").exists()


# --- written by nnctl, read by Keras -------------------------------------------------------

def keras_python() -> str | None:
    """A Python that imports keras: this one, or $NNCTL_KERAS_PYTHON."""
    import importlib.util

    if importlib.util.find_spec("keras") is not None:
        return sys.executable
    return os.environ.get("NNCTL_KERAS_PYTHON") or None


CHECK_IN_KERAS = """
import json, sys, numpy as np, keras
out = {}
for path, (inputs, weights) in json.load(sys.stdin).items():
    if weights is None:
        model = keras.saving.load_model(path)
    else:   # a config from model.to_json() and weights from model.save_weights()
        with open(path) as f:
            model = keras.models.model_from_json(f.read())
        model.load_weights(weights)
    args = [np.asarray(v, dtype=t.dtype) for v, t in zip(inputs, model.inputs)]
    pred = model.predict(args if len(args) > 1 else args[0], verbose=0)
    out[path] = [np.asarray(p).tolist() for p in (pred if isinstance(pred, list) else [pred])]
json.dump(out, sys.stdout)
"""


@pytest.mark.skipif(keras_python() is None, reason="keras is not installed (set "
                    "NNCTL_KERAS_PYTHON to a Python that has it)")
def test_keras_files_written_by_nnctl_load_in_keras_and_predict_the_same(tmp_path):
    from nnctl.kerasfile import save_weights_h5

    requests, want = {}, {}
    for stem in STEMS:
        spec, weights = load_model(KERAS / f"{stem}.keras")
        inputs = list(expected(stem)["inputs"].values())
        archive = str(tmp_path / f"{stem}.keras")
        save_keras(archive, spec, weights)
        config = tmp_path / f"{stem}.json"
        config.write_text(spec_to_keras_json(spec))
        save_weights_h5(tmp_path / f"{stem}.weights.h5", spec, weights)
        requests[archive] = (inputs, None)
        requests[str(config)] = (inputs, str(tmp_path / f"{stem}.weights.h5"))
        want[archive] = want[str(config)] = expected(stem)["outputs"]
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "numpy")}
    done = subprocess.run([keras_python(), "-c", CHECK_IN_KERAS], input=json.dumps(requests),
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got.keys() == requests.keys()
    for target in requests:
        assert len(got[target]) == len(want[target])
        for a, b in zip(got[target], want[target]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6,
                                       err_msg=target)


# --- hostile files -------------------------------------------------------------------------

def one_error_line(result, *fragments) -> str:
    assert result.code == 1, (result.code, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def keras_archive(path, config: dict, weights: bytes | None = None) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", json.dumps(config))
        if weights is not None:
            archive.writestr("model.weights.h5", weights)


def seq_config() -> dict:
    return json.loads((KERAS / "seq_mlp.json").read_text())


def test_a_lambda_layer_is_refused_and_its_bytecode_never_runs(tmp_path):
    import base64
    import marshal

    marker = tmp_path / "ran"
    code = compile(f"open({str(marker)!r}, 'w').write('x')", "evil", "exec")
    config = seq_config()
    config["config"]["layers"].insert(2, {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "evil", "function": {
            "class_name": "__lambda__", "config": {
                "code": base64.b64encode(marshal.dumps(code)).decode(), "defaults": None,
                "closure": None}}}})
    keras_archive(tmp_path / "lambda.keras", config)
    (tmp_path / "lambda.json").write_text(json.dumps(config))
    for name in ("lambda.keras", "lambda.json"):
        for command in ("summary", "forward"):
            line = one_error_line(run_nnctl(command, name, cwd=tmp_path, input=""),
                                  "layer 'evil' (Lambda)", "runs no code")
            assert "Dense" in line   # says what is supported
    assert not marker.exists()


def test_a_python_function_activation_is_refused_and_never_runs(tmp_path):
    """Keras stores a lambda activation (`activation=lambda x: relu(x, max_value=2)`) as
    marshalled bytecode under "value"; it was 'an activation mapping needs a type key'."""
    import base64
    import marshal

    marker = tmp_path / "ran"
    code = compile(f"open({str(marker)!r}, 'w').write('x')", "evil", "exec")
    config = seq_config()
    config["config"]["layers"][1]["config"]["activation"] = {
        "value": [base64.b64encode(marshal.dumps(code)).decode(), None, None]}
    (tmp_path / "fn.json").write_text(json.dumps(config))
    one_error_line(run_nnctl("summary", "fn.json", cwd=tmp_path),
                   "layer 'layer1'", "a Python function stored as bytecode", "runs no code")
    assert not marker.exists()


def test_a_module_that_is_not_keras_is_refused(tmp_path):
    config = seq_config()
    config["config"]["layers"][1]["module"] = "os"
    config["config"]["layers"][1]["class_name"] = "system"
    (tmp_path / "evil.json").write_text(json.dumps(config))
    one_error_line(run_nnctl("summary", "evil.json", cwd=tmp_path),
                   "layer 'layer1' (system) of model 'my_Sequential'", "module 'os'",
                   "not Keras'")
    custom = seq_config()
    custom["config"]["layers"][1].update(class_name="MyDense", registered_name="my>MyDense",
                                         module=None)
    (tmp_path / "custom.json").write_text(json.dumps(custom))
    one_error_line(run_nnctl("summary", "custom.json", cwd=tmp_path),
                   "layer 'layer1' (MyDense)", "custom", "Supported layers: Dense, ")


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (40 << 20))   # 40 MB of spaces, 40 KB packed
    assert (tmp_path / "bomb.keras").stat().st_size < 200_000
    one_error_line(run_nnctl("summary", "bomb.keras", cwd=tmp_path), "config.json declares",
                   "zip bomb")
    # weights may be large, but not inflated a thousandfold
    config = (KERAS / "seq_mlp.json").read_text()
    with zipfile.ZipFile(tmp_path / "weights_bomb.keras", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", b"\0" * (64 << 20))
    one_error_line(run_nnctl("forward", "weights_bomb.keras", cwd=tmp_path, input="1,2,3\n"),
                   "model.weights.h5 declares 67.11 MB from", "zip bomb")


def test_an_hdf5_dataset_with_a_huge_declared_shape_is_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "huge.weights.h5", "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(1 << 20, 1 << 20), dtype="float32", chunks=(1, 16))
        group.create_dataset("1", shape=(3,), dtype="float32")
    raw = (tmp_path / "huge.weights.h5").read_bytes()
    assert len(raw) < 100_000
    config = json.loads((KERAS / "seq_mlp.json").read_text())
    keras_archive(tmp_path / "huge.keras", config, raw)
    one_error_line(run_nnctl("forward", "huge.keras", cwd=tmp_path, input="1,2,3\n"),
                   "declares shape (1048576, 1048576)")


def test_an_h5_whose_weights_link_to_another_file_is_refused(tmp_path):
    import h5py

    shutil.copy(KERAS / "seq_mlp.h5", tmp_path / "linked.h5")
    with h5py.File(tmp_path / "linked.h5", "a") as f:
        group = f["model_weights/layer1/my_Sequential/layer1"]
        del group["kernel"]
        group["kernel"] = h5py.ExternalLink("/etc/passwd", "/x")
    one_error_line(run_nnctl("forward", "linked.h5", cwd=tmp_path, input="1,2,3\n"),
                   "is a link")


def test_a_damaged_h5_that_crashes_the_hdf5_library_is_one_error_line(tmp_path):
    """Byte 1009 of this file set to 10 makes libhdf5 1.14 dereference a bad pointer: the
    reading runs in a child process, whose death is reported as one line."""
    data = bytearray((KERAS / "seq_batchnorm.h5").read_bytes())
    data[1009] = 10
    (tmp_path / "damaged.h5").write_bytes(bytes(data))
    for command in ("summary", "forward"):
        one_error_line(run_nnctl(command, "damaged.h5", cwd=tmp_path, input="1,2,3,4,5\n"),
                       "damaged.h5")
    flipped = run_nnctl("summary", "-", input=bytes(data))
    one_error_line(flipped, "<stdin>")


@pytest.mark.parametrize("name", ["model.h5", "model.hdf5", "model.keras"])
@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\x89HDF\r\n"])
def test_a_keras_file_that_is_not_one_says_so(tmp_path, name, content):
    """A download cut short or a page of HTML saved as model.h5: not read as a YAML spec."""
    (tmp_path / name).write_bytes(content)
    kind = "HDF5 file" if name.endswith(("h5", "hdf5")) else ".keras archive"
    for command in ("summary", "forward"):
        one_error_line(run_nnctl(command, name, cwd=tmp_path, input="1,2,3\n"),
                       f"{name}: not a valid {kind}")


def test_an_operation_on_a_number_is_refused_naming_it(tmp_path):
    """`a * 2.0` in a Keras model is a Multiply operation of a tensor and a number (Keras'
    tensor_operations with b replaced by 2.0): refused in one line, in a .json and (no
    `module` there) an .h5's config alike, where it was 'Multiply takes at least 2 inputs'."""
    import h5py

    config = json.loads((KERAS / "tensor_operations.json").read_text())
    (entry,) = [e for e in config["config"]["layers"] if e["name"] == "multiply"]
    entry["inbound_nodes"][0]["args"][1] = 2.0
    (tmp_path / "m.json").write_text(json.dumps(config))
    shutil.copy(KERAS / "tensor_operations.h5", tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        legacy = json.loads(f.attrs["model_config"])
        (entry,) = [e for e in legacy["config"]["layers"] if e["name"] == "multiply"]
        entry["inbound_nodes"][0]["args"][1] = 2.0
        f.attrs["model_config"] = json.dumps(legacy)
    for name in ("m.json", "m.h5"):
        one_error_line(run_nnctl("summary", name, cwd=tmp_path),
                       "layer 'multiply' (Multiply) is called with the number 2.0; nnctl "
                       "reads calls on tensors only")


def test_an_operation_nnctl_does_not_read_says_what_it_is(tmp_path):
    """`a / b` in a Keras model (Keras' tensor_operations with its Subtract a TrueDivide):
    the error said Keras traces such operations for merged masks, which this one is not."""
    config = json.loads((KERAS / "tensor_operations.json").read_text())
    (entry,) = [e for e in config["config"]["layers"] if e["name"] == "subtract"]
    entry.update(class_name="TrueDivide", name="true_divide")
    (tmp_path / "m.json").write_text(json.dumps(config))
    one_error_line(run_nnctl("summary", "m.json", cwd=tmp_path),
                   "layer 'true_divide' (TrueDivide): a Keras operation (an operator or "
                   "keras.ops call in the model, as a / b, or one Keras traces for a mask",
                   "for another computation, use a layer")


def test_a_keras_archive_without_its_config_says_so(tmp_path):
    """Keras' seq_mlp.keras less its config.json (an archive cut down, or another zip named
    .keras): the archive's own error, not 'not UTF-8 text' from reading it as a YAML spec."""
    with zipfile.ZipFile(KERAS / "seq_mlp.keras") as source, \
            zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        for member in source.namelist():
            if member != "config.json":
                archive.writestr(member, source.read(member))
    for command in ("summary", "forward"):
        one_error_line(run_nnctl(command, "model.keras", cwd=tmp_path, input="1,2,3\n"),
                       "model.keras: the archive has no config.json")


@pytest.mark.parametrize("mutation, fragment", [
    ({"dtype": {"module": "keras", "class_name": "DTypePolicy",
                "config": {"name": "mixed_float16"}}}, "mixed precision policy 'mixed_float16'"),
    ({"quantization_config": {"mode": "int8"}}, "option quantization_config="),
])
def test_what_changes_inference_is_refused_naming_the_layer(tmp_path, mutation, fragment):
    config = seq_config()
    config["config"]["layers"][1]["config"].update(mutation)
    if "dtype" in mutation:   # as Keras saves a model made under a mixed global policy
        config["config"].update(mutation)
        config["config"]["layers"][2]["config"].update(mutation)
    (tmp_path / "m.json").write_text(json.dumps(config))
    one_error_line(run_nnctl("summary", "m.json", cwd=tmp_path), "layer 'layer1' (Dense)",
                   fragment)


def test_weights_of_a_whole_model_h5_whose_config_nnctl_would_not_run(tmp_path):
    """`--weights model.h5` reads the weights only: a layer of the file's config that nnctl
    refuses to run (a Lambda) leaves them to be found by name, as before 229feaf read the
    config for nested models' groups (it refused the file: 'a Lambda layer holds Python
    code')."""
    import h5py

    source = KERAS / "seq_mlp.keras2.h5"
    lambda_h5 = tmp_path / "lambda.h5"
    shutil.copy(source, lambda_h5)
    with h5py.File(lambda_h5, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"].append({"class_name": "Lambda", "config": {
            "name": "twice", "function": ["4wEAAAAAAAAA", None, None], "function_type": "lambda"}})
        f.attrs["model_config"] = json.dumps(config)
    spec, _ = load_model(source, weights=False)
    model = build_model(parse_spec(Located(spec, {}, "m.yaml")))
    weights = load_weights_h5(lambda_h5, model)
    want = load_weights_h5(source, model)
    assert weights.keys() == want.keys() and len(want) > 0
    for key in want:
        np.testing.assert_array_equal(weights[key], want[key])


def test_source_date_epoch_makes_a_keras_file_reproducible(tmp_path):
    """Two builds of one spec gave .keras files that differed in their dates (metadata.json
    and the zip entries), so a Makefile's or a CI cache's checksums never matched; with
    SOURCE_DATE_EPOCH they are the same bytes, dated then."""
    spec = CONFIGS / "article_sequential.yaml"
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    for name in ("a.keras", "b.keras"):
        r = run_nnctl("build", spec, "-o", tmp_path / name, env=env)
        assert (r.code, r.out) == (0, ""), r.err
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["date_saved"] == "2023-11-14@22:13:20"
        assert {info.date_time for info in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    r = run_nnctl("build", spec, "-o", tmp_path / "c.keras", env={"SOURCE_DATE_EPOCH": "soon"})
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: SOURCE_DATE_EPOCH='soon' is not a time in seconds since "
                     "1970-01-01 UTC\n")
    assert not (tmp_path / "c.keras").exists()


@pytest.mark.parametrize("epoch, stamp", [("100", (1980, 1, 1, 0, 0, 0)),
                                          ("5000000000", (2107, 12, 31, 23, 59, 58))])
def test_source_date_epoch_outside_a_zips_dates(tmp_path, epoch, stamp):
    """A zip's dates run from 1980 to 2107: a SOURCE_DATE_EPOCH after 2107 was 'internal
    error: ushort format requires 0 <= number <= 65535'; the zip entries take the nearest date
    (metadata.json keeps the time given)."""
    r = run_nnctl("build", CONFIGS / "article_sequential.yaml", "-o", tmp_path / "m.keras",
                  env={"SOURCE_DATE_EPOCH": epoch})
    assert (r.code, r.out, r.err) == (0, "", "")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert {info.date_time for info in archive.infolist()} == {stamp}


def test_source_date_epoch_negative_is_refused(tmp_path):
    """reproducible-builds.org's SOURCE_DATE_EPOCH is a non-negative integer: -5 was taken
    and the archive said it was saved in 1969."""
    r = run_nnctl("build", CONFIGS / "article_sequential.yaml", "-o", tmp_path / "m.keras",
                  env={"SOURCE_DATE_EPOCH": "-5"})
    assert (r.code, r.out) == (1, "")
    assert r.err == ("nnctl: error: SOURCE_DATE_EPOCH='-5' is not a time in seconds since "
                     "1970-01-01 UTC\n")
    assert not (tmp_path / "m.keras").exists()


def test_a_weights_group_without_its_variable_0_names_what_is_missing(tmp_path):
    """A `vars` group holding only variable '1' said "does not number its variables 0..0"."""
    import h5py

    with h5py.File(tmp_path / "gap.weights.h5", "w") as f:
        f.create_group("layers/dense/vars").create_dataset("1", shape=(3,), dtype="float32")
    keras_archive(tmp_path / "gap.keras", seq_config(), (tmp_path / "gap.weights.h5").read_bytes())
    one_error_line(run_nnctl("forward", "gap.keras", cwd=tmp_path, input="1,2,3\n"),
                   "'/layers/dense/vars' has no variable '0': Keras numbers a layer's variables "
                   "from 0, and this group holds '1'")
