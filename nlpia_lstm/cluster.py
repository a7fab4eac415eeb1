"""Where runs happen: in this process, on a local Dask cluster, or on any Dask cluster.

Each run (a grid cell, a translator variant) is one Dask task. Locally, :func:`dask_client`
starts a ``LocalCluster`` of spawned worker processes (TensorFlow and ``fork`` do not mix), one
task at a time per worker, with the backend's thread pools sized by :func:`thread_env` so that
workers do not fight over the cores. Given a scheduler address, it connects to any running Dask
cluster instead: ``dask scheduler`` and ``dask worker`` started by hand, dask-jobqueue's
``SLURMCluster``, Kubernetes. This module loads neither Dask nor a backend until it is used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from .errors import ConfigError

__all__ = ["WORKERS_ENV", "available_cores", "default_workers", "thread_env", "dask_client",
           "native_stderr_hidden", "import_keras_quietly"]

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


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that size TensorFlow's, JAX's and OpenMP's thread pools."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "XLA_FLAGS": (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                      f"intra_op_parallelism_threads={threads}"),
    }


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator:
    """A Dask ``Client``: on a new local cluster of ``workers`` processes, or at ``scheduler``.

    Parameters
    ----------
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.

    A local cluster's workers share the cores: each gets ``cores // workers`` backend threads
    (at least one) and runs one task at a time. Workers of a cluster given by ``scheduler`` keep
    the settings they were started with.
    """
    from distributed import Client, LocalCluster

    dashboard = ":0" if importlib.util.find_spec("bokeh") else None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   env=thread_env(max(1, available_cores() // workers)),
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
