"""Where runs happen: in this process, on a local Dask cluster, or on any Dask cluster.

Each run (a grid cell, a translator variant) is one Dask task. Locally, :func:`dask_client`
starts a ``LocalCluster`` of spawned worker processes (TensorFlow and ``fork`` do not mix), one
task at a time per worker, with the backend's thread pools sized by :func:`thread_env`: to
``CELL_THREADS`` for grid cells, which a grid run in this process gets too
(:func:`pin_cell_threads`), so that a cell's figures do not depend on where it runs. Given a
scheduler address, it connects to any running Dask cluster instead: ``dask scheduler`` and
``dask worker`` started by hand, dask-jobqueue's ``SLURMCluster``, Kubernetes. This module loads
neither Dask nor a backend until it is used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .results import ResultsFile

__all__ = ["WORKERS_ENV", "CELL_THREADS", "available_cores", "default_workers", "thread_env",
           "worker_env", "pin_cell_threads",
           "dask_client", "native_stderr_hidden", "import_keras_quietly", "use_backend",
           "check_backend", "run_jobs"]

log = logging.getLogger(__name__)

def available_cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


WORKERS_ENV = "NLPIA_LSTM_WORKERS"


def default_workers() -> int:
    """Worker processes when none are asked for: ``$NLPIA_LSTM_WORKERS``, else every core.

    Every core, because on the 2-core machine this project is developed on two one-thread
    workers run a grid faster than one two-thread process (``benchmarks/README.md``).
    """
    value = os.environ.get(WORKERS_ENV, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"{WORKERS_ENV} must be a positive integer, got {value!r}")
        return int(value)
    return available_cores()


# A cell's figures depend on its backend's thread count: BiRNN(10), seed 0, gave val_acc 0.7998
# either way but acc 0.8102 on two TensorFlow threads and 0.8105 on one (benchmarks/README.md).
# One thread a cell is also the fastest way to run a grid on the CPU: one worker per core.
CELL_THREADS = 1


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that size TensorFlow's, JAX's and OpenMP's thread pools."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "XLA_FLAGS": (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                      f"intra_op_parallelism_threads={threads}"),
    }


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a local worker: its thread pools, and Dask's profiler off.

    The profiler samples the task thread's stack every 10 ms. A Keras training step is a deep
    Python stack run thousands of times an epoch, and sampling it held the interpreter often
    enough to make a table cell take 1.6 times as long (``benchmarks/README.md``).
    """
    return {**thread_env(threads), "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}


def pin_cell_threads() -> None:
    """Give this process's backend the thread pools of a local worker, ``CELL_THREADS``.

    Call it before the backend loads: it sets the variables of :func:`thread_env` that are not
    set already (a variable you set yourself wins). A backend already loaded (a notebook that
    imported Keras, a test session) keeps its pools, and the log says so at INFO level.
    """
    loaded = [name for name in ("tensorflow", "jax", "torch") if name in sys.modules]
    if loaded:
        log.info("%s is already loaded with its own thread pools: cells run in this process "
                 "may not give the figures of a one-thread worker", loaded[0])
        return
    for name, value in thread_env(CELL_THREADS).items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None,
                threads: int | None = None) -> Iterator:
    """A Dask ``Client``: on a new local cluster of ``workers`` processes, or at ``scheduler``.

    Parameters
    ----------
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    threads : int, optional
        Backend threads of each local worker: grid cells ask for ``CELL_THREADS``. By default
        the workers share the cores, ``cores // workers`` threads each (at least one).

    Each worker of a local cluster runs one task at a time. Workers of a cluster given by
    ``scheduler`` keep the settings they were started with.
    """
    from distributed import Client, LocalCluster

    dashboard = ":0" if importlib.util.find_spec("bokeh") else None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   env=worker_env(threads or max(1, available_cores() // workers)),
                                   dashboard_address=dashboard,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
        raise ConfigError(f"cannot reach {where} ({exc})") from exc
    try:
        n = len(client.nthreads())
        where = scheduler or f"a local cluster of {workers} processes"
        log.info("running on %s (%d workers)%s", where, n,
                 f"; dashboard: {client.dashboard_link}" if dashboard or scheduler else "")
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the block; replay it if the block fails.

    Native libraries write to the descriptor, not to ``sys.stderr``, so only this reaches them.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to keep quiet
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            os.write(2, captured.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_keras_quietly() -> None:
    """Import Keras where a run is about to use it (a worker process, usually).

    TensorFlow's native libraries print start-up lines (oneDNN, CUDA probing) while they load,
    before they read ``TF_CPP_MIN_LOG_LEVEL``. When that variable asks for quiet (the
    ``nlpia-lstm`` command sets it unless ``--verbose``, and local workers inherit it), those
    lines are hidden too; when it does not, they are shown as usual.
    """
    if "keras" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        return
    with native_stderr_hidden():
        import keras  # noqa: F401

        # keras.utils.set_random_seed imports TensorFlow, when installed, on every backend.
        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401


def use_backend(backend: str | None) -> str:
    """Have Keras run on ``backend`` here and in the local workers started later; return it.

    With ``None``, whatever Keras is set to (``KERAS_BACKEND`` or ``~/.keras/keras.json``) is
    used, and Keras is imported to ask it. Otherwise ``KERAS_BACKEND`` is set for this process,
    whose workers inherit it; a process that has already imported Keras on another backend
    cannot switch, and gets a :class:`ConfigError` saying so.
    """
    if backend is None or "keras" in sys.modules:
        import_keras_quietly()
        import keras

        if backend not in (None, keras.backend.backend()):
            raise ConfigError(f"this experiment runs on the {backend} backend, but Keras was "
                              f"imported on {keras.backend.backend()} here: set "
                              f"KERAS_BACKEND={backend} before importing it")
        return keras.backend.backend()
    os.environ["KERAS_BACKEND"] = backend
    return backend


def check_backend(backend: str | None) -> None:
    """Refuse to run a cell on a worker whose Keras runs on another backend than ``backend``."""
    import keras

    if backend is not None and keras.backend.backend() != backend:
        raise ConfigError(f"a Dask worker runs Keras on {keras.backend.backend()}, the "
                          f"experiment on {backend}: start the workers with "
                          f"KERAS_BACKEND={backend}")


def run_jobs(
    jobs: list[tuple[Hashable, dict]],
    function: Callable,
    args: tuple,
    *,
    results: ResultsFile,
    is_done: Callable[[dict, set], bool],
    claim_row: Callable[[dict], dict] = lambda row: row,
    client=None,
    remote_args: tuple = (),
    name: Callable[[Hashable], str] = str,
    save_paths: dict | None = None,
    verbose: int = 0,
) -> Iterator[tuple[Hashable, dict, dict | None]]:
    """Run ``function(job, *args, save_path=...)`` once for each job that is not done yet.

    Each job is claimed first (:meth:`~nlpia_lstm.results.ResultsFile.claim` of
    ``claim_row(row)``), so that another process sharing ``results`` never runs it too; jobs it
    holds are waited for. Jobs run in this process, one after another, or with ``client`` as
    Dask tasks, which get ``remote_args`` (data already scattered to the workers) instead of
    ``args``. Yields ``(job, row, result)`` as each job finishes, and ``(job, row, None)`` for a
    job another process finished; a job's claim is let go once the caller has taken its result,
    so the caller writes its rows first.
    """
    from distributed import as_completed

    save_paths = save_paths or {}
    pending = list(jobs)
    while pending:
        claimed, waiting = [], []
        for job, row in pending:
            lock = results.claim(claim_row(row))
            (claimed if lock else waiting).append((job, row, lock))
        if not claimed:
            log.info("%d run(s) are being made by another process; waiting for them",
                     len(waiting))
            results.claim(claim_row(waiting[0][1]), wait=True).release()
        locks = {job: lock for job, _, lock in claimed}
        rows = {job: row for job, row, _ in claimed}
        try:
            if client is None:
                for job in rows:
                    log.info("%s: training", name(job))
                    result = function(job, *args, verbose=verbose, save_path=save_paths.get(job))
                    yield job, rows[job], result
                    locks.pop(job).release()
            else:
                futures = {}
                for job in rows:
                    log.info("%s: submitted", name(job))
                    futures[client.submit(function, job, *remote_args, pure=False,
                                          save_path=save_paths.get(job),
                                          key=f"{name(job)}-{os.getpid()}")] = job
                for future in as_completed(futures):
                    job = futures[future]
                    yield job, rows[job], future.result()
                    locks.pop(job).release()
        finally:
            for lock in locks.values():
                lock.release()
        done = results.finished_keys()
        for job, row, _ in waiting:
            if is_done(row, done):
                yield job, row, None
        pending = [(job, row) for job, row, _ in waiting if not is_done(row, done)]
