"""`path/to/file.py:NAME` as a MODEL: Python models in every command, errors in one line."""
from __future__ import annotations

import runpy
import textwrap

import numpy as np
import pytest

import nnctl

from conftest import GOLDEN, ROOT, run_nnctl

EXAMPLES = ROOT / "examples"


def one_error_line(result, *fragments) -> str:
    """The command failed with exit 1 and exactly one line on stderr, no traceback."""
    assert result.code == 1, (result.out, result.err)
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("nnctl: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def test_summary_of_a_subclass_by_its_class():
    result = run_nnctl("summary", EXAMPLES / "article_subclass.py:MyModel", cwd=ROOT)
    assert result.code == 0, result.err
    golden = (GOLDEN / "summaries" / "article_sequential.txt").read_text()
    # Keras shows a subclassed model as the stack of its layers (no input row), as the
    # Sequential; traced from layer1's input_shape, the batch axis is None. The module made
    # a MyModel when imported, so this second one is my_model_1, as in Keras.
    assert result.out == golden.replace('"my_Sequential"', '"my_model_1"')
    assert result.err == ""


def test_summary_of_a_sequential_equals_keras():
    result = run_nnctl("summary", "examples/article_sequential.py:model", cwd=ROOT)
    assert result.code == 0, result.err
    assert result.out == (GOLDEN / "summaries" / "article_sequential.txt").read_text()


def test_summary_json_and_validate_of_a_functional_model():
    result = run_nnctl("summary", "examples/article_functional.py:model", "--format", "json",
                       cwd=ROOT)
    assert result.code == 0, result.err
    assert '"name": "my_model"' in result.out and '"type": "Functional"' in result.out
    result = run_nnctl("validate", "examples/article_functional.py:model", cwd=ROOT)
    assert (result.code, result.out, result.err) == (0, "", "")


def write(tmp_path, name, code) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return str(path)


def test_forward_uses_the_models_own_weights(tmp_path):
    path = write(tmp_path, "net.py", """
        import numpy as np
        import nnctl

        print("building")          # a module that prints: kept off stdout
        model = nnctl.Sequential([nnctl.layers.Dense(2, activation="tanh", input_shape=(3,)),
                                  nnctl.layers.Dense(1)])
        rng = np.random.default_rng(4)
        model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])

        def fresh():
            return nnctl.Sequential([nnctl.layers.Dense(2, activation="tanh", input_shape=(3,)),
                                     nnctl.layers.Dense(1)], seed=9)
    """)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    nnctl.utils.clear_session()     # the default names (and so the seeded draws) of a new process
    scope = runpy.run_path(path)
    for name, want in [("model", scope["model"].predict(x)),     # its set_weights
                       ("fresh", scope["fresh"]().predict(x))]:  # drawn with its seed=9
        result = run_nnctl("forward", f"{path}:{name}", tmp_path / "x.csv")
        assert result.code == 0, result.err
        assert "building" in result.err and "building" not in result.out
        got = np.loadtxt(result.out.splitlines(), delimiter=",", dtype=np.float32, ndmin=2)
        np.testing.assert_array_equal(got, want)
    # --seed draws new weights, as for a model file: those of its spec with seed 9
    seeded = run_nnctl("forward", f"{path}:model", tmp_path / "x.csv", "--seed", "9")
    (tmp_path / "spec.yaml").write_text(scope["model"].to_yaml())
    again = run_nnctl("forward", tmp_path / "spec.yaml", tmp_path / "x.csv", "--seed", "9")
    assert seeded.code == again.code == 0
    assert seeded.out == again.out
    assert seeded.out != run_nnctl("forward", f"{path}:model", tmp_path / "x.csv").out


def test_forward_of_the_subclass_example_equals_its_predict(tmp_path):
    scope = runpy.run_path(str(EXAMPLES / "article_subclass.py"))
    x = np.random.default_rng(3).normal(size=(20, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = run_nnctl("forward", "examples/article_subclass.py:MyModel", tmp_path / "x.npy",
                       cwd=ROOT)
    assert result.code == 0, result.err
    got = np.loadtxt(result.out.splitlines(), delimiter=",", dtype=np.float32, ndmin=2)
    model = scope["model"]   # drew new weights when called; the CLI draws with seed 0
    model.set_weights(model.engine.init_weights(0))
    np.testing.assert_array_equal(got, model.predict(x))


def test_build_writes_a_model_file_from_python(tmp_path):
    out = tmp_path / "m.npz"
    result = run_nnctl("build", "examples/article_functional.py:model", "-o", out, cwd=ROOT)
    assert result.code == 0, result.err
    again = run_nnctl("summary", out)
    assert again.code == 0 and 'Model: "my_model"' in again.out


BROKEN = {
    "raises.py": ("import nnctl\nx = 1\ny = x / 0\n",
                  "raises.py:3: cannot import: ZeroDivisionError: division by zero"),
    "syntax.py": ("import nnctl\ndef f(:\n    pass\n",
                  "syntax.py:2:7: cannot import: SyntaxError: invalid syntax"),
    "missing_import.py": ("import no_such_module_here\n",
                          "cannot import: ModuleNotFoundError: No module named "
                          "'no_such_module_here'"),
    "exits.py": ("import sys\nsys.exit(3)\n", "cannot import: the module called sys.exit(3)"),
    "bad_layer.py": ("import nnctl\nm = nnctl.Sequential([nnctl.layers.Dense(2, activaton='relu',"
                     " input_shape=(3,))])\n",
                     "bad_layer.py:2: layer 'dense': unknown argument 'activaton' for Dense "
                     "(did you mean 'activation'?)"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_module_that_fails_to_import(tmp_path, name):
    code, message = BROKEN[name]
    path = write(tmp_path, name, code)
    line = one_error_line(run_nnctl("summary", f"{path}:m"), message)
    assert line.startswith(f"nnctl: error: {tmp_path}/{name}")


MODULE = """
import nnctl

L = nnctl.layers
count = 3
model = nnctl.Sequential([L.Dense(2, input_shape=(3,))])
unbuilt = nnctl.Sequential([L.Dense(2)])

def make():
    return nnctl.Sequential([L.Dense(1, input_shape=(2,))])

def needs(units):
    return nnctl.Sequential([L.Dense(units, input_shape=(2,))])

def not_a_model():
    return [1, 2]

def fails():
    raise ValueError("no data here")

class Plain:
    pass

class NoShape(nnctl.Model):
    def __init__(self):
        super().__init__()
        self.d = L.Dense(2)

    def call(self, x):
        return self.d(x)
"""

NOT_MODELS = {
    "modle": "no 'modle' in the module (did you mean 'model'?)",
    "count": "'count' is an int, not an nnctl model",
    "L": "'L' is a module, not an nnctl model",
    "Plain": "'Plain' is a class (Plain), not an nnctl model",
    "needs": "'needs' needs arguments (units)",
    "not_a_model": "not_a_model() returned a list, not an nnctl model",
    "fails": "fails() failed: ValueError: no data here",
    "NoShape": "model 'no_shape': the input shape is not known yet",
    "unbuilt": "' is not built: give its first layer input_shape=",
    "": "a Python model is given as",
}


@pytest.mark.parametrize("name", sorted(NOT_MODELS))
def test_a_name_that_is_not_a_model(tmp_path, name):
    path = write(tmp_path, "mod.py", MODULE)
    one_error_line(run_nnctl("summary", f"{path}:{name}"), NOT_MODELS[name])


def test_the_function_form_and_the_error_line_of_a_failing_function(tmp_path):
    path = write(tmp_path, "mod.py", MODULE)
    result = run_nnctl("summary", f"{path}:make", "--format", "json")
    assert result.code == 0 and '"output_shape": [\n        null,\n        1' in result.out
    line = one_error_line(run_nnctl("validate", f"{path}:fails"))
    raise_line = MODULE.splitlines().index('    raise ValueError("no data here")') + 1
    assert f"mod.py:{raise_line}: fails() failed" in line


RUNS_CODE = "open(__file__ + '.ran', 'w').close()\n"


@pytest.mark.parametrize("argument, fragment", [
    ("mod.py", "a Python model is given as mod.py:NAME"),
    ("mod.py:", "a Python model is given as mod.py:NAME"),
    ("mod.py:net.yaml", "'net.yaml' after the colon is not a Python name"),
    ("mod.py:a:b", "'a:b' after the colon is not a Python name"),
    ("mod.py:1x", "'1x' after the colon is not a Python name"),
])
def test_only_file_py_colon_name_runs_the_file(tmp_path, argument, fragment):
    write(tmp_path, "mod.py", RUNS_CODE)
    for command in ("validate", "summary"):
        one_error_line(run_nnctl(command, argument, cwd=tmp_path), fragment)
    assert not (tmp_path / "mod.py.ran").exists()   # nothing was imported


def test_a_missing_python_file_is_said_before_anything_runs(tmp_path):
    one_error_line(run_nnctl("summary", tmp_path / "nothing.py:m"), "nothing.py: no such file")


def test_debug_shows_the_users_traceback(tmp_path):
    path = write(tmp_path, "raises.py", BROKEN["raises.py"][0])
    result = run_nnctl("--debug", "summary", f"{path}:m")
    assert result.code != 0
    assert "ZeroDivisionError" in result.err and "Traceback" in result.err


def test_a_keras_script_given_as_a_model_says_how_to_make_it_nnctls(tmp_path):
    """The article's script run as it is (`import tensorflow as tf`): the import error now
    says what to write instead; a model Keras built (Keras installed) is named as such,
    not "'model' needs arguments (inputs)" (a Keras model is a callable)."""
    (tmp_path / "tf_script.py").write_text(
        "import sys\nsys.modules['tensorflow'] = None   # not installed, whatever the machine\n"
        "import tensorflow as tf\nmodel = None\n")
    r = run_nnctl("summary", "tf_script.py:model", cwd=tmp_path)
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith("nnctl: error: tf_script.py:3: cannot import: ModuleNotFoundError: ")
    assert r.err.endswith(" (nnctl runs Keras code without TensorFlow: write `import nnctl as "
                          "keras`, `from nnctl import layers`; docs/python-api.md)\n")
    (tmp_path / "keras").mkdir()    # a stand-in for Keras, found beside the script
    (tmp_path / "keras" / "__init__.py").write_text(
        "class Sequential:\n    def __call__(self, inputs, training=None):\n        pass\n")
    (tmp_path / "keras_script.py").write_text("import keras\nmodel = keras.Sequential()\n")
    r = run_nnctl("summary", "keras_script.py:model", cwd=tmp_path)
    assert (r.code, r.out, r.err) == (1, "", (
        "nnctl: error: keras_script.py: 'model' is a Sequential of Keras, not an nnctl model: "
        "save it (model.save('model.keras')) and give model.keras, or build it with `import "
        "nnctl as keras`\n"))
