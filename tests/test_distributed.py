"""nnctl forward MODEL INPUTS... -o OUTDIR/ on Dask: a real `dask scheduler` and two `dask
worker` processes on 127.0.0.1, and nnctl's own local cluster (--workers 2), run the same
tests. The workers load tests/dask_preload.py: it logs the pid that ran each part (only a
Dask worker loads it) and makes parts named die-once, die-always or slow misbehave.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import CONFIGS, ROOT, run_nnctl

pytest.importorskip("distributed")
pytestmark = pytest.mark.dask

PRELOAD = str(ROOT / "tests" / "dask_preload.py")
ROWS = 40
# what makes Dask warn that a task weighs much (10 MB: a model of 2.5 million weights),
# lowered so that the small model of these tests is that large to it
LARGE = {"DASK_DISTRIBUTED__ADMIN__LARGE_GRAPH_WARNING_THRESHOLD": "100B"}


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


class Cluster:
    """How a test runs nnctl on one kind of cluster, and what it can ask of it."""

    def __init__(self, args, env, log, client=None):
        self.args, self.env, self.log, self.client = args, env, log, client

    def part_log(self) -> list[tuple[int, str]]:
        """(pid, input name) of every part a worker started since the last call."""
        return [(pid, name) for pid, name, _ in self.part_log_with_models()]

    def part_log_with_models(self) -> list[tuple[int, str, int]]:
        """(pid, input name, id of the model object it ran) of every part a worker started
        since the last call."""
        try:
            with open(self.log) as f:
                lines = [line.split() for line in f.read().splitlines()]
        except FileNotFoundError:
            return []
        os.unlink(self.log)
        return [(int(pid), name, int(model)) for pid, name, model in lines]

    def worker_pids(self) -> set[int] | None:
        return set(self.client.run(os.getpid).values()) if self.client else None

    def idle(self) -> bool:
        return self.client is None or not any(self.client.processing().values())


def _stop(processes) -> None:
    for proc in reversed(processes):
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    """`dask scheduler` and two `dask worker` (one thread each, nanny, no dashboard) on
    127.0.0.1, random ports; ended by their pids when the module is done."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    scheduler_file, log = str(base / "scheduler.json"), str(base / "parts.log")
    # one retry for a part whose worker died, and no part queued behind a running one, as on
    # nnctl's local cluster (Dask's defaults: 3 retries, 1.1 parts per thread)
    env = _env(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
               DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0", NNCTL_TEST_PART_LOG=log)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=open(base / "dask.log", "w"), env=env)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", scheduler_file], **quiet)]
    worker_processes: set[int] = set()  # the nannies' worker processes, at the end
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(scheduler_file) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(2):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", "--scheduler-file", scheduler_file,
                 "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                 "--preload", PRELOAD], **quiet))
        client = Client(scheduler_file=scheduler_file, timeout="30s")
        client.wait_for_workers(2, timeout=60)
        cluster = Cluster(["--scheduler", client.scheduler.address], _env(**LARGE), log, client)
        yield cluster
        worker_processes = cluster.worker_pids()
        client.close()
    finally:
        # SIGTERM to a nanny alone takes it 10 s to close its worker: end both at once
        for pid in worker_processes:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        _stop(processes)


@pytest.fixture(scope="module", params=["scheduler", "local"])
def cluster(request, tmp_path_factory):
    if request.param == "scheduler":
        return request.getfixturevalue("dask_processes")
    log = str(tmp_path_factory.mktemp("local") / "parts.log")
    env = _env(DASK_DISTRIBUTED__WORKER__PRELOAD=repr([PRELOAD]), NNCTL_TEST_PART_LOG=log,
               **LARGE)
    return Cluster(["--workers", "2"], env, log)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("model") / "model.npz")
    assert run_nnctl("build", CONFIGS / "article_sequential.yaml", "--seed", "1",
                     "-o", path).code == 0
    return path


def _rows(seed: int, n: int = ROWS) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3)).astype(np.float32)


def _write(directory, name: str, rows: np.ndarray) -> str:
    path = os.path.join(directory, name)
    if name.endswith(".npy"):
        np.save(path, rows)
    elif name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({f"x{k}": rows[:, k] for k in range(rows.shape[1])}), path)
    else:
        np.savetxt(path, rows, delimiter=",", fmt="%.9g")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    """A directory of one Parquet, one CSV and one .npy file (and a note to skip)."""
    directory = str(tmp_path_factory.mktemp("data"))
    for k, name in enumerate(["a.parquet", "b.csv", "c.npy"]):
        _write(directory, name, _rows(k))
    with open(os.path.join(directory, "notes.txt"), "w") as f:
        f.write("not data\n")
    return directory


def _single(model, source, dest) -> None:
    """The single-file forward of `source` (nnctl's CLI, in this process): the reference."""
    from nnctl.cli.app import run

    assert run(["forward", str(model), str(source), "-o", str(dest), "--batch-size", "8"]) == 0


def _table(path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _no_temporaries(directory) -> None:
    assert [n for n in os.listdir(directory) if n.endswith(".tmp")] == []


def test_outputs_equal_single_file_forwards_and_ran_on_workers(cluster, model, data, tmp_path):
    out = tmp_path / "out"
    cluster.part_log()
    result = run_nnctl("forward", model, f"file://{data}", "-o", f"{out}/", "--batch-size", "8",
                       *cluster.args, env=cluster.env)
    assert result.code == 0, result.err
    assert sorted(os.listdir(out)) == ["a.parquet", "b.parquet", "c.parquet"]
    lines = result.err.splitlines()
    assert lines[0] == (f"nnctl: warning: file://{data}: skipping notes.txt: not a data file "
                        "nnctl reads (.csv, .tsv, .tab, .jsonl, .ndjson, .npy, .parquet, .pq, "
                        ".npz)")
    assert lines[1].startswith(f"nnctl: 3 of 3 parts written; {3 * ROWS} rows in ")
    assert len(lines) == 2
    for name in ["a.parquet", "b.csv", "c.npy"]:
        stem = name.split(".")[0]
        _single(model, os.path.join(data, name), tmp_path / f"{stem}.parquet")
        assert _table(out / f"{stem}.parquet").equals(_table(tmp_path / f"{stem}.parquet"))
    ran = cluster.part_log_with_models()  # the preload is loaded by Dask workers only
    assert sorted(name for _, name, _ in ran) == ["a.parquet", "b.csv", "c.npy"]
    if cluster.worker_pids() is not None:
        assert {pid for pid, _, _ in ran} <= cluster.worker_pids()
    # the model was sent once: the parts a worker ran (3 parts on 2 workers: one ran two)
    # were given the same model object, not each a copy of their own
    assert len({(pid, model) for pid, _, model in ran}) == len({pid for pid, _, _ in ran})

    csv_out = tmp_path / "csv"
    result = run_nnctl("forward", model, os.path.join(data, "b.csv"),
                       os.path.join(data, "c.npy"), "-o", f"{csv_out}/", "--batch-size", "8",
                       "--output-format", "csv", *cluster.args, env=cluster.env)
    assert result.code == 0, result.err
    for stem in ["b", "c"]:
        _single(model, os.path.join(data, f"{stem}{'.csv' if stem == 'b' else '.npy'}"),
                tmp_path / f"{stem}.csv")
        assert (csv_out / f"{stem}.csv").read_bytes() == (tmp_path / f"{stem}.csv").read_bytes()


def test_a_rerun_computes_only_what_is_missing_or_older_than_its_input(cluster, model, data,
                                                                        tmp_path):
    out = tmp_path / "out"
    args = ("forward", model, data, "-o", f"{out}/", *cluster.args)
    assert run_nnctl(*args, env=cluster.env).code == 0
    made = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    cluster.part_log()

    again = run_nnctl(*args, env=cluster.env)
    assert again.code == 0, again.err
    assert again.err.splitlines()[-1].startswith("nnctl: 0 of 3 parts written, 3 skipped; 0 rows")
    assert cluster.part_log() == []
    assert {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)} == made

    later = time.time() + 5  # the input changed after its output was made
    os.utime(os.path.join(data, "b.csv"), (later, later))
    try:
        third = run_nnctl(*args, env=cluster.env)
    finally:
        os.utime(os.path.join(data, "b.csv"))
    assert third.code == 0, third.err
    assert third.err.splitlines()[-1].startswith(
        f"nnctl: 1 of 3 parts written, 2 skipped; {ROWS} rows in ")
    assert [name for _, name in cluster.part_log()] == ["b.csv"]
    assert os.stat(out / "a.parquet").st_mtime_ns == made["a.parquet"]


def test_a_bad_file_fails_alone_and_a_dead_worker_is_retried_once(cluster, model, tmp_path):
    data, out = tmp_path / "in", tmp_path / "out"
    data.mkdir()
    good = _write(data, "good.csv", _rows(1))
    bad = _write(data, "bad.csv", _rows(2, 4))
    with open(bad, "a") as f:
        f.write("1,x,3\n")
    once = _write(data, "die-once.csv", _rows(3))
    always = _write(data, "die-always.csv", _rows(4))
    missing = str(data / "missing.csv")
    cluster.part_log()
    result = run_nnctl("forward", model, good, bad, missing, once, always, "-o", f"{out}/",
                       "--batch-size", "8", *cluster.args, env=cluster.env, timeout=120)
    assert result.code == 1, result.err
    single_bad = run_nnctl("forward", model, bad, "-o", tmp_path / "bad.csv")
    assert single_bad.code == 1
    lines = result.err.splitlines()
    assert lines[:3] == [
        single_bad.err.strip(),  # the same line as a single-file forward's
        f"nnctl: error: {missing}: cannot open: No such file or directory",
        f"nnctl: error: {always}: the worker running it died, and again on the retry "
        "(killed, or out of memory?)"], result.err
    assert lines[3].startswith(f"nnctl: 2 of 5 parts written, 3 failed; {2 * ROWS} rows in ")
    assert len(lines) == 4
    assert sorted(os.listdir(out)) == ["die-once.parquet", "good.parquet"]
    _single(model, once, tmp_path / "once.parquet")
    assert _table(out / "die-once.parquet").equals(_table(tmp_path / "once.parquet"))
    ran = [name for _, name in cluster.part_log()]
    # die-once: again after its death (and once more if its result was lost with the worker
    # die-always killed before nnctl had it); die-always: twice, then given up
    assert ran.count("die-once.csv") >= 2 and ran.count("die-always.csv") == 2


def test_ctrl_c_cancels_the_parts_and_leaves_no_temporary_file(cluster, model, tmp_path):
    data, out = tmp_path / "in", tmp_path / "out"
    data.mkdir()
    inputs = [_write(data, f"slow{k}.csv", _rows(k, 200)) for k in range(4)]
    cluster.part_log()
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "forward", model, *inputs, "-o",
                             f"{out}/", "--batch-size", "8", *cluster.args],
                            env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(cluster.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a batch or two into the first parts: their temporary files exist
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err == b""
    ran = cluster.part_log()
    assert ran  # parts had started (each takes 5 s: none had finished)
    assert os.listdir(out) == []
    deadline = time.monotonic() + 20  # the parts that were running stop (a loaded machine
    while not cluster.idle() and time.monotonic() < deadline:  # may take a while)
        time.sleep(0.1)
    assert cluster.idle()
    time.sleep(1.5)  # and nothing comes after
    assert os.listdir(out) == []
    if cluster.client is None:  # nnctl's own cluster: its workers are gone
        for pid, _ in ran:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


def test_dask_scheduler_address_names_the_cluster_unless_workers_is_given(dask_processes,
                                                                          model, tmp_path):
    """And relative paths reach workers whose working directory is another."""
    for k, name in enumerate("ab"):
        _write(tmp_path, f"{name}.csv", _rows(k))
    dask_processes.part_log()
    address = dask_processes.args[1]
    result = run_nnctl("forward", model, "a.csv", "b.csv", "-o", "out/", cwd=tmp_path,
                       env=_env(DASK_SCHEDULER_ADDRESS=address))
    assert result.code == 0, result.err
    assert sorted(os.listdir(tmp_path / "out")) == ["a.parquet", "b.parquet"]
    ran = dask_processes.part_log()
    assert sorted(name for _, name in ran) == ["a.csv", "b.csv"]
    assert {pid for pid, _ in ran} <= dask_processes.worker_pids()
    # the workers (alive: they just ran the parts) work in another directory than ours
    directories = {os.readlink(f"/proc/{pid}/cwd") for pid, _ in ran}
    assert directories and str(tmp_path) not in directories
    result = run_nnctl("forward", model, "a.csv", "b.csv", "-o", "out/", "--workers", "2",
                       "--scheduler", address, cwd=tmp_path)
    assert (result.code, result.err) == (2, "nnctl: error: --workers N starts a local cluster, "
                                            "--scheduler ADDRESS uses the one at ADDRESS: give "
                                            "one of them\n")


def test_workers_asks_for_a_local_cluster_even_with_dask_scheduler_address(monkeypatch):
    """Which cluster forward_parts picks (its runner replaced: nothing starts)."""
    from nnctl import distributed
    from nnctl.parts import Part

    asked = []

    def runner(model, weights, parts, options, workers, scheduler, indices):
        asked.append((workers, scheduler))
        return ((k, distributed.PartResult(part, "written")) for k, part in zip(indices, parts))

    monkeypatch.setattr(distributed, "_run_on_cluster", runner)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.5:8786")
    parts = [Part("/nowhere/a.csv", "/nowhere/out/a.parquet", "a.csv")]
    distributed.forward_parts(None, None, parts, workers=2)
    distributed.forward_parts(None, None, parts)
    assert asked == [(2, None), (None, "tcp://10.0.0.5:8786")]


def test_a_bar_counts_parts_and_rows_on_a_terminal(dask_processes, model, tmp_path):
    """stderr a terminal: the bar (parts, rows) while the run goes, then the summary line."""
    import pty
    import select

    inputs = [_write(tmp_path, f"{name}.csv", _rows(k)) for k, name in enumerate("ab")]
    main, child = pty.openpty()
    env = _env(TERM="xterm-256color", COLUMNS="100", LINES="30")
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "forward", model, *inputs, "-o",
                             f"{tmp_path}/out/", *dask_processes.args], stdin=child,
                            stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    seen, deadline = b"", time.monotonic() + 120  # a hang guard only
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 0, seen
    finally:
        proc.kill()
        os.close(main)
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))  # no styles
    assert "forward ━" in text and "0/2 parts, 0 rows" in text, text
    assert f"2/2 parts, {2 * ROWS} rows" in text, text
    assert text.splitlines()[-1].lstrip("\r").startswith(
        f"nnctl: 2 of 2 parts written; {2 * ROWS} rows in "), text


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` that run Python's multiprocessing spawn (Dask's
    worker processes; not its resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                spawned = b"spawn_main" in f.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and spawned:
            found.append(int(entry))
    return found


def _ignores_ctrl_c(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        ignored = next(line for line in f if line.startswith("SigIgn:")).split()[1]
    return bool(int(ignored, 16) & (1 << (signal.SIGINT - 1)))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_ctrl_c_while_the_local_cluster_starts_prints_nothing_and_leaves_nothing(model,
                                                                               tmp_path):
    """Ctrl-C reaches the whole foreground process group, the worker processes too, even
    while they are still importing Dask: none prints a KeyboardInterrupt traceback, and the
    cluster is stopped."""
    inputs = [_write(tmp_path, f"{name}.csv", _rows(k)) for k, name in enumerate("ab")]
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "nnctl", "forward", model, *inputs, "-o",
                             f"{out}/", "--workers", "2"], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        # the workers exist (still importing Dask) and nnctl takes Ctrl-C again
        if len(workers) == 2 and not _ignores_ctrl_c(proc.pid):
            break
        time.sleep(0.005)
    assert len(workers) == 2 and proc.poll() is None
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (130, "")
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in workers) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers)
    assert not out.exists() or os.listdir(out) == []


def test_urls_through_fsspec_on_dask(model, tmp_path):
    """memory:// is one process's: a cluster of threads in this process shares it."""
    import fsspec
    from distributed import LocalCluster

    import nnctl
    from nnctl.distributed import PartsFailed

    fs = fsspec.filesystem("memory")
    for k, name in enumerate(["a.csv", "b.csv"]):
        _write(tmp_path, name, _rows(k))
        fs.put_file(str(tmp_path / name), f"/in/{name}")
    fs.pipe_file("/in/bad.csv", b"1,2,3\n4,5\n")
    fs.pipe_file("/in/notes.txt", b"not data\n")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as local:
        with pytest.raises(PartsFailed) as failed:
            nnctl.forward_files(model, "memory://in/*.csv", "memory://out/",
                                scheduler=local.scheduler_address)
    assert failed.value.written == ["memory://out/a.parquet", "memory://out/b.parquet"]
    [failure] = failed.value.failures
    assert str(failure.error) == "memory:///in/bad.csv:2: expected 3 columns, got 2"
    assert sorted(fs.ls("/out", detail=False)) == ["/out/a.parquet", "/out/b.parquet"]
    for name in ["a", "b"]:
        _single(model, tmp_path / f"{name}.csv", tmp_path / f"{name}.parquet")
        with fs.open(f"/out/{name}.parquet") as f:
            import pyarrow.parquet as pq

            assert pq.read_table(f).equals(_table(tmp_path / f"{name}.parquet"))
    fs.rm("/in", recursive=True)
    fs.rm("/out", recursive=True)


def test_a_script_without_the_main_guard_fails_at_once_saying_so(model, tmp_path):
    """Dask's worker processes run a script's top level again (multiprocessing's spawn): the
    local cluster started there fails in them, saying why, and so does the script's."""
    _write(tmp_path, "a.csv", _rows(0))
    _write(tmp_path, "b.csv", _rows(1))
    script = tmp_path / "score.py"
    script.write_text("import nnctl\n"
                      f"nnctl.forward_files({model!r}, ['a.csv', 'b.csv'], 'out/', workers=1)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert ("nnctl.errors.ResourceError: a local Dask cluster is started from a script's top "
            "level: put the call under `if __name__ == \"__main__\":` (Dask's worker "
            "processes run the script again)") in lines, proc.stderr
    assert lines[-1] == ("nnctl.errors.ResourceError: a worker process of the local Dask "
                         "cluster ended as it started (exit status 1)"), proc.stderr


def test_one_file_to_a_directory_and_the_single_file_path_import_no_dask(model, tmp_path):
    _write(tmp_path, "x.csv", _rows(0))
    script = (
        "import sys\n"
        "from nnctl.cli.app import run\n"
        f"assert run(['forward', {model!r}, 'x.csv', '-o', 'y.csv']) == 0\n"
        f"assert run(['forward', {model!r}, 'x.csv', '-o', 'out/']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed', 'fsspec')))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
    assert _table(tmp_path / "out" / "x.parquet").num_rows == ROWS


def test_directories_and_globs_expand_to_their_data_files_sorted(tmp_path):
    from nnctl.errors import DataError
    from nnctl.parts import expand_inputs

    for name in ["b.csv", "a.parquet", "c.npy", "notes.txt", ".hidden.csv"]:
        (tmp_path / name).write_text("1,2,3\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("1,2,3\n")
    warned = []
    found = expand_inputs([str(tmp_path), f"{tmp_path}/*.csv"], warned.append)
    assert found == [str(tmp_path / n) for n in ["a.parquet", "b.csv", "c.npy", "b.csv"]]
    assert warned == [f"{tmp_path}: skipping notes.txt: not a data file nnctl reads (.csv, "
                      ".tsv, .tab, .jsonl, .ndjson, .npy, .parquet, .pq, .npz)"]
    with pytest.raises(DataError) as error:
        expand_inputs([f"{tmp_path}/*.tsv"])
    assert str(error.value) == f"{tmp_path}/*.tsv: no file matches"


def test_forward_files_returns_the_outputs_written(model, tmp_path):
    """One part and no cluster asked for: it runs in this process, without Dask."""
    import nnctl

    _write(tmp_path, "x.csv", _rows(0))
    assert nnctl.forward_files(model, tmp_path / "x.csv", tmp_path / "out") == [
        str(tmp_path / "out" / "x.parquet")]
    assert nnctl.forward_files(model, [tmp_path / "x.csv"], tmp_path / "out") == []  # up to date


def test_overwrite_and_a_newer_model_compute_parts_again(model, tmp_path):
    _write(tmp_path, "x.csv", _rows(0))
    args = ("forward", model, tmp_path / "x.csv", "-o", f"{tmp_path}/out/")
    assert run_nnctl(*args).code == 0
    assert "0 of 1 parts written, 1 skipped" in run_nnctl(*args).err
    assert "1 of 1 parts written;" in run_nnctl(*args, "--overwrite").err
    later = time.time() + 5
    os.utime(model, (later, later))
    try:
        assert "1 of 1 parts written;" in run_nnctl(*args).err
    finally:
        os.utime(model)


def test_usage_and_install_hint(model, tmp_path):
    _write(tmp_path, "a.csv", _rows(0))
    _write(tmp_path, "b.csv", _rows(1))
    result = run_nnctl("forward", model, "a.csv", "b.csv", cwd=tmp_path)
    assert (result.code, result.err) == (
        2, "nnctl: error: many input files write one output file each: give -o OUTDIR/\n")
    result = run_nnctl("forward", model, "a.csv", "-o", "y.csv", "--overwrite", cwd=tmp_path)
    assert result.code == 2
    script = ("import sys\n"
              "sys.modules['distributed'] = None\n"  # as if it were not installed
              "from nnctl.cli.app import run\n"
              f"sys.exit(run(['forward', {model!r}, 'a.csv', 'b.csv', '-o', 'out/']))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "nnctl: error: several input files run on a Dask cluster, and Dask is not installed: "
        "pip install 'nnctl[dask]' (dask[distributed] and fsspec; s3fs or gcsfs for s3:// or "
        "gs:// URLs)")
    assert not os.path.exists(tmp_path / "out" / "a.parquet")


@pytest.mark.parametrize("inputs", [["a.csv", "b.csv"], ["."], ["*.csv"]])
def test_many_inputs_to_a_data_file_name_are_refused(model, tmp_path, inputs):
    """`-o scores.csv` reads as one file: many inputs do not make a directory of that name."""
    _write(tmp_path, "a.csv", _rows(0))
    _write(tmp_path, "b.csv", _rows(1))
    result = run_nnctl("forward", model, *inputs, "-o", "scores.csv", cwd=tmp_path)
    assert (result.code, result.out, result.err) == (2, "", (
        "nnctl: error: -o scores.csv: names a data file, and many input files write one "
        "output file each into a directory: give -o OUTDIR/\n"))
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]


def test_dask_log_lines_of_the_client_stay_off_stderr_during_a_run():
    """A worker lost while its result is fetched makes Dask's client log `Couldn't gather 1
    keys, rescheduling` to stderr; nnctl retries the part and reports failures in its own one
    line each, so nothing else may reach stderr during the run, and after it Dask's logging is
    as it was (a Python API user's own Dask logs)."""
    script = ("import logging, distributed\n"
              "from nnctl.distributed import _quiet_dask_logs\n"
              "log = logging.getLogger('distributed.client')\n"
              "with _quiet_dask_logs():\n"
              "    log.warning(\"Couldn't gather 1 keys, rescheduling\")\n"
              "    log.error('a lost scheduler')\n"
              "log.warning('after the run')\n")
    result = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].endswith("after the run"), result.stderr
    assert "gather" not in result.stderr and "scheduler" not in result.stderr
