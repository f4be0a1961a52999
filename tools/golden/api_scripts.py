"""Golden outputs of the keras.io-style scripts in tests/api_scripts/, printed by Keras 3.

    KERAS_BACKEND=numpy /work/kenv/bin/python tools/golden/api_scripts.py [NAME ...]
    /work/kenv/bin/python tools/golden/api_scripts.py --print NAME    # stdout only

Each script is run as written (`import keras`), in a fresh process and an empty directory,
with stdout piped (so summaries are Keras' plain 76-column text); its stdout is written to
tests/golden/api_scripts/NAME.txt. tests/test_api_scripts.py runs the same scripts with
`import nnctl as keras` and compares. keras.utils.plot_model needs pydot, which the reference
environment lacks: it is replaced by a no-op (it prints nothing either way).

Also writes tests/golden/api_scripts/public_names.json: the public names of keras.layers,
keras.activations, keras.initializers, keras.models, keras.utils and keras.ops.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "tests", "api_scripts")
OUT = os.path.join(ROOT, "tests", "golden", "api_scripts")
RUNNER = ("import runpy, sys, keras; keras.utils.plot_model = lambda *a, **k: None; "
          "runpy.run_path(sys.argv[1], run_name='__main__')")


def run(path: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["KERAS_BACKEND"] = "numpy"
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run([sys.executable, "-c", RUNNER, path], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{path} failed under Keras:\n{done.stderr}")
    return done.stdout


def public_names() -> dict:
    import keras

    modules = {"layers": keras.layers, "activations": keras.activations,
               "initializers": keras.initializers, "models": keras.models,
               "utils": keras.utils, "ops": keras.ops, "keras": keras}
    return {name: sorted(n for n in dir(m) if not n.startswith("_"))
            for name, m in modules.items()}


def main(names):
    if names[:1] == ["--print"]:    # tests/test_api_scripts.py: Keras' output, nothing written
        sys.stdout.write(run(os.path.join(SCRIPTS, f"{names[1]}.py")))
        return
    os.makedirs(OUT, exist_ok=True)
    scripts = sorted(f for f in os.listdir(SCRIPTS) if f.endswith(".py"))
    for script in scripts:
        stem = script[:-3]
        if names and stem not in names:
            continue
        text = run(os.path.join(SCRIPTS, script))
        with open(os.path.join(OUT, f"{stem}.txt"), "w") as f:
            f.write(text)
        print(f"{stem}: {len(text.splitlines())} lines")
    os.environ["KERAS_BACKEND"] = "numpy"
    with open(os.path.join(OUT, "public_names.json"), "w") as f:
        json.dump(public_names(), f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
