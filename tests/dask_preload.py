"""Loaded into every Dask worker the tests start (`dask worker --preload`, or
DASK_DISTRIBUTED__WORKER__PRELOAD for nnctl's local cluster): it records which process ran
each part, and lets an input file's name make its part misbehave.

    $NNCTL_TEST_PART_LOG   a file that gets one line per part: `PID INPUT-NAME MODEL-ID`,
                           MODEL-ID the id() of the model object the part was given (every
                           model seen is kept alive, so that an id is never reused)
    die-once in the name   the worker dies (os._exit) after the part's first batch, the
                           first time only (a marker file beside the input says it did)
    die-always in the name the worker dies after the first batch, every time
    slow in the name       each batch takes 0.2 s longer (for Ctrl-C tests)
"""
import contextlib
import os
import time

from nnctl import pipeline

# Dask may run a preload file more than once in a process: wrap the engine's function once
_original = getattr(pipeline, "_unwrapped_forward_file", pipeline.forward_file)
pipeline._unwrapped_forward_file = _original
_models_seen = []


def _forward_file(model, weights, source, dest, *, progress=None, **options):
    name = os.path.basename(source)
    log = os.environ.get("NNCTL_TEST_PART_LOG")
    if log:
        _models_seen.append(model)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {name} {id(model)}\n")
    die = "die-always" in name
    if "die-once" in name and not os.path.exists(source + ".died"):
        open(source + ".died", "w").close()
        die = True
    slow = "slow" in name
    inner = progress

    @contextlib.contextmanager
    def misbehaving(reader):
        with (inner(reader) if inner else contextlib.nullcontext(lambda: None)) as advance:
            def step():
                advance()
                if die:
                    os._exit(1)
                if slow:
                    time.sleep(0.2)
            yield step

    return _original(model, weights, source, dest, progress=misbehaving, **options)


pipeline.forward_file = _forward_file
