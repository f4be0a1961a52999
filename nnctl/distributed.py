"""Many files through a model, one output file each, on a Dask cluster (`nnctl[dask]`).

    results = forward_parts(model, weights, nnctl.parts.plan(["data/"], "out/"), workers=4)

(nnctl.forward_files is the same for the Python API, nnctl.cli.forward_many for the CLI.)

Each part (one input file -> one output file) is produced by nnctl.pipeline.forward_file, the
streaming engine of a single-file forward: the same numbers, the same error messages, memory
bounded by the batch on every worker. The model and its weights go to the cluster once (a
task whose result the workers share), not once per part.

Where the parts run: on a local Dask cluster of worker processes started and stopped here
(`workers`, default the number of cores), or on the cluster at `scheduler` (else
$DASK_SCHEDULER_ADDRESS), whose workers have nnctl installed. A single part with neither runs
in this process, without importing Dask.

Nothing lost, nothing twice:
- every output is written atomically (a hidden temporary name in OUTDIR, then a rename; on an
  object store through fsspec, S3 or GCS, the "rename" is a copy and a delete: the output
  appears whole, as those stores write objects whole, but a run killed between the two
  leaves the temporary object);
- parts whose output is complete and newer than their input and the model are skipped
  (`overwrite` computes them again);
- a bad input file fails its part alone: the other parts complete, and the failures are raised
  together at the end (PartsFailed);
- Ctrl-C (or SIGTERM) cancels the parts not started, tells the running ones to stop after
  their current batch, and removes the temporary files of parts that did not finish;
- a worker that dies mid-part has its part run again on another worker once: on the local
  cluster, the scheduler allows one failure (distributed.scheduler.allowed-failures = 1) and
  gives each worker only the parts it runs (worker-saturation = 1.0); on a cluster of your
  own, its scheduler's settings decide (Dask's defaults are 3 and 1.1: start it with
  DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 and
  DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0 for the same rules).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from nnctl.errors import DataError, FileError, NnctlError, ResourceError, UsageError
from nnctl.parts import Part, is_url, local_path

INSTALL_HINT = ("pip install 'nnctl[dask]' (dask[distributed] and fsspec; s3fs or gcsfs for "
                "s3:// or gs:// URLs)")
ALLOWED_FAILURES = 1     # a part is run again once when the worker running it dies
# A worker holds only the parts it runs (Dask's default, 1.1, queues one more on a worker of
# one thread): a part waits for the first free worker rather than behind a long one, and a
# worker that dies takes no waiting part down with it (each would count as a failure).
WORKER_SATURATION = 1.0
CANCEL_CHECK_SECONDS = 0.5  # how often a running part asks whether the run was cancelled
CANCEL_GRACE_SECONDS = 5.0  # how long a cancelled run waits for running parts to stop
WORKERS_START_SECONDS = 120.0  # how long the local cluster's workers may take to start


@dataclass
class PartResult:
    """What became of one part: `status` is written, skipped or failed."""
    part: Part
    status: str
    rows: int = 0
    seconds: float = 0.0
    error: NnctlError | None = None
    warnings: list[str] = field(default_factory=list)


class PartsFailed(DataError):
    """Some input files could not be forwarded; the other parts were completed.
    `failures`: their PartResults (each with its error); `written`: the outputs made."""

    def __init__(self, failures: list[PartResult], written: list[str]):
        names = ", ".join(r.part.name for r in failures[:3])
        more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
        super().__init__(f"{len(failures)} input file{'s' if len(failures) > 1 else ''} "
                         f"failed: {names}{more}")
        self.failures, self.written = failures, written


class Cancelled(BaseException):
    """Raised inside a running part when its run was cancelled (Ctrl-C on the client)."""


# ---------------------------------------------------------------------------------------------
# The client side: which parts run, where, and what became of them

def forward_parts(model, weights, parts: list[Part], *, model_time: float | None = None,
                  overwrite: bool = False, workers: int | None = None,
                  scheduler: str | None = None,
                  on_part: Callable[[PartResult], None] | None = None,
                  **options) -> list[PartResult]:
    """Run each part (nnctl.parts.plan) and return its PartResult, in the parts' order.

    options: forward_file's (output_format, input_format, batch_size, header, taps, engine).
    on_part: told of each part as it ends (skipped parts first), for a progress bar.
    """
    from nnctl.parts import up_to_date

    if workers is not None and scheduler is not None:
        raise UsageError("workers (a local cluster's processes) and scheduler (a cluster's "
                         "address) exclude each other: give one of them")
    options = {k: v for k, v in options.items() if v is not None}
    results: dict[int, PartResult] = {}
    todo = []
    for k, part in enumerate(parts):
        if not overwrite and up_to_date(part, model_time):
            results[k] = PartResult(part, "skipped")
            if on_part:
                on_part(results[k])
        else:
            todo.append(k)
    if todo:
        if scheduler is None and workers is None:  # --workers asks for a local cluster
            scheduler = _configured_scheduler()
        if scheduler is None and workers is None and len(todo) == 1:
            run = _run_here
        else:
            run = _run_on_cluster
        for k, result in run(model, weights, [parts[k] for k in todo], options, workers,
                             scheduler, todo):
            results[k] = result
            if on_part:
                on_part(result)
    return [results[k] for k in range(len(parts))]


def _configured_scheduler() -> str | None:
    return os.environ.get("DASK_SCHEDULER_ADDRESS") or None


def _run_here(model, weights, parts, options, workers, scheduler, indices):
    """One part in this process: no Dask."""
    for k, part in zip(indices, parts):
        yield k, _finished(part, run_part(model, weights, part, options))


def _run_on_cluster(model, weights, parts, options, workers, scheduler, indices):
    """The parts as Dask tasks, yielded as they end; Ctrl-C cancels and cleans up."""
    import uuid

    from nnctl.parts import remove_temporaries

    Client, as_completed, KilledWorker, Event = _dask()
    token = uuid.uuid4().hex[:12]
    try:
        with _quiet_dask_logs(), _client(scheduler, workers) as client:
            cancel = Event(f"nnctl-cancel-{token}", client=client)
            futures = {}
            try:
                with _large_model_unremarked():
                    # the model travels once, as a task of its own: workers fetch its result
                    # from each other, and the scheduler can make it again if every holder dies
                    shipped = client.submit(_shipped, (model, weights),
                                            key=f"nnctl-model-{token}", pure=False)
                    for k, part in zip(indices, parts):
                        future = client.submit(_part_task, shipped, part, options, cancel.name,
                                               key=f"nnctl-part-{token}-{k}", pure=False)
                        futures[future] = (k, part)
                for future in as_completed(list(futures)):
                    k, part = futures.pop(future)
                    result = _collect(future, part, KilledWorker)
                    # let go of it: a finished part whose worker dies later is not run again
                    future.release()
                    yield k, result
            except BaseException:  # Ctrl-C, SIGTERM, a lost scheduler: stop the cluster's work
                _cancel(client, cancel, futures, parts)
                raise
    finally:
        remove_temporaries(parts)  # of a worker that died mid-part, or was stopped


def _collect(future, part: Part, KilledWorker) -> PartResult:
    try:
        outcome = future.result()
    except KilledWorker:
        return PartResult(part, "failed", error=ResourceError(
            "the worker running it died, and again on the retry (killed, or out of memory?)",
            source=part.name))
    except Exception as exc:  # noqa: BLE001 - the cluster lost it: this part fails
        return PartResult(part, "failed", error=NnctlError(
            f"lost on the cluster ({type(exc).__name__}: {exc})", source=part.name))
    return _finished(part, outcome)


def _finished(part: Part, outcome) -> PartResult:
    status, value, seconds, warnings = outcome
    if status == "written":
        return PartResult(part, "written", rows=value, seconds=seconds, warnings=warnings)
    if value.source is not None and value.source in (part.source, local_path(part.source)):
        value.source = part.name  # say the file as the user gave it
    return PartResult(part, "failed", error=value, seconds=seconds, warnings=warnings)


def _cancel(client, cancel, futures, parts) -> None:
    """Tell running parts to stop, drop the rest, and wait (briefly) for their temporaries."""
    from nnctl.parts import remove_temporaries

    try:  # the parts waiting go first, so that none starts once the running ones stop; the
        # event stays set (it is this run's alone): a part that starts late stops at once
        client.cancel(list(futures), force=True)
        cancel.set()
    except Exception:  # noqa: BLE001 - the scheduler may be gone: clean up what we can
        pass
    deadline = time.monotonic() + CANCEL_GRACE_SECONDS
    while time.monotonic() < deadline and _temporaries_left(parts):
        time.sleep(0.1)
    remove_temporaries(parts)


def _temporaries_left(parts) -> bool:
    from nnctl.parts import temporary_prefix

    for part in parts:
        if is_url(part.dest):
            return False  # a remote store: not polled, swept once
        directory, prefix = os.path.dirname(part.dest), temporary_prefix(part.dest)
        try:
            if any(n.startswith(prefix) and n.endswith(".tmp") for n in os.listdir(directory)):
                return True
        except OSError:
            pass
    return False


@contextlib.contextmanager
def _large_model_unremarked():
    """Dask warns on stderr (UserWarning, six lines) when a task it is sent weighs more than
    10 MB, advising to send big data once rather than with every task: a model of 2.5 million
    weights is that big, and is sent once already (the task all parts depend on)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
        yield


@contextlib.contextmanager
def _quiet_dask_logs():
    """Dask's own log lines in this (the client's) process stay off stderr while nnctl runs:
    what they report (a worker lost, a result fetched again) nnctl handles and reports as its
    one line per failed part; a warning printed on the side would break that contract."""
    import logging

    handlers = logging.getLogger("distributed").handlers
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None):
    """A Dask client: of the cluster at `scheduler`, or of a local cluster started (and
    stopped) here with `workers` processes of one thread each."""
    import logging
    import multiprocessing

    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ResourceError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") \
                from None
        with client:
            yield client
        return
    count = workers or os.cpu_count() or 1
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # a worker process re-running the top of the user's script, where the call is
        raise ResourceError("a local Dask cluster is started from a script's top level: put "
                            "the call under `if __name__ == \"__main__\":` (Dask's worker "
                            "processes run the script again)")
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": WORKER_SATURATION}):
        # random ports for the HTTP servers (Dask's 8787 may be taken: it says so on stderr);
        # the workers are started below, deaf to Ctrl-C
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                               dashboard_address=":0", worker_dashboard_address=":0",
                               silence_logs=logging.CRITICAL,
                               preload=[*dask.config.get("distributed.worker.preload"),
                                        __name__])  # dask_setup below
        try:
            _wait_for_workers(cluster, _start_workers(cluster, count))
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()


def _start_workers(cluster, count: int) -> list:
    """Start the local cluster's worker processes with Ctrl-C ignored from their first
    instruction. A Ctrl-C at a terminal reaches the whole process group: a worker still
    importing Dask would print a KeyboardInterrupt traceback and die (dask_setup makes it
    ignore Ctrl-C only once it runs); Python keeps ignoring SIGINT in a process started with
    it ignored. So this process ignores it while the workers are forked, then takes it back
    (a Ctrl-C in those few milliseconds is lost; one after, while the workers start, stops
    the run and the cluster). The processes started, as multiprocessing.Process objects."""
    import multiprocessing
    import signal
    import threading

    seen: dict = {}  # pid: Process (active_children forgets a child once it ended)

    def started() -> list:
        seen.update((child.pid, child) for child in multiprocessing.active_children()
                    if child.pid not in before)
        return list(seen.values())

    before = {child.pid for child in multiprocessing.active_children()}
    # signals are the main thread's: elsewhere, dask_setup alone protects the workers
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster.scale(count)  # forks the workers from Dask's threads, soon after
        deadline = time.monotonic() + 10.0  # forking takes milliseconds: this is a bound only
        while len(started()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    return started()


def _wait_for_workers(cluster, processes: list) -> None:
    """Wait (the cluster's own wait: a Ctrl-C in it leaves a cluster that closes cleanly) until
    the workers are up; one error line when a worker process ended before, or they take too
    long."""
    count = len(cluster.worker_spec)
    deadline = time.monotonic() + WORKERS_START_SECONDS
    while True:
        try:
            cluster.wait_for_workers(count, timeout=0.5)
            return
        except TimeoutError:
            pass
        ended = [process.exitcode for process in processes if process.exitcode is not None]
        if ended:
            raise ResourceError(f"a worker process of the local Dask cluster ended as it "
                                f"started (exit status {ended[0]})")
        if time.monotonic() > deadline:
            raise ResourceError(f"the local Dask cluster's {count} worker processes did not "
                                f"start in {WORKERS_START_SECONDS:.0f} s")


def dask_setup(worker) -> None:
    """Run by Dask in each worker of nnctl's local cluster (a preload). Ctrl-C at a terminal
    reaches the whole process group, the workers too: the client stops them and cleans up,
    so they ignore it rather than print a traceback each. The workers _start_workers starts
    ignore it from the start already; this covers those Dask starts again after a worker
    died (a part that a Ctrl-C reaches all the same ends as cancelled: see _part_task)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _dask():
    try:
        from distributed import Client, Event, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise ResourceError(f"several input files run on a Dask cluster, and Dask is not "
                            f"installed: {INSTALL_HINT}") from None
    return Client, as_completed, KilledWorker, Event


# ---------------------------------------------------------------------------------------------
# The worker side: one part

def _shipped(model_and_weights):
    return model_and_weights


def _part_task(shipped, part: Part, options: dict, cancel_name: str):
    """A Dask task: run one part, stopping early when the run is cancelled."""
    from nnctl import forward

    forward.one_slice_at_a_time()  # the worker has one core: its siblings have the others
    model, weights = shipped
    try:
        return run_part(model, weights, part, options, _cancel_watch(cancel_name))
    except KeyboardInterrupt:  # Ctrl-C at the terminal of a local cluster: the client stops
        return "cancelled", 0, 0.0, []  # the run (Dask would let it end the worker)
    except Exception as exc:  # noqa: BLE001 - a bug of ours: this part fails, the run goes on
        # (returned, not raised: Dask could not always ship an exception's traceback back)
        return "failed", NnctlError(f"internal error on the worker: {type(exc).__name__}: "
                                    f"{exc}", source=part.name), 0.0, []


def _cancel_watch(name: str) -> Callable[[], None]:
    """A check that raises Cancelled once the run's Event is set (asked at most every
    CANCEL_CHECK_SECONDS: it is a message to the scheduler)."""
    from distributed import Event

    event, last = Event(name), [0.0]

    def check() -> None:
        now = time.monotonic()
        if now - last[0] >= CANCEL_CHECK_SECONDS:
            last[0] = now
            if event.is_set():
                raise Cancelled()

    return check


def run_part(model, weights, part: Part, options: dict, check: Callable[[], None] = None):
    """(status, rows or error, seconds, warnings) of one part: "written" with the rows,
    "failed" with the NnctlError (one bad file is not a reason to stop the run), or
    "cancelled" when `check` raised Cancelled."""
    from nnctl import pipeline

    check = check or (lambda: None)
    warnings: list[str] = []
    start = time.monotonic()

    @contextlib.contextmanager
    def progress(reader):
        yield check

    try:
        check()
        with _local_input(part.source) as source, _atomic_output(part.dest) as dest:
            rows = pipeline.forward_file(model, weights, source, dest, progress=progress,
                                         warn=lambda text: warnings.append(text), **options)
    except Cancelled:  # its output file was removed on the way out; nobody waits for this
        return "cancelled", 0, time.monotonic() - start, warnings
    except NnctlError as exc:
        return "failed", _named(exc, part), time.monotonic() - start, warnings
    except OSError as exc:
        where = exc.filename or part.name
        error = NnctlError(exc.strerror or str(exc), source=str(where))
        return "failed", _named(error, part), time.monotonic() - start, warnings
    return "written", rows, time.monotonic() - start, warnings


def _named(exc: NnctlError, part: Part) -> NnctlError:
    """An error about the local copy of a remote file names the URL."""
    if exc.source is not None and os.path.basename(str(exc.source)).startswith("nnctl-in-"):
        exc.source = part.name
    return exc


@contextlib.contextmanager
def _local_input(source: str):
    """A local path to read `source` from: itself, or a copy of a remote file in a
    temporary directory (readers need a file they can seek and map)."""
    path = local_path(source)
    if path is not None:
        yield path
        return
    with _scratch_file(source, prefix="nnctl-in-") as (fs, inner, copy):
        try:
            fs.get_file(inner, copy)
        except FileNotFoundError:
            raise FileError("cannot open: No such file or directory", source=source) from None
        yield copy


@contextlib.contextmanager
def _atomic_output(dest: str):
    """A local path to write `dest` to: itself (the writer is atomic), or a local file that
    is then uploaded under a temporary name and moved to `dest`."""
    path = local_path(dest)
    if path is not None:
        yield path
        return
    import secrets

    from nnctl.parts import temporary_prefix

    with _scratch_file(dest) as (fs, inner, local):
        yield local
        temporary = (inner.rsplit("/", 1)[0] + "/" + temporary_prefix(inner)
                     + f"{os.getpid()}.{secrets.token_hex(8)}.tmp")
        try:
            fs.put_file(local, temporary)
            fs.mv(temporary, inner)
        except BaseException:
            with contextlib.suppress(Exception):
                fs.rm(temporary)
            raise


@contextlib.contextmanager
def _scratch_file(url: str, prefix: str = ""):
    """(file system, path in it, a local file name for it) for a remote URL: the local file
    (`prefix` + the URL's base name) is in a temporary directory, removed afterwards."""
    from nnctl.parts import filesystem

    fs, inner = filesystem(url)
    directory = tempfile.mkdtemp(prefix="nnctl-part-")
    try:
        yield fs, inner, os.path.join(directory, prefix + os.path.basename(inner))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
