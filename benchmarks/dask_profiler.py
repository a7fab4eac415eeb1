"""Time one grid cell on a one-worker local Dask cluster, with Dask's profiler on or off.

    python benchmarks/dask_profiler.py on     # the worker samples its task's stack every 10 ms
    python benchmarks/dask_profiler.py off

Uses the first seed of ``benchmarks/executors.toml``: BiRNN 1 unit first (its time includes the
worker's Keras import), then BiRNN 5 units, whose training time is printed. Inputs come from the
cache (run the executors grid once first).
"""

from __future__ import annotations

import sys
import time

if __name__ == "__main__":  # the workers are spawned: they import this file
    import dask
    from distributed import Client, LocalCluster

    from nlpia_lstm.cluster import thread_env
    from nlpia_lstm.config import load_config
    from nlpia_lstm.grid import plan, train_one
    from nlpia_lstm.inputs import prepare_inputs

    profile = sys.argv[1] == "on"
    exp = load_config("benchmarks/executors.toml")
    prepared = prepare_inputs(exp)
    cells = {(c.arch, c.units): c for c in plan(exp)}
    with dask.config.set({"distributed.worker.profile.enabled": profile}), LocalCluster(
            n_workers=1, threads_per_worker=1, env=thread_env(1),
            dashboard_address=None) as cluster, Client(cluster) as client:
        remote = client.scatter(prepared, broadcast=True, hash=False)
        client.submit(train_one, cells["birnn", 1], remote, exp.training, pure=False).result()
        started = time.perf_counter()
        row = client.submit(train_one, cells["birnn", 5], remote, exp.training,
                            pure=False).result()
    print(f"profiler {'on' if profile else 'off'}: BiRNN 5 trained in {row['train_seconds']} s "
          f"({time.perf_counter() - started:.1f} s wall)")
