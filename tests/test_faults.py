"""Faults around a run, through the real command: a full disk (/dev/full, and a file size
limit for regular files), a closed pipe, SIGINT and SIGTERM in the middle of a long forward
pass and of a model file being written. Nothing half-written is left: no partial output, no
temporary file, and a previous file is intact; no traceback; exit 1, 129, 130, 143, or death by
SIGPIPE as a Unix filter."""
from __future__ import annotations

import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import CONFIGS, ROOT, run_nnctl
from fuzzing import checkout_env

SEQUENTIAL = CONFIGS / "article_sequential.yaml"
ROW_BLOCK = b"0.25,-1.5,3\n" * 20_000   # 240 KB of rows for article_sequential (3 columns)


def leftovers(directory: Path) -> list[str]:
    """Temporary files of atomic writes left behind (hidden .NAME.*.tmp)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def quiet_error(stderr: str, fragment: str | None = None) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnctl: error: "), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    if fragment:
        assert fragment in lines[0], lines[0]


def nnctl_process(*args, cwd=None, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  preexec_fn=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnctl", *map(str, args)], stdin=stdin,
                            stdout=stdout, stderr=subprocess.PIPE, cwd=cwd,
                            preexec_fn=preexec_fn, env=checkout_env())


# --- a full disk -----------------------------------------------------------------------------

OUTPUT_COMMANDS = [
    ("forward", SEQUENTIAL, "-o", "/dev/full", "--output-format", "csv"),
    ("forward", SEQUENTIAL, "-o", "/dev/full", "--output-format", "npy"),
    ("forward", SEQUENTIAL, "-o", "/dev/full", "--output-format", "parquet"),
    ("build", SEQUENTIAL, "-o", "/dev/full"),
    ("plot", SEQUENTIAL, "-o", "/dev/full", "--format", "svg"),
    ("export", SEQUENTIAL, "-o", "/dev/full"),
]


@pytest.mark.parametrize("args", OUTPUT_COMMANDS, ids=lambda a: " ".join(map(str, a[:1] + a[4:])))
def test_output_to_a_full_disk(args):
    result = run_nnctl(*args, input=ROW_BLOCK)
    if "export" in args and "onnx" in result.err and "pip install" in result.err:
        pytest.skip("the onnx package is not installed")
    assert result.code == 1, result.err
    quiet_error(result.err, "/dev/full: No space left on device")


STDOUT_COMMANDS = [
    ("forward", SEQUENTIAL),
    ("forward", SEQUENTIAL, "--output-format", "npy"),
    ("act", "relu", "--range", "-1,1", "--num", "1000"),
    ("init", "he_normal", "--shape", "100,10"),
    ("summary", SEQUENTIAL),
    ("list",),
    ("plot", SEQUENTIAL),
    ("lint", SEQUENTIAL),
    ("build", SEQUENTIAL, "-o", "-"),
]


@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=lambda a: " ".join(map(str, a[:1] + a[2:])))
def test_stdout_on_a_full_disk(args):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "nnctl", *map(str, args)],
                              input=ROW_BLOCK, stdout=full, stderr=subprocess.PIPE, timeout=60,
                              env=checkout_env())
    assert proc.returncode == 1, proc.stderr
    quiet_error(proc.stderr.decode(), "<stdout>: No space left on device")


def limit_file_size(limit: int):
    """A child whose regular files cannot grow past `limit` bytes: writes fail with EFBIG, as
    on a full disk (CPython ignores SIGXFSZ, so the write returns the error)."""
    def setup():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return setup


def test_forward_into_a_full_file_system_keeps_the_previous_file(tmp_path):
    previous = tmp_path / "out.csv"
    previous.write_text("the previous results\n")
    proc = nnctl_process("forward", SEQUENTIAL, "-o", "out.csv", cwd=tmp_path,
                         preexec_fn=limit_file_size(64 << 10))
    _, err = proc.communicate(ROW_BLOCK * 4, timeout=60)
    assert proc.returncode == 1
    quiet_error(err.decode(), "out.csv: File too large")
    assert previous.read_text() == "the previous results\n"
    assert leftovers(tmp_path) == []


# --- the previous model file survives a failed build -o -------------------------------------

@pytest.fixture
def previous_model(tmp_path):
    assert run_nnctl("build", SEQUENTIAL, "--seed", "1", "-o", "model.npz", cwd=tmp_path).code == 0
    return tmp_path / "model.npz", (tmp_path / "model.npz").read_bytes()


def test_a_spec_error_leaves_the_previous_model(tmp_path, previous_model):
    path, before = previous_model
    (tmp_path / "broken.yaml").write_text("name: b\ninput: [3]\nlayers:\n  - {type: Dense}\n")
    for args in (("broken.yaml",), (SEQUENTIAL, "--weights", "missing.npz"),
                 (SEQUENTIAL, "--weights", "model.npz", "--seed", "x")):
        result = run_nnctl("build", *args, "-o", "model.npz", cwd=tmp_path)
        assert result.code in (1, 2)
        quiet_error(result.err)
        assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_a_full_disk_leaves_the_previous_model(tmp_path, previous_model):
    path, before = previous_model
    (tmp_path / "bigger.yaml").write_text(
        "name: bigger\ninput: [64]\nlayers:\n  - {type: Dense, units: 256}\n")
    proc = nnctl_process("build", "bigger.yaml", "-o", "model.npz", cwd=tmp_path,
                         preexec_fn=limit_file_size(16 << 10))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    quiet_error(err.decode(), "model.npz: File too large")
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                         (signal.SIGHUP, 129)])
def test_a_signal_while_the_model_is_written_leaves_the_previous_model(tmp_path, previous_model,
                                                                       signum, code):
    """The signal arrives while the temporary file is being filled: the process is stopped
    the moment that file appears, signalled, then continued."""
    path, before = previous_model
    (tmp_path / "big.yaml").write_text(   # 64 MB of weights: writing takes a while
        "name: big\ninput: [4096]\nlayers:\n  - {type: Dense, units: 4096}\n")
    for attempt in range(3):
        proc = nnctl_process("build", "big.yaml", "-o", "model.npz", cwd=tmp_path,
                             stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        if proc.poll() is None and leftovers(tmp_path):
            proc.send_signal(signal.SIGSTOP)
            proc.send_signal(signum)
            proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # the write finished before the signal: try again
            path.write_bytes(before)
            continue
        assert proc.returncode == code, err
        assert b"Traceback" not in err and b"error" not in err, err
        assert path.read_bytes() == before
        assert leftovers(tmp_path) == []
        return
    pytest.fail("the signal never arrived during the write")


# --- signals in the middle of a forward pass -------------------------------------------------

def feed_forever(proc: subprocess.Popen, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            proc.stdin.write(ROW_BLOCK)
            proc.stdin.flush()
            time.sleep(0.01)
    except (BrokenPipeError, ValueError, OSError):
        pass


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                         (signal.SIGHUP, 129)])
def test_a_signal_mid_forward_into_a_file_leaves_no_partial_output(tmp_path, signum, code):
    (tmp_path / "out.csv").write_text("previous\n")
    proc = nnctl_process("forward", SEQUENTIAL, "-o", "out.csv", cwd=tmp_path)
    stop = threading.Event()
    feeder = threading.Thread(target=feed_forever, args=(proc, stop), daemon=True)
    feeder.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # running: the temporary output is growing
            tmp = leftovers(tmp_path)
            if tmp and (tmp_path / tmp[0]).stat().st_size > 100_000:
                break
            time.sleep(0.01)
        else:
            pytest.fail("no output appeared")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        stop.set()
        proc.kill()
        proc.wait()
    assert proc.returncode == code, err
    assert err == b"", err
    assert (tmp_path / "out.csv").read_text() == "previous\n"
    assert leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def large_input(tmp_path_factory) -> Path:
    """4 million rows (48 MB): a forward pass of a few seconds."""
    path = tmp_path_factory.mktemp("large") / "large.csv"
    with open(path, "wb") as f:
        for _ in range(200):
            f.write(ROW_BLOCK)
    return path


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_forward_over_a_large_file(tmp_path, large_input, signum, code):
    """Into a file: nothing is left; into a pipe: what was written stays whole rows."""
    proc = nnctl_process("forward", SEQUENTIAL, large_input, "-o", "out.csv", cwd=tmp_path,
                         stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        tmp = leftovers(tmp_path)
        if tmp and (tmp_path / tmp[0]).stat().st_size > 1_000_000:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "finished before the signal"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and err == b"", err
    assert not (tmp_path / "out.csv").exists()
    assert leftovers(tmp_path) == []

    proc = nnctl_process("forward", SEQUENTIAL, large_input, stdin=subprocess.DEVNULL)
    head = proc.stdout.read(1_000_000)
    proc.send_signal(signum)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == code and b"Traceback" not in err and err == b"", err
    lines = (head + rest).split(b"\n")
    assert lines[0].count(b",") == 1 and len(lines) > 10_000


# --- a closed pipe ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "forward {spec} {data}", "forward {spec} {data} --output-format tsv",
    "forward {spec} < {data}", "build {spec} -o - --seed 3", "act relu --range 0,1 --num 300000",
    "init he_normal --shape 100000,2",
])
def test_a_closed_pipe_ends_quietly(large_input, command):
    line = command.format(spec=SEQUENTIAL, data=large_input)
    script = (f"'{sys.executable}' -m nnctl {line} | head -c 100 > /dev/null; "
              "echo \"status=${PIPESTATUS[0]}\" >&2")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, cwd=ROOT, timeout=120)
    status = proc.stderr.decode().strip()
    assert status in ("status=141", "status=0"), status   # 0: it was all in the pipe already
    if "build" not in command:
        assert status == "status=141"


def test_cancel_returns_when_ctrl_c_left_the_queue_lock_held():
    """Ctrl-C landing inside Queue.put can leave the queue's lock held (a with-statement is not
    atomic against KeyboardInterrupt); cancelling the writer must not wait for it (forward -o
    hung once in ~70 interrupts)."""
    from nnctl.tabular.writers import _BackgroundWriter

    import threading

    writer = _BackgroundWriter(lambda array: None)
    writer._queue.mutex.acquire()  # the lock the interrupted put() never released
    try:
        cancelling = threading.Thread(target=writer.cancel, daemon=True)
        cancelling.start()
        cancelling.join(120)  # a hang guard: cancel() returns after its own 0.5 s wait
        assert not cancelling.is_alive(), "cancel() waits for a lock nobody will release"
    finally:
        writer._queue.mutex.release()


def test_an_error_raised_while_a_signal_unwinds_reports_the_signal():
    """zipfile's __exit__ fails ("Can't close the ZIP file while there is an open writing
    handle") when SIGTERM lands as np.savez opens a member: exit 143, not an internal error."""
    from nnctl.cli import app

    def cleanup_fails_during(interrupt):
        try:
            raise interrupt
        except BaseException:
            raise ValueError("Can't close the ZIP file while there is an open writing handle")

    for interrupt, code in ((app.Terminated(signal.SIGTERM), 143), (KeyboardInterrupt(), 130)):
        try:
            cleanup_fails_during(interrupt)
        except ValueError as exc:
            found = app._interrupt_behind(exc)
        assert found is interrupt
        assert (130 if isinstance(found, KeyboardInterrupt) else 128 + found.signum) == code
    assert app._interrupt_behind(ValueError("a bug of ours")) is None
