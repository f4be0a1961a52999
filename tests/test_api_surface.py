"""The public names a Keras user reaches for are there, in dir() and help(), with examples.

Keras 3's public names are recorded in tests/golden/api_scripts/public_names.json
(tools/golden/api_scripts.py); nnctl must have every one of them that belongs to what it
supports: its layer types, activations and initializers, and the modules' functions.
"""
from __future__ import annotations

import inspect
import json
import pydoc
import subprocess
import sys

import numpy as np
import pytest

import nnctl
from conftest import GOLDEN
from nnctl.layers import LAYERS
from nnctl.naming import normalize_key

KERAS = json.loads((GOLDEN / "api_scripts" / "public_names.json").read_text())
MERGE_CLASSES = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply",
                 "average": "Average", "maximum": "Maximum", "minimum": "Minimum",
                 "concatenate": "Concatenate", "dot": "Dot"}


def supported_layer_names() -> list[str]:
    """Keras' keras.layers names that nnctl supports: its registered types, their merge
    functions, and the base names every script uses."""
    types = {normalize_key(n) for n in LAYERS.names()}
    return [n for n in KERAS["layers"]
            if normalize_key(n) in types or MERGE_CLASSES.get(n) in LAYERS
            or n in ("Layer", "Input", "InputLayer")]


def test_layers_has_every_supported_keras_name():
    names = supported_layer_names()
    assert len(names) >= 14 + 7 + 3
    missing = [n for n in names if n not in dir(nnctl.layers)]
    assert missing == []
    for n in names:
        assert callable(getattr(nnctl.layers, n))


def test_activations_have_every_keras_function_nnctl_has():
    ours = dir(nnctl.activations)
    known = {normalize_key(n) for n in nnctl.activations.names()}
    wanted = [n for n in KERAS["activations"] if normalize_key(n) in known or n in
              ("get", "serialize", "deserialize", "swish", "hard_swish")]
    assert len(wanted) >= 30
    assert [n for n in wanted if n not in ours] == []
    assert [n for n in KERAS["activations"] if n not in ours] == []   # all of Keras' 35


def test_initializers_have_every_keras_name_nnctl_has():
    known = {normalize_key(c.name) for c in nnctl.initializers.ALL}
    wanted = [n for n in KERAS["initializers"] if normalize_key(n) in known
              or n in ("get", "serialize", "deserialize")]
    assert len(wanted) >= 30
    assert [n for n in wanted if n not in dir(nnctl.initializers)] == []


@pytest.mark.parametrize("module, names", [
    ("models", ["Model", "Sequential", "clone_model", "load_model", "model_from_json",
                "save_model"]),
    ("utils", ["clear_session", "plot_model", "set_random_seed"]),
    ("keras", ["Input", "Layer", "Model", "Sequential", "Variable", "activations", "backend",
               "initializers", "layers", "models", "ops", "utils"]),
])
def test_modules_have_keras_names(module, names):
    assert set(names) <= set(KERAS[module])        # they are Keras' names...
    target = nnctl if module == "keras" else getattr(nnctl, module)
    assert [n for n in names if n not in dir(target)] == []    # ...and nnctl's


def test_ops_are_a_subset_of_keras_ops():
    ours = [n for n in dir(nnctl.ops) if not n.startswith("_") and
            inspect.isfunction(getattr(nnctl.ops, n)) and
            getattr(nnctl.ops, n).__module__ == "nnctl.ops"]
    assert len(ours) >= 10
    assert [n for n in ours if n not in KERAS["ops"]] == []


def public_callables():
    for module in ("layers", "activations", "initializers", "models", "utils", "ops"):
        target = getattr(nnctl, module)
        if module == "layers":
            names = supported_layer_names()
        elif module == "activations":
            names = nnctl.activations.KERAS_FUNCTIONS + ["get", "serialize", "deserialize"]
        elif module == "initializers":
            names = [c.__name__ for c in nnctl.initializers.ALL] + \
                    [c.name for c in nnctl.initializers.ALL] + ["get", "serialize"]
        else:
            names = target.__all__
        for name in names:
            yield f"{module}.{name}", getattr(target, name)
    for name in ("Input", "Model", "Sequential", "Layer", "Variable"):
        yield name, getattr(nnctl, name)


@pytest.mark.parametrize("name, obj", list(public_callables()), ids=lambda x: x
                         if isinstance(x, str) else "")
def test_every_public_name_has_a_docstring_with_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), name
    assert ">>>" in doc or "nnctl." in doc, f"{name}: no example in its docstring"


def test_help_lists_the_modules():
    text = pydoc.render_doc(nnctl, renderer=pydoc.plaintext)
    for name in ("layers", "activations", "Sequential", "Input", "utils"):
        assert name in text
    text = pydoc.render_doc(nnctl.layers, renderer=pydoc.plaintext)
    for name in ("class Dense", "class BatchNormalization", "class Layer", "add(inputs",
                 "concatenate(inputs"):
        assert name in text
    text = pydoc.render_doc(nnctl.activations, renderer=pydoc.plaintext)
    assert "relu(x, negative_slope=0.0, max_value=None, threshold=0.0)" in text


def test_plot_model_writes_a_picture(tmp_path):
    x = nnctl.Input(shape=(3,), name="input")
    model = nnctl.Model(x, nnctl.layers.Dense(2, name="layer1")(x), name="m")
    path = nnctl.utils.plot_model(model, to_file=tmp_path / "m.svg", show_shapes=True)
    assert "layer1" in (tmp_path / "m.svg").read_text() and path.endswith("m.svg")
    nnctl.utils.plot_model(model, to_file=str(tmp_path / "m.txt"), show_shapes=True)
    assert "(None, 3)" in (tmp_path / "m.txt").read_text()
    with pytest.raises(ValueError, match="cannot tell the picture format"):
        nnctl.utils.plot_model(model, to_file=str(tmp_path / "m.gif"))


def test_plot_model_shows_in_a_notebook_and_is_still_the_path(tmp_path):
    """The article's notebook shows keras.utils.plot_model(model, show_shapes=True) as a
    picture (Keras returns an IPython Image); nnctl returned the bare path, shown as text.
    Its result is the path still, with IPython's display methods (_repr_svg_)."""
    x = nnctl.Input(shape=(3,), name="input")
    model = nnctl.Model(x, nnctl.layers.Dense(2, name="layer1")(x), name="m")
    picture = nnctl.utils.plot_model(model, to_file=str(tmp_path / "m.svg"), show_shapes=True)
    assert picture == str(tmp_path / "m.svg") and isinstance(picture, str)
    assert picture._repr_svg_() == (tmp_path / "m.svg").read_text()
    assert picture._repr_png_() is None
    text = nnctl.utils.plot_model(model, to_file=str(tmp_path / "m.txt"))
    assert text._repr_svg_() is None and text._repr_png_() is None
    with pytest.raises(TypeError, match=r"^plot_model\(\) got unexpected arguments: show_shape "
                                        r"\(did you mean 'show_shapes'\?\)$"):
        nnctl.utils.plot_model(model, to_file=str(tmp_path / "m.svg"), show_shape=True)


def test_import_line_of_the_issue_runs_the_article_samples(tmp_path):
    """`import nnctl as keras; from nnctl import layers`, then the article's first sample."""
    code = ("import nnctl as keras; from nnctl import layers\n"
            "model = keras.Sequential([layers.Dense(3, activation='relu', "
            "kernel_initializer='he_normal', name='layer1', input_shape=(3,)), "
            "layers.Dense(2, activation='relu', kernel_initializer='he_normal', "
            "name='layer2'), layers.Dense(2, activation='sigmoid', "
            "kernel_initializer='he_normal', name='layer3')], name='my_Sequential')\n"
            "model.summary()\n")
    from conftest import ROOT

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert " Total params: 26 (104.00 B)" in done.stdout


@pytest.mark.parametrize("doc", ["README.md", "docs/python-api.md"])
def test_the_python_blocks_of_the_docs_run_when_pasted(tmp_path, doc):
    """docs/python-api.md's first example called np.ones without importing NumPy."""
    import re

    root = GOLDEN.parent.parent
    blocks = re.findall(r"```python\n(.*?)```", (root / doc).read_text(), re.S)
    assert blocks
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                              cwd=tmp_path, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, (block, done.stderr)


def test_a_layers_arguments_and_weights_are_in_its_dir():
    """dense.units and dense.kernel are read through __getattr__: dir() did not list them,
    so tab completion missed them and a typo (dense.unit) got no "Did you mean"."""
    dense = nnctl.layers.Dense(2)
    assert {"units", "activation", "use_bias", "kernel_initializer"} <= set(dir(dense))
    assert "kernel" not in dir(dense)
    dense(np.ones((1, 3)))
    assert {"kernel", "bias"} <= set(dir(dense))
    done = subprocess.run([sys.executable, "-c", "import nnctl; nnctl.layers.Dense(2).unit"],
                          capture_output=True, text=True,
                          env={"PYTHONPATH": str(GOLDEN.parent.parent), "PATH": "/usr/bin:/bin"})
    assert done.stderr.splitlines()[-1] == ("AttributeError: 'Dense' object has no attribute "
                                            "'unit'. Did you mean: 'units'?")


def test_the_docstring_examples_run(tmp_path, monkeypatch):
    """Every `>>>` example of the public names gives what it shows (files land in tmp)."""
    import doctest

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(GOLDEN.parent.parent / "configs")
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner()
    seen = set()
    objects = [obj for _, obj in public_callables()]
    objects += [getattr(nnctl.Model, n) for n in dir(nnctl.Model) if not n.startswith("_")]
    for module in ("nnctl", "nnctl.ops", "nnctl.api.session", "nnctl.api.variables"):
        objects.append(sys.modules[module] if module in sys.modules else
                       __import__(module, fromlist=["_"]))
    for obj in objects:
        if isinstance(obj, property):
            obj = obj.fget
        for test in finder.find(obj, name=getattr(obj, "__name__", "x")):
            if id(test) not in seen and test.examples:
                seen.add(id(test))
                runner.run(test)
    assert runner.failures == 0
    assert runner.tries >= 80
